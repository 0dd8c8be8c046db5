"""Receivers: ``@signalbus.receiver("post_save", sender="auth.User")`` registers a
function, and the registry dispatches each delivered event to every function whose
patterns match its topic exactly (segment by segment), as receivers/dispatcher.cc does.
No sockets here: the worker (signalbus.worker) feeds it from consumer groups.

Each receiver function is its own consumer group, named like Django's dispatch_uid: the
`uid` given to the decorator, or else "<module>.<qualname>" of the function
(group_name()). So one receiver's failure retries and dead-letters that receiver alone;
the others run once per event. Renaming a receiver without a uid renames its group (a
new group, starting at the worker's --start): give a uid to keep its place.

A receiver function takes one argument, the signalbus.v1.Event. It reports failure by
raising; the failure is logged and the event is nacked with the exception's text, so
the broker retries it, then dead-letters it. Delivery is at-least-once: a receiver runs
again after a crash before its ack, so make it idempotent (key effects by
event.event_id)."""
import logging

from signalbus.errors import InvalidEvent, SignalbusError
from signalbus.group_rules import validate_group_name
from signalbus.ratelimit import RateLimiter
from signalbus.topics import TopicPattern, validate_sender, validate_signal

log = logging.getLogger("signalbus.receiver")

MAX_ERROR_BYTES = 1000  # a nack's error text is kept with a dead-lettered event

# Signal objects (Django's, and custom ones registered by name) -> their wire names.
_signal_names = {}


def register_signal_name(signal, name):
    """Lets `signal` (e.g. a django.dispatch.Signal) stand for `name` in @receiver."""
    validate_signal(name)
    _signal_names[id(signal)] = (signal, name)


def _django_signal_names():
    try:
        from django.contrib.auth import signals as auth_signals
        from django.db.models import signals as model_signals
    except ImportError:  # Django is optional for receivers
        return
    for name in ("pre_save", "post_save", "pre_delete", "post_delete", "m2m_changed"):
        _signal_names.setdefault(id(getattr(model_signals, name)), (getattr(model_signals, name), name))
    for name in ("user_logged_in", "user_logged_out", "user_login_failed"):
        _signal_names.setdefault(id(getattr(auth_signals, name)), (getattr(auth_signals, name), name))


def signal_name(signal):
    """The wire name of `signal`: a string as it is ("post_save", "*"), or a known signal object."""
    if isinstance(signal, str):
        if signal != "*":
            validate_signal(signal)
        return signal
    if id(signal) not in _signal_names:
        _django_signal_names()
    entry = _signal_names.get(id(signal))
    if entry is None or entry[0] is not signal:
        raise InvalidEvent(
            "%r is not a signal signalbus knows; pass its name, or register_signal_name(signal, name)" % (signal,)
        )
    return entry[1]


def sender_label(sender):
    """A model label from None/"*" (any), a label ("auth.User"), or a Django model class."""
    if sender is None or sender == "*":
        return "*"
    if isinstance(sender, str):
        validate_sender(sender)
        return sender
    meta = getattr(sender, "_meta", None)
    if meta is not None and getattr(meta, "label", None):
        return meta.label
    raise InvalidEvent("sender %r is neither a model label like 'auth.User' nor a Django model" % (sender,))


def _error_text(error):
    text = "%s: %s" % (type(error).__name__, error)
    data = text.encode("utf-8", "replace")[:MAX_ERROR_BYTES]
    return data.decode("utf-8", "ignore")


class DispatchResult:
    __slots__ = ("matched", "succeeded", "failed", "error")

    def __init__(self):
        self.matched = 0  # functions whose patterns matched
        self.succeeded = 0
        self.failed = 0
        self.error = ""  # the first failure's text, with a count of the others

    @property
    def ok(self):
        return self.failed == 0


def group_name(function, uid=None):
    """The consumer group of a receiver: `uid`, or "<module>.<qualname>". Raises
    InvalidEvent when that breaks the group-name grammar (a nested function's qualname
    holds "<locals>"), asking for a uid."""
    name = uid or "%s.%s" % (getattr(function, "__module__", "") or "", getattr(function, "__qualname__", ""))
    try:
        validate_group_name(name)
    except SignalbusError as error:
        raise InvalidEvent("receiver %s: %s; give it a group name: @signalbus.receiver(..., uid=\"welcome-mail\")"
                           % (getattr(function, "__qualname__", function), error)) from None
    return name


class Registry:
    """Registered receiver functions, in registration order. Register from one thread
    before the worker starts; dispatch from one thread."""

    def __init__(self):
        self._entries = []  # (patterns, function, uid, batch)
        self._log_limiter = RateLimiter()

    def __len__(self):
        return len(self._entries)

    def add(self, patterns, function, uid=None, batch=False):
        """Registers `function` for every topic matching any of `patterns` (strings or
        TopicPatterns); it runs at most once per event. uid: its group's name. batch: it
        takes a list of events — the events of one atomic batch (a transaction) together,
        or a list of one."""
        if not callable(function):
            raise InvalidEvent("receiver %r is not callable" % (function,))
        parsed = [p if isinstance(p, TopicPattern) else TopicPattern.parse(p) for p in patterns]
        if not parsed:
            raise InvalidEvent("receiver %r has no topics" % (function,))
        if uid is not None:
            group_name(function, uid)  # a bad uid fails where it is written
        self._entries.append((parsed, function, uid, bool(batch)))

    def receiver(self, signal, sender=None, *, topics=None, uid=None, batch=False):
        """Decorator: ``@registry.receiver("post_save", sender="auth.User")``. signal: a
        name, "*", a Django signal object, or a list of them; sender: a model label, a
        model class, or None/"*" for any. topics: patterns instead ("*/post_save").
        uid: the name of its consumer group (default "<module>.<qualname>").
        batch: the function takes a list: every event of one transaction (an atomic
        batch) that it subscribes to, at once, or one event alone in a list."""
        signals = signal if isinstance(signal, (list, tuple, set)) else [signal]
        patterns = list(topics or [])
        if signal is not None:
            label = sender_label(sender)
            patterns += [TopicPattern.parse("%s/%s" % (label, signal_name(s))) for s in signals]

        def register(function):
            self.add(patterns, function, uid, batch)
            return function

        return register

    def groups(self):
        """[(group name, Registry of that one receiver)], in registration order. Raises
        InvalidEvent for a name that breaks the grammar, or one shared by two receivers."""
        seen = {}
        out = []
        for patterns, function, uid, batch in self._entries:
            name = group_name(function, uid)
            if name in seen:
                raise InvalidEvent("receivers %s and %s would share consumer group %s; give one a uid="
                                   % (seen[name], getattr(function, "__qualname__", function), name))
            seen[name] = getattr(function, "__qualname__", function)
            one = Registry()
            one._entries.append((patterns, function, uid, batch))
            out.append((name, one))
        return out

    def patterns(self):
        """Every registered pattern once, in registration order: the group's subscriptions."""
        seen = []
        for patterns, _, _, _ in self._entries:
            for pattern in patterns:
                if pattern not in seen:
                    seen.append(pattern)
        return seen

    @property
    def batch(self):
        """Whether its receivers take lists of events (a group's one receiver, batch=True)."""
        return bool(self._entries) and all(entry[3] for entry in self._entries)

    def dispatch(self, topic, event):
        """Calls each function whose patterns match `topic`, in registration order (a
        batch receiver with [event])."""
        return self._dispatch(topic, event, [event])

    def dispatch_batch(self, topics, events):
        """Calls each batch receiver with the events of `events` whose topics (`topics`,
        in the same order) it subscribes to, once, in registration order."""
        return self._dispatch(topics[0] if topics else "", events[0] if events else None, events, topics)

    def _dispatch(self, topic, event, events, topics=None):
        result = DispatchResult()
        for patterns, function, _, batch in self._entries:
            if topics is None:
                if not any(p.matches(topic) for p in patterns):
                    continue
                argument = events if batch else event
            else:
                argument = [e for t, e in zip(topics, events) if any(p.matches(t) for p in patterns)]
                if not argument or not batch:
                    continue
            result.matched += 1
            try:
                function(argument)
                result.succeeded += 1
            except Exception as error:  # a receiver's failure never stops the others
                result.failed += 1
                if not result.error:
                    result.error = _error_text(error)
                if self._log_limiter.allow():
                    log.error(
                        "receiver %s failed on event %s (%s): %s",
                        getattr(function, "__qualname__", function), event.event_id, topic, error,
                        exc_info=True,
                    )
        if result.failed > 1:
            result.error += " (and %d more receivers failed)" % (result.failed - 1)
        return result


default_registry = Registry()


def receiver(signal, sender=None, *, topics=None, uid=None, batch=False, registry=None):
    """Registers the decorated function in the default registry (or `registry`):

        @signalbus.receiver("post_save", sender="auth.User", uid="welcome-mail")
        def welcome(event): ...

    uid names its consumer group (default "<module>.<qualname>": "welcome.receivers.welcome").
    batch=True: the function takes a list, every event of one transaction it subscribes
    to at once (an order and its lines, never part of them), or one event in a list:

        @signalbus.receiver("post_save", topics=["shop.Order/post_save", "shop.OrderLine/post_save"],
                            batch=True, uid="invoices")
        def invoice(events): ..."""
    return (registry or default_registry).receiver(signal, sender, topics=topics, uid=uid, batch=batch)
