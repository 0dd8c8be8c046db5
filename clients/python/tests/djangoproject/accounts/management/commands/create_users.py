"""manage.py create_users N PREFIX: creates N users, each in its own transaction, prints
"created N" and then stays up until it is killed (the outbox tests SIGKILL it there), or
exits with --exit."""
import sys
import time

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("count", type=int)
        parser.add_argument("prefix")
        parser.add_argument("--exit", action="store_true", help="exit once created instead of waiting")

    def handle(self, count, prefix, exit=False, **options):
        for i in range(count):
            with transaction.atomic():
                User.objects.create(username="%s-%d" % (prefix, i), email="%s-%d@example.com" % (prefix, i))
        print("created %d" % count, flush=True)
        if exit:
            return
        while True:
            time.sleep(3600)  # the test kills this process here
            sys.stdout.flush()
