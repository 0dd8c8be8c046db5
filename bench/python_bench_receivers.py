"""The receiver bench/python_clients_bench.py runs in `python -m signalbus.worker`: counts
the events it handles and, at the $SIGNALBUS_BENCH_EVENTS-th, writes time.monotonic()
(the same clock as the bench's) into $SIGNALBUS_BENCH_DONE."""
import os
import time

import signalbus

EVENTS = int(os.environ["SIGNALBUS_BENCH_EVENTS"])
DONE = os.environ["SIGNALBUS_BENCH_DONE"]
_seen = 0


@signalbus.receiver("post_save", sender="auth.User", uid="bench-worker")
def count(event):
    global _seen
    _seen += 1
    if _seen == EVENTS:
        finished = time.monotonic()
        with open(DONE + ".tmp", "w") as f:
            f.write(repr(finished))
        os.rename(DONE + ".tmp", DONE)
