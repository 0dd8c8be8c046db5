"""Receivers for the Python worker in the tests: each event it handles is appended as one
JSON line to $SIGNALBUS_TEST_OUT. A user whose username is in $SIGNALBUS_TEST_FAIL_USERS
(comma-separated) makes the receiver raise, to exercise nacks and dead-lettering."""
import json
import os

from django.db.models.signals import post_delete

import signalbus

OUT = os.environ["SIGNALBUS_TEST_OUT"]
FAIL_USERS = set(filter(None, os.environ.get("SIGNALBUS_TEST_FAIL_USERS", "").split(",")))


def _record(event, **extra):
    line = dict(event_id=event.event_id, topic=event.sender + "/" + event.signal, **extra)
    with open(OUT, "a") as f:
        f.write(json.dumps(line) + "\n")


@signalbus.receiver("post_save", sender="auth.User")
def user_saved(event):
    username = event.model_save.instance.fields["username"]
    if username in FAIL_USERS:
        raise RuntimeError("refusing user %s" % username)
    _record(event, pk=event.model_save.instance.pk, username=username, created=event.model_save.created)


@signalbus.receiver(post_delete, sender="auth.User")  # a Django signal object works too
def user_deleted(event):
    _record(event, pk=event.model_delete.instance.pk)
