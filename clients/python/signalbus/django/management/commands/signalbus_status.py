"""manage.py signalbus_status: the outbox of each database: rows waiting to be published
(and the age of the oldest: the relay's lag), rows numbered and not yet confirmed, rows
the broker rejected, and which relay holds the lease. Exit status 1 when rows were
rejected, so that a check can alert on it."""
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from signalbus.django import outbox


class Command(BaseCommand):
    help = "Shows the signalbus outbox of each database: waiting rows, lag, rejected rows, the relay."

    def add_arguments(self, parser):
        parser.add_argument("--database", action="append", dest="databases", help="a database alias (repeatable)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="one JSON object per database")

    def handle(self, *args, databases=None, as_json=False, **options):
        rejected = 0
        for alias in databases or list(settings.DATABASES):
            try:
                status = outbox.status(alias)
            except DatabaseError as error:
                raise CommandError("database %s: %s (is signalbus.django migrated there?)" % (alias, error))
            rejected += status["rejected"]
            if as_json:
                self.stdout.write(json.dumps(status, sort_keys=True))
                continue
            self.stdout.write(
                "outbox %(database)s: %(waiting)d waiting (oldest %(oldest_age_seconds).1f s), %(numbered)d sent "
                "and not confirmed, %(rejected)d rejected" % status)
            if status["holder"]:
                self.stdout.write("  relay: %(holder)s publishes as %(publisher_id)s, next sequence "
                                  "%(next_sequence)d, lease %(lease_seconds_left).1f s left" % status)
            else:
                self.stdout.write("  relay: none holds the lease")
        if rejected:
            raise CommandError("%d outbox rows were rejected by the broker (see the relay's log)" % rejected,
                               returncode=1)

