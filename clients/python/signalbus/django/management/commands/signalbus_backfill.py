"""manage.py signalbus_backfill auth.User [--signal post_save] [--where is_active=True]:
publishes an event for every existing row of a model, through the outbox, in pk order,
with a progress bar; interrupted, it resumes where it stopped (--restart starts over).
For a receiver added to a site that already has data: with the default post_save
created=True, the profile-creator gives every existing User a Profile."""
import sys

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from signalbus.django import backfill, conf, relay_thread


class Command(BaseCommand):
    help = "Publishes events for existing rows of a model through the signalbus outbox, resumably."

    def add_arguments(self, parser):
        parser.add_argument("model", help="the model label, e.g. auth.User")
        parser.add_argument("--signal", default="post_save", choices=backfill.SIGNALS)
        parser.add_argument("--not-created", action="store_true",
                            help="mark the events created=False (default: created=True, as if each row were new)")
        parser.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                            help="only rows matching this Django lookup (repeatable), e.g. is_active=True")
        parser.add_argument("--database", default="default")
        parser.add_argument("--batch", type=int, default=500, help="rows per transaction")
        parser.add_argument("--restart", action="store_true", help="start over even if an earlier run finished")

    def handle(self, *args, model, signal, not_created, where, database, batch, restart, **options):
        config = conf.get()
        if not config.outbox:
            raise CommandError("backfill goes through the outbox: set SIGNALBUS['OUTBOX'] = True (and migrate)")
        try:
            model_class = apps.get_model(model)
        except (LookupError, ValueError) as error:
            raise CommandError("%s: %s" % (model, error))
        lookups = {}
        for item in where:
            field, sep, value = item.partition("=")
            if not sep or not field:
                raise CommandError("--where %r: expected FIELD=VALUE" % item)
            lookups[field] = {"True": True, "False": False}.get(value, value)
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        bar = _Progress(sys.stdout)
        try:
            written, count, total = backfill.run(
                model_class, config, signal=signal, created=not not_created, where=lookups, using=database,
                batch=batch, restart=restart, on_progress=bar.update)
        except Exception as error:  # a bad lookup, a database error: one line
            raise CommandError("%s: %s" % (type(error).__name__, error))
        bar.finish()
        if not written and count:
            self.stdout.write("%s/%s: already backfilled (%d events); --restart to publish them again"
                              % (model, signal, count))
        else:
            self.stdout.write("%s/%s: %d events written into the outbox now, %d in all, for %d rows"
                              % (model, signal, written, count, total))
        if config.outbox_relay == "thread":
            relay_thread.stop_all()  # the last confirms; what is left stays for the other relays


class _Progress:
    """A progress bar on a terminal, a line per tenth otherwise (a log, a test)."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.shown = -1

    def update(self, done, total):
        if self.tty:
            width = 30
            filled = width * done // total if total else width
            self.stream.write("\r[%s%s] %d/%d" % ("#" * filled, " " * (width - filled), done, total))
            self.stream.flush()
            return
        tenth = 10 * done // total if total else 10
        if tenth != self.shown:
            self.shown = tenth
            self.stream.write("backfill: %d/%d\n" % (done, total))
            self.stream.flush()

    def finish(self):
        if self.tty:
            self.stream.write("\n")
