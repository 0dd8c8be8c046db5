"""The one SIGNALBUS setting, read and checked once (again after a change): unknown keys
and bad values are ImproperlyConfigured with the key named, so a typo fails at start-up
instead of silently forwarding nothing.

    SIGNALBUS = {
        "BROKER": "tcp://127.0.0.1:5555",  # the broker's ingest; default $SIGNALBUS_INGEST
        "SOURCE": "accounts",              # this service's name; default $SIGNALBUS_SOURCE or "django"
        "SENDERS": ["auth.User"],          # model labels whose model signals go out, or "*" (the default:
                                           # every model but EXCLUDE_SENDERS and secret-looking ones)
        "EXCLUDE_SENDERS": [...],          # with "*": labels or "app.*" never sent (DEFAULT_EXCLUDED_SENDERS)
        "SIGNALS": [...],                  # which signals go out (default: DEFAULT_SIGNALS), or "*"
        "CUSTOM_SIGNALS": {"order_paid": "shop.signals.order_paid"},  # name -> Signal's dotted path
        "EXCLUDE_FIELDS": {"auth.User": ["password"]},  # never snapshotted (this is the default)
        "MAX_UNCONFIRMED": 10000,          # events held while the broker is away; past it: dropped, logged
        "RESEND_INTERVAL": 2.0,            # seconds without a confirm before re-sending
        "CLOSE_TIMEOUT": 5.0,              # seconds the process waits at exit for confirms
        "ENABLED": True,                   # False: connect nothing
        "OUTBOX": True,                    # events go into the outbox table in the save's transaction
                                           # (default: True when DATABASES has a default database)
        "OUTBOX_RELAY": "thread",          # "thread": each process relays; "command": only manage.py signalbus_relay
        "OUTBOX_BATCH": 500,               # rows numbered and sent at once by the relay
        "OUTBOX_POLL_INTERVAL": 0.2,       # seconds between looks at the table for other processes' rows
        "OUTBOX_LEASE": 10.0,              # seconds a relay holds the right to publish without renewing it
        "EAGER": False,                    # True: receivers of this process run on commit, no broker (tests)
        "RECEIVERS": ["myapp.receivers"],  # modules imported at start-up (their @signalbus.receiver)
        "CURVE": {                         # CURVE to the broker (signalbus.curve); each defaults to its
            "SERVER_KEY": "broker.pub",    # $SIGNALBUS_CURVE_SERVER_KEY / $SIGNALBUS_CURVE_KEY_FILE; the
            "KEY_FILE": "/etc/accounts.key",  # broker's public key (Z85 or .pub), this service's secret (0600)
        },
    }
"""
import os
import re
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from signalbus import curve
from signalbus.endpoints import DEFAULT_INGEST, INGEST_ENV, SOURCE_ENV, from_env, validate_endpoint
from signalbus.errors import SignalbusError
from signalbus.topics import validate_sender, validate_signal

MODEL_SIGNALS = ("pre_save", "post_save", "pre_delete", "post_delete", "m2m_changed")
AUTH_SIGNALS = ("user_logged_in", "user_logged_out", "user_login_failed")
ALL_SIGNALS = MODEL_SIGNALS + AUTH_SIGNALS
# pre_save and pre_delete double the traffic of their post_ twins: asked for, not default.
DEFAULT_SIGNALS = ("post_save", "post_delete", "m2m_changed") + AUTH_SIGNALS
# With SENDERS "*": models that carry session keys, credentials or Django's bookkeeping.
DEFAULT_EXCLUDED_SENDERS = ("sessions.*", "admin.LogEntry", "contenttypes.*", "auth.Permission", "migrations.*")
# ...and any model whose name looks like it holds a secret (authtoken.Token, OTPDevice, ...).
_SECRET_LOOKING = re.compile(r"secret|token|passw|credential|otp|apikey|api_key|session|nonce", re.IGNORECASE)
_OWN_APP = "signalbus_django."  # the outbox's own rows never go out
_KEYS = {"EXCLUDE_SENDERS", "BROKER", "SOURCE", "SENDERS", "SIGNALS", "CUSTOM_SIGNALS", "EXCLUDE_FIELDS", "MAX_UNCONFIRMED",
         "RESEND_INTERVAL", "CLOSE_TIMEOUT", "ENABLED", "OUTBOX", "OUTBOX_RELAY", "OUTBOX_BATCH",
         "OUTBOX_POLL_INTERVAL", "OUTBOX_LEASE", "EAGER", "RECEIVERS", "CURVE"}
_CURVE_KEYS = ("SERVER_KEY", "KEY_FILE")
RELAY_MODES = ("thread", "command")


def _fail(key, message):
    return ImproperlyConfigured("SIGNALBUS[%r]: %s" % (key, message))


def _labels(key, value, allow_star):
    if allow_star and value == "*":
        return "*"
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise _fail(key, "expected a list of names%s, got %r" % (' or "*"' if allow_star else "", value))
    return tuple(value)


class Config:
    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ImproperlyConfigured("SIGNALBUS must be a dict, got %r" % (raw,))
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise ImproperlyConfigured("SIGNALBUS: unknown keys %s (known: %s)" % (unknown, sorted(_KEYS)))
        self.enabled = bool(raw.get("ENABLED", True))
        self.broker = raw.get("BROKER") or from_env(INGEST_ENV, DEFAULT_INGEST)
        try:
            validate_endpoint(self.broker)
        except SignalbusError as error:
            raise _fail("BROKER", error) from None
        self.source = raw.get("SOURCE") or from_env(SOURCE_ENV, "django")
        self.senders = _labels("SENDERS", raw.get("SENDERS", "*"), True)
        if self.senders != "*":
            for label in self.senders:
                try:
                    validate_sender(label)
                except SignalbusError as error:
                    raise _fail("SENDERS", error) from None
        self.exclude_senders = _labels("EXCLUDE_SENDERS", raw.get("EXCLUDE_SENDERS", DEFAULT_EXCLUDED_SENDERS), False)
        signals = _labels("SIGNALS", raw.get("SIGNALS", DEFAULT_SIGNALS), True)
        self.signals = ALL_SIGNALS if signals == "*" else signals
        for name in self.signals:
            if name not in ALL_SIGNALS:
                raise _fail("SIGNALS", "%r is not one of %s (custom signals go in CUSTOM_SIGNALS)"
                            % (name, ", ".join(ALL_SIGNALS)))
        self.custom_signals = {}
        custom = raw.get("CUSTOM_SIGNALS", {})
        if not isinstance(custom, dict):
            raise _fail("CUSTOM_SIGNALS", "expected a dict of name -> dotted path of a Signal")
        for name, path in custom.items():
            try:
                validate_signal(name)
            except SignalbusError as error:
                raise _fail("CUSTOM_SIGNALS", error) from None
            try:
                self.custom_signals[name] = import_string(path) if isinstance(path, str) else path
            except ImportError as error:
                raise _fail("CUSTOM_SIGNALS", "cannot import %r for %r: %s" % (path, name, error)) from None
        exclude = raw.get("EXCLUDE_FIELDS", {"auth.User": ["password"]})
        if not isinstance(exclude, dict):
            raise _fail("EXCLUDE_FIELDS", "expected a dict of model label -> field names")
        self.exclude_fields = {label: frozenset(_labels("EXCLUDE_FIELDS", names, False))
                               for label, names in exclude.items()}
        self.max_unconfirmed = self._number(raw, "MAX_UNCONFIRMED", 10_000, int, 1)
        self.resend_interval = self._number(raw, "RESEND_INTERVAL", 2.0, (int, float), 0.001)
        self.close_timeout = self._number(raw, "CLOSE_TIMEOUT", 5.0, (int, float), 0)
        self.eager = bool(raw.get("EAGER", False))
        self.outbox = bool(raw.get("OUTBOX", _has_database())) and not self.eager
        self.outbox_relay = raw.get("OUTBOX_RELAY", "thread")
        if self.outbox_relay not in RELAY_MODES:
            raise _fail("OUTBOX_RELAY", "expected one of %s, got %r" % (", ".join(RELAY_MODES), self.outbox_relay))
        self.outbox_batch = self._number(raw, "OUTBOX_BATCH", 500, int, 1)
        self.outbox_poll_interval = self._number(raw, "OUTBOX_POLL_INTERVAL", 0.2, (int, float), 0.001)
        self.outbox_lease = self._number(raw, "OUTBOX_LEASE", 10.0, (int, float), 0.1)
        self.receivers = _labels("RECEIVERS", raw.get("RECEIVERS", ()), False)
        self.curve_server_key, self.curve_key_file = self._curve(raw.get("CURVE", {}))

    def _curve(self, raw):
        """(server key, key file) of SIGNALBUS["CURVE"], each else from the environment;
        checked (the files read) when the bus is enabled, so that a bad key fails at start."""
        if not isinstance(raw, dict) or set(raw) - set(_CURVE_KEYS):
            # Not the value: it may hold a key.
            raise _fail("CURVE", "expected a dict with SERVER_KEY (the broker's public key or its .pub file) and "
                        "KEY_FILE (this service's secret key file), got %s" % (
                            "keys %s" % sorted(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__))
        for key in _CURVE_KEYS:
            if raw.get(key) is not None and not isinstance(raw[key], (str, os.PathLike)):
                raise _fail("CURVE", "%s: expected a string, got %s" % (key, type(raw[key]).__name__))
        server_key, key_file = curve.settings_from_env(os.fspath(raw.get("SERVER_KEY") or ""),
                                                       os.fspath(raw.get("KEY_FILE") or ""))
        if self.enabled and not self.eager:
            try:
                curve.load_client(server_key, key_file,
                                  names=tuple('SIGNALBUS["CURVE"]["%s"]' % key for key in _CURVE_KEYS))
            except SignalbusError as error:
                raise _fail("CURVE", error) from None
        return server_key, key_file

    @staticmethod
    def _number(raw, key, default, kind, minimum):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
            raise _fail(key, "expected a number of at least %s, got %r" % (minimum, value))
        return value

    def forwards(self, signal):
        return self.enabled and signal in self.signals

    def forwards_sender(self, label):
        """Whether model signals of `label` ("auth.User") go out: listed in SENDERS, or with
        SENDERS "*", neither excluded nor named like a secret."""
        if label.startswith(_OWN_APP):
            return False
        if self.senders != "*":
            return label in self.senders
        app, _, model = label.partition(".")
        if label in self.exclude_senders or (app + ".*") in self.exclude_senders:
            return False
        return not _SECRET_LOOKING.search(model)


def _has_database():
    default = getattr(settings, "DATABASES", {}).get("default", {})
    return bool(default.get("ENGINE")) and not default["ENGINE"].endswith(".dummy")


_lock = threading.Lock()
_config = None


def get():
    """The checked SIGNALBUS setting (an empty dict when it is not set)."""
    global _config
    with _lock:
        if _config is None:
            _config = Config(getattr(settings, "SIGNALBUS", {}))
        return _config


def reset():
    global _config
    with _lock:
        _config = None
