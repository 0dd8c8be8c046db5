"""python -m signalbus.worker: runs the receiver functions registered by the named modules
as a member of a consumer group. Flags, signals and exit codes only; the loop is
signalbus.consumer. Prints one "signalbus-worker ready ..." line once the broker
confirmed the join; SIGTERM/SIGINT drain, leave the group and exit 0.

    /usr/bin/python3 -m signalbus.worker --groups tcp://127.0.0.1:5557 --group welcome myapp.receivers

With DJANGO_SETTINGS_MODULE set, Django is set up first (receivers may use the ORM) and
stale database connections are closed around each event, as Django does per request."""
import argparse
import importlib
import logging
import os
import re
import signal
import sys

from signalbus.consumer import Consumer
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
    parser.add_argument("--group", required=True, help="the consumer group to join")
    parser.add_argument("--groups", default=from_env(GROUPS_ENV, DEFAULT_GROUPS),
                        help="the broker's consumer-group endpoint (default: $%s or %s)" % (GROUPS_ENV, DEFAULT_GROUPS))
    parser.add_argument("--credits", type=int, default=64, help="deliveries held unacknowledged at once")
    parser.add_argument("--window-bytes", type=int, default=0,
                        help="bytes of events held unacknowledged at once (default 0: the broker's)")
    parser.add_argument("--heartbeat", type=duration, default=1.0, help="heartbeat interval, 10ms to 60s (default 1s)")
    parser.add_argument("--join-timeout", type=duration, default=10.0, help="wait for the join (default 10s)")
    parser.add_argument("--start", type=start, help="where a new group starts: earliest, latest or an offset")
    parser.add_argument("--ack-timeout", type=duration, default=0.0, help="a new group's ack timeout")
    parser.add_argument("--max-deliver", type=int, default=0, help="a new group's attempts before dead-lettering")
    parser.add_argument("--backoff", type=duration, default=0.0, help="a new group's first retry delay")
    parser.add_argument("--backoff-max", type=duration, default=0.0, help="a new group's longest retry delay")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    try:
        validate_group_name(args.group)
        validate_heartbeat(args.heartbeat)
        validate_endpoint(args.groups)
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


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), stream=sys.stderr,
                        format="%(asctime)s [" + PROGRAM + "] %(levelname)s: %(message)s")
    try:
        around = _setup_django()
        for module in args.modules:
            importlib.import_module(module)
    except Exception as error:
        print("%s: cannot load receivers: %s: %s" % (PROGRAM, type(error).__name__, error), file=sys.stderr)
        return EXIT_FAILURE
    if not len(default_registry):
        print("%s: %s registered no receivers" % (PROGRAM, ", ".join(args.modules)), file=sys.stderr)
        return EXIT_USAGE

    options = GroupOptions(credits=args.credits, window_bytes=args.window_bytes, heartbeat=args.heartbeat, join_timeout=args.join_timeout,
                           start=args.start, ack_timeout=args.ack_timeout, max_deliver=args.max_deliver,
                           backoff_initial=args.backoff, backoff_max=args.backoff_max)
    consumer = Consumer(default_registry, args.groups, args.group, options, around_dispatch=around)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: consumer.stop())
    try:
        consumer.connect()
    except SignalbusError as error:
        if consumer.stopped:
            return 0  # SIGTERM while joining
        print("%s: %s" % (PROGRAM, error), file=sys.stderr)
        return EXIT_FAILURE
    topics = ",".join(str(p) for p in default_registry.patterns())
    print("%s ready group=%s groups=%s topics=%s" % (PROGRAM, args.group, args.groups, topics), flush=True)
    try:
        consumer.run()
    except Exception as error:  # the transport failed (never what a peer sent): one line
        logging.getLogger("signalbus.receiver").debug("worker failed", exc_info=True)
        print("%s: %s: %s" % (PROGRAM, type(error).__name__, error), file=sys.stderr)
        return EXIT_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
