"""Two receivers on one topic for the worker test: `welcome` records each event it sees;
`always_fails` records each attempt and raises. Each is its own consumer group."""
import json
import os

import signalbus

OUT = os.environ["SIGNALBUS_TEST_OUT"]


def _record(event, receiver):
    with open(OUT, "a") as f:
        f.write(json.dumps({"event_id": event.event_id, "receiver": receiver}) + "\n")


@signalbus.receiver("post_save", sender="auth.User")
def welcome(event):
    _record(event, "welcome")


@signalbus.receiver("post_save", sender="auth.User", uid="always-fails")
def always_fails(event):
    _record(event, "always-fails")
    raise RuntimeError("this receiver always fails")
