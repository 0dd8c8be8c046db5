"""manage.py signalbus_relay: publishes the outbox of each database (default: every one in
DATABASES) until SIGTERM/SIGINT, for deployments that prefer one relay process to a
thread in every Django process (set SIGNALBUS["OUTBOX_RELAY"] = "command" there). Several
may run at once: one publishes, the others wait for its lease to lapse. Prints one
"signalbus-relay ready ..." line once started."""
import logging
import signal
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from signalbus.django import conf
from signalbus.django.relay import Relay


class Command(BaseCommand):
    help = "Publishes the signalbus outbox of each database until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--database", action="append", dest="databases",
                            help="a database alias to relay (repeatable; default: every one in DATABASES)")
        parser.add_argument("--until-empty", action="store_true",
                            help="stop once the outbox is empty and every row is confirmed")

    def handle(self, *args, databases=None, until_empty=False, **options):
        _log_to_stderr()
        config = conf.get()
        if not config.enabled:
            raise CommandError("SIGNALBUS['ENABLED'] is False: nothing to relay to")
        aliases = databases or list(settings.DATABASES)
        unknown = [alias for alias in aliases if alias not in settings.DATABASES]
        if unknown:
            raise CommandError("no such database: %s (known: %s)" % (", ".join(unknown), ", ".join(settings.DATABASES)))
        relays = [Relay(alias, config) for alias in aliases]
        threads = [threading.Thread(target=relay.run, kwargs={"until": _empty(relay) if until_empty else None},
                                    name="signalbus-relay-%s" % relay.using) for relay in relays]
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: [relay.stop() for relay in relays])
        for thread in threads:
            thread.start()
        self.stdout.write("signalbus-relay ready databases=%s broker=%s holder=%s"
                          % (",".join(aliases), config.broker, relays[0].holder))
        self.stdout.flush()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(0.2)
        self.stdout.write("signalbus-relay stopped: %d events relayed" % sum(relay.relayed for relay in relays))


def _empty(relay):
    from signalbus.django import outbox

    return lambda: relay.idle() and outbox.status(relay.using)["waiting"] == 0


def _log_to_stderr():
    """The relay's lines (which relay publishes, lost leases, rejections) on stderr, unless
    the project's LOGGING already sends signalbus's somewhere."""
    logger = logging.getLogger("signalbus")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [signalbus-relay] %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
