"""python -m signalbus.worker: runs the receiver functions registered by the named modules,
each as its own consumer group (named by its uid=, or "<module>.<qualname>"; --prefix
puts "PREFIX." before every name), all in this process, one thread per group. Flags,
signals and exit codes only; each group's loop is signalbus.consumer. Waits for the
broker as long as it takes (logged, with backoff) unless --connect-timeout says
otherwise, then prints one "signalbus-worker ready ..." line naming every group;
SIGTERM/SIGINT drain, leave the groups and exit 0.

    /usr/bin/python3 -m signalbus.worker --groups tcp://127.0.0.1:5557 myapp.receivers

With DJANGO_SETTINGS_MODULE set, Django is set up first (receivers may use the ORM) and
stale database connections are closed around each event, as Django does per request.
Receivers whose modules import Django while no settings are configured are refused at
start (they would fail on every event). With --curve-server-key and --curve-key-file (or
SIGNALBUS_CURVE_SERVER_KEY / SIGNALBUS_CURVE_KEY_FILE) every group joins over CURVE; keys
that cannot be used, or a broker that refuses the handshake, end it with one line."""
import argparse
import importlib
import logging
import os
import re
import signal
import sys

from signalbus import curve
from signalbus.consumer import Consumer, ConsumerTeam
from signalbus.endpoints import DEFAULT_GROUPS, GROUPS_ENV, from_env, validate_endpoint
from signalbus.errors import SignalbusError
from signalbus.group_member import GroupOptions
from signalbus.group_rules import validate_group_name, validate_heartbeat
from signalbus.registry import default_registry

PROGRAM = "signalbus-worker"
EXIT_FAILURE, EXIT_USAGE = 1, 2
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text):
    """Seconds from "250ms", "1s", "1.5s", "2m", "1h" (argparse type)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError("'%s' is not a duration like 250ms, 1s, 2m" % text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def start(text):
    if text in ("earliest", "latest"):
        return text
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError("'%s' is not earliest, latest or an offset" % text)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Runs signalbus receivers as a member of a consumer group.")
    parser.add_argument("modules", nargs="+", metavar="MODULE",
                        help="modules to import; their @signalbus.receiver functions are run")
    parser.add_argument("--prefix", default="",
                        help="put PREFIX. before every receiver's group name (e.g. a deployment's name)")
    parser.add_argument("--group", help=argparse.SUPPRESS)  # before each receiver had its own group
    parser.add_argument("--groups", default=from_env(GROUPS_ENV, DEFAULT_GROUPS),
                        help="the broker's consumer-group endpoint (default: $%s or %s)" % (GROUPS_ENV, DEFAULT_GROUPS))
    parser.add_argument("--credits", type=int, default=64, help="deliveries held unacknowledged at once")
    parser.add_argument("--window-bytes", type=int, default=0,
                        help="bytes of events held unacknowledged at once (default 0: the broker's)")
    parser.add_argument("--heartbeat", type=duration, default=1.0, help="heartbeat interval, 10ms to 60s (default 1s)")
    parser.add_argument("--join-timeout", type=duration, default=10.0,
                        help="how long one join attempt waits for the broker's answer (default 10s)")
    parser.add_argument("--connect-timeout", type=duration, default=0.0,
                        help="give up when the broker has not answered within this (default 0: wait for ever)")
    parser.add_argument("--start", type=start, help="where a new group starts: earliest, latest or an offset")
    parser.add_argument("--ack-timeout", type=duration, default=0.0, help="a new group's ack timeout")
    parser.add_argument("--max-deliver", type=int, default=0, help="a new group's attempts before dead-lettering")
    parser.add_argument("--backoff", type=duration, default=0.0, help="a new group's first retry delay")
    parser.add_argument("--backoff-max", type=duration, default=0.0, help="a new group's longest retry delay")
    parser.add_argument("--curve-server-key", default=from_env(curve.SERVER_KEY_ENV, ""),
                        help="the broker's CURVE public key (Z85) or its .pub file: encrypt and authenticate to that "
                             "broker only (default: $%s)" % curve.SERVER_KEY_ENV)
    parser.add_argument("--curve-key-file", default=from_env(curve.KEY_FILE_ENV, ""),
                        help="this worker's CURVE secret key file (from signalbus-keygen, mode 0600) (default: $%s)"
                             % curve.KEY_FILE_ENV)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    if args.group is not None:
        parser.error("--group: each receiver is its own consumer group now, named by its uid= or module.function; "
                     "--prefix NAME puts NAME. before each")
    try:
        if args.prefix:
            validate_group_name(args.prefix)
        validate_heartbeat(args.heartbeat)
        validate_endpoint(args.groups)
        curve.load_client(args.curve_server_key, args.curve_key_file, names=curve.FLAGS)
    except SignalbusError as error:
        parser.error(str(error))
    if args.credits < 1:
        parser.error("--credits must be at least 1")
    if args.window_bytes < 0:
        parser.error("--window-bytes must be 0 (the broker's default) or more")
    return args


def _setup_django():
    """Sets Django up if a settings module is named; returns the per-event hook or None."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return None
    import django
    from django.db import close_old_connections

    django.setup()
    return close_old_connections


def _needs_django_settings(modules):
    """The receiver modules that use Django (hold a Django module or object) while Django
    has no settings: their receivers would fail on every event."""
    if os.environ.get("DJANGO_SETTINGS_MODULE") or "django" not in sys.modules:
        return []
    from django.conf import settings

    if settings.configured:
        return []
    return [name for name in modules if _uses_django(sys.modules.get(name))]


def _uses_django(module):
    def from_django(value):
        name = getattr(value, "__name__", "") if isinstance(value, type(sys)) else getattr(value, "__module__", "")
        return isinstance(name, str) and (name == "django" or name.startswith("django."))

    return module is not None and any(from_django(value) for value in vars(module).values())


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s [" + PROGRAM + "] %(levelname)s: %(message)s")
    try:
        around = _setup_django()
        for module in args.modules:
            importlib.import_module(module)
    except Exception as error:
        hint = ""
        if type(error).__name__ in ("ImproperlyConfigured", "AppRegistryNotReady"):
            hint = " (set DJANGO_SETTINGS_MODULE to the project's settings)"
        print("%s: cannot load receivers: %s: %s%s" % (PROGRAM, type(error).__name__, error, hint), file=sys.stderr)
        return EXIT_FAILURE
    if not len(default_registry):
        print("%s: %s registered no receivers" % (PROGRAM, ", ".join(args.modules)), file=sys.stderr)
        return EXIT_USAGE
    needy = _needs_django_settings(args.modules)
    if needy:
        print("%s: %s use%s Django but no settings are configured: set DJANGO_SETTINGS_MODULE to the project's "
              "settings" % (PROGRAM, ", ".join(needy), "s" if len(needy) == 1 else ""), file=sys.stderr)
        return EXIT_USAGE
    try:
        groups = [((args.prefix + "." if args.prefix else "") + name, registry)
                  for name, registry in default_registry.groups()]
        for name, _ in groups:
            validate_group_name(name)
    except SignalbusError as error:
        print("%s: %s" % (PROGRAM, error), file=sys.stderr)
        return EXIT_USAGE

    options = GroupOptions(credits=args.credits, window_bytes=args.window_bytes, heartbeat=args.heartbeat,
                           join_timeout=args.join_timeout, start=args.start, ack_timeout=args.ack_timeout,
                           max_deliver=args.max_deliver, backoff_initial=args.backoff, backoff_max=args.backoff_max,
                           curve_server_key=args.curve_server_key, curve_key_file=args.curve_key_file)
    consumers = [Consumer(registry, args.groups, name, options, around_dispatch=around) for name, registry in groups]
    team = ConsumerTeam(consumers, connect_timeout=args.connect_timeout)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: team.stop())
    try:
        team.connect()
    except SignalbusError as error:
        if team.stopped:
            return 0  # SIGTERM while joining
        print("%s: %s" % (PROGRAM, error), file=sys.stderr)
        return EXIT_FAILURE
    print("%s ready groups=%s endpoint=%s" % (PROGRAM, ",".join(c.member.group for c in consumers), args.groups),
          flush=True)
    failure = team.run()
    if failure is not None:  # the transport failed (never what a peer sent): one line
        print("%s: %s: %s" % (PROGRAM, type(failure).__name__, failure), file=sys.stderr)
        return EXIT_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
