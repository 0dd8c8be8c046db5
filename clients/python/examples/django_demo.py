"""The Django publisher of `./scripts/demo --django`: a one-file Django project (auth and
signalbus.django, SQLite in the given directory) that creates three users, updates one
and deletes one, as the C++ demo publishes with signalbus-publish. Each event goes into
the outbox table in its save's transaction; the process's relay thread publishes it,
and the demo waits until the outbox is empty (every event confirmed by the broker).

    PYTHONPATH=clients/python:build/python /usr/bin/python3 clients/python/examples/django_demo.py \
        --broker tcp://127.0.0.1:5555 --dir /tmp/demo
"""
import argparse
import os
import sys
import time

import django
from django.conf import settings


def configure(broker, directory):
    settings.configure(
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "signalbus.django"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                               "NAME": os.path.join(directory, "accounts.sqlite3")}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # a demo: fast, not safe
        USE_TZ=True,
        SIGNALBUS={"BROKER": broker, "SOURCE": "accounts", "SENDERS": ["auth.User"]},
    )
    django.setup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True, help="the broker's ingest endpoint")
    parser.add_argument("--dir", required=True, help="directory for the project's SQLite database")
    args = parser.parse_args()
    configure(args.broker, args.dir)

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from signalbus.django import outbox

    call_command("migrate", verbosity=0, interactive=False)
    with transaction.atomic():  # published when this commits
        alice = User.objects.create_user("alice", "alice@example.com", "pw")
        bob = User.objects.create_user("bob", "bob@example.com", "pw")
        User.objects.create_user("carol", "carol@example.com", "pw")
    alice.last_login = timezone.now()
    alice.save(update_fields=["last_login"])  # not created: the profile-creator ignores it
    bob.delete()
    deadline = time.monotonic() + 10
    while outbox.status("default")["waiting"] and time.monotonic() < deadline:
        time.sleep(0.05)  # the relay thread deletes each row once the broker confirmed it
    left = outbox.status("default")["waiting"]
    if left:
        print("django_demo: %d events still in the outbox after 10 s" % left, file=sys.stderr)
        return 1
    print("django_demo: 5 events written in their transactions, relayed from the outbox and confirmed by %s"
          % args.broker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
