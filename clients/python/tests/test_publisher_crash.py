"""The broker SIGKILLed while a Python publisher streams events, then restarted on the
same ports and log: once flush() returns, the log holds every published event exactly
once, in publish order (re-sends after the restart, gaps asked for by the broker, and
duplicates of what was logged but not confirmed)."""
import json
import signal
import threading

from signalbus import Publisher
from support.processes import wait_until
from support.programs import admin, program


def test_broker_killed_mid_stream_loses_and_doubles_nothing(spawn, broker):
    publisher = Publisher(broker.ingest, "accounts", resend_interval=0.5)
    done = threading.Event()

    def stream():
        pk = 0
        while not done.is_set():
            pk += 1
            publisher.post_save("auth.User", pk, {"n": pk}, created=True)
            if pk % 50 == 0:
                done.wait(0.002)  # pacing, so that the kill lands mid-stream

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        broker.wait_for_metric("signalbus_log_appended_total", 300)
        broker.process.signal(signal.SIGKILL)
        broker.process.wait(10)
        killed_at = publisher.published
        broker.start()
        wait_until(lambda: publisher.published >= killed_at + 1000, 30, "events published after the restart")
    finally:
        done.set()
        streamer.join()
    publisher.flush(60)
    total = publisher.published
    publisher.close()

    # A new group reading the whole log gets each record once.
    reader = spawn([program("signalbus-listen"), "--groups", broker.groups, "--group", "auditor",
                    "--start", "earliest", "--count", str(total), "auth.User/post_save"], name="listen")
    assert reader.wait(60) == 0, reader.stderr()
    sequences = [int(json.loads(line)["sequence"]) for line in reader.lines]
    assert sequences == list(range(1, total + 1))
    groups = [json.loads(line) for line in admin(broker, "groups", "--json").splitlines()]
    assert [g["lag"] for g in groups if g["group"] == "auditor"] == [0]
