"""The Django publisher of `./scripts/demo --django`: a one-file Django project (auth and
signalbus.django, SQLite in the given directory) that creates three users, updates one
and deletes one, as the C++ demo publishes with signalbus-publish, then waits until the
broker confirmed every event.

    PYTHONPATH=clients/python:build/python /usr/bin/python3 clients/python/examples/django_demo.py \
        --broker tcp://127.0.0.1:5555 --dir /tmp/demo
"""
import argparse
import os
import sys

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

    from signalbus.django import publishing

    call_command("migrate", verbosity=0, interactive=False)
    with transaction.atomic():  # published when this commits
        alice = User.objects.create_user("alice", "alice@example.com", "pw")
        bob = User.objects.create_user("bob", "bob@example.com", "pw")
        User.objects.create_user("carol", "carol@example.com", "pw")
    alice.last_login = timezone.now()
    alice.save(update_fields=["last_login"])  # not created: the profile-creator ignores it
    bob.delete()
    publisher = publishing.get_publisher()
    publisher.flush(10)
    print("django_demo: %d events published and confirmed by %s" % (publisher.published, args.broker))
    return 0


if __name__ == "__main__":
    sys.exit(main())
