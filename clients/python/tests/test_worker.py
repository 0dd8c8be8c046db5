"""The Python worker (python -m signalbus.worker) as a real consumer-group member beside
the C++ profile-creator: both groups get every event; a failing receiver is nacked,
retried and dead-lettered with its error; the worker re-joins after a broker restart,
drains and leaves on SIGTERM, and reports bad starts in one line."""
import json
import signal
import subprocess

from django.contrib.auth.models import User

from signalbus import Publisher
from support.processes import wait_until
from support.programs import PYTHON, admin, child_env, query, start_profile_creator, start_worker


def recorded(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def group_info(broker, name):
    for line in admin(broker, "groups", "--json").splitlines():
        info = json.loads(line)
        if info["group"] == name:
            return info
    return None


def test_python_group_and_cpp_group_each_receive_every_event(spawn, broker, django_bus, tmp_path, unique):
    db, out = str(tmp_path / "profiles.sqlite3"), str(tmp_path / "worker.ndjson")
    start_profile_creator(spawn, broker, db)
    start_worker(spawn, broker, "welcome-mailer", ["worker_receivers"], env=child_env(SIGNALBUS_TEST_OUT=out))

    users = [User.objects.create_user(unique("user%d" % i), password="pw") for i in range(3)]
    deleted_pk = users[0].pk
    users[0].delete()
    django_bus.get_publisher().flush(10)

    wait_until(lambda: len(recorded(out)) == 4, 20, "the Python receivers to see 3 saves and 1 delete")
    wait_until(lambda: query(db, "SELECT count(*) FROM processed_event") == [(4,)], 20,
               "the profile-creator to process the same 4 events")
    python_ids = {r["event_id"] for r in recorded(out)}
    cpp_ids = {row[0] for row in query(db, "SELECT event_id FROM processed_event")}
    assert python_ids == cpp_ids
    assert sorted(r["username"] for r in recorded(out) if r["topic"] == "auth.User/post_save") == \
        sorted(u.username for u in users)
    assert [r["pk"] for r in recorded(out) if r["topic"] == "auth.User/post_delete"] == [str(deleted_pk)]


def test_failing_receiver_is_retried_then_dead_lettered_with_its_error(spawn, broker, tmp_path):
    out = str(tmp_path / "worker.ndjson")
    start_worker(spawn, broker, "picky", ["worker_receivers"], "--max-deliver", "2", "--backoff", "10ms",
                 env=child_env(SIGNALBUS_TEST_OUT=out, SIGNALBUS_TEST_FAIL_USERS="bob"))
    with Publisher(broker.ingest, "accounts") as publisher:
        for pk, name in enumerate(["alice", "bob", "carol"], start=1):
            publisher.post_save("auth.User", pk, {"username": name}, created=True)
        publisher.flush(10)

    wait_until(lambda: admin(broker, "dlq", "list", "picky").strip(), 20, "bob's event in the dead-letter queue")
    letters = [json.loads(line) for line in admin(broker, "dlq", "list", "picky").splitlines()]
    assert len(letters) == 1
    assert letters[0]["attempts"] == 2
    assert letters[0]["error"] == "RuntimeError: refusing user bob"
    wait_until(lambda: len(recorded(out)) == 2, 20, "alice and carol")
    assert [r["username"] for r in recorded(out)] == ["alice", "carol"]
    wait_until(lambda: group_info(broker, "picky")["lag"] == 0, 20, "the group to finish")


def test_worker_joins_again_after_a_broker_restart(spawn, broker, tmp_path):
    out = str(tmp_path / "worker.ndjson")
    worker = start_worker(spawn, broker, "restarts", ["worker_receivers"], env=child_env(SIGNALBUS_TEST_OUT=out))
    broker.stop()
    broker.start()  # same ports and data directory: the group is still there
    with Publisher(broker.ingest, "accounts") as publisher:
        publisher.post_save("auth.User", 1, {"username": "after-restart"}, created=True)
        publisher.flush(10)
    wait_until(lambda: recorded(out), 20, "the event published after the restart")
    assert recorded(out)[0]["username"] == "after-restart"
    assert "joined again" in worker.stderr()


def test_sigterm_drains_and_leaves_the_group_at_once(spawn, broker, tmp_path):
    out = str(tmp_path / "worker.ndjson")
    worker = start_worker(spawn, broker, "leaver", ["worker_receivers"], "--heartbeat", "5s",
                          env=child_env(SIGNALBUS_TEST_OUT=out))
    with Publisher(broker.ingest, "accounts") as publisher:
        publisher.post_save("auth.User", 1, {"username": "alice"}, created=True)
        publisher.flush(10)
    wait_until(lambda: recorded(out), 20, "the event")
    assert group_info(broker, "leaver")["members"] == 1
    worker.signal(signal.SIGTERM)
    assert worker.wait(10) == 0, worker.stderr()
    # Left, not expired: with a 5 s heartbeat, expiry would take 15 s.
    info = group_info(broker, "leaver")
    assert info["members"] == 0 and info["acked"] == 1 and info["pending"] == 0


def run_worker(*args, timeout=30):
    return subprocess.run([PYTHON, "-m", "signalbus.worker"] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=child_env(SIGNALBUS_TEST_OUT="/dev/null"))


def test_bad_starts_are_one_clear_line_and_a_nonzero_status():
    no_broker = run_worker("--groups", "tcp://127.0.0.1:9", "--group", "g", "--join-timeout", "300ms",
                           "worker_receivers")
    assert no_broker.returncode == 1
    assert no_broker.stderr.strip().endswith("signalbus-worker: no broker answered at tcp://127.0.0.1:9 within 300 ms")
    no_receivers = run_worker("--group", "g", "json")
    assert (no_receivers.returncode, no_receivers.stderr.strip()) == (2, "signalbus-worker: json registered no receivers")
    bad_group = run_worker("--group", "no spaces", "worker_receivers")
    assert bad_group.returncode == 2 and "may only hold letters" in bad_group.stderr
    missing = run_worker("--group", "g", "no_such_module")
    assert missing.returncode == 1 and "cannot load receivers: ModuleNotFoundError" in missing.stderr



def test_sigterm_while_joining_ends_the_worker_quietly(spawn):
    worker = spawn([PYTHON, "-m", "signalbus.worker", "--groups", "tcp://127.0.0.1:9", "--group", "g",
                    "worker_receivers"], env=child_env(SIGNALBUS_TEST_OUT="/dev/null"), name="worker")
    wait_until(lambda: "joining group g at tcp://127.0.0.1:9" in worker.stderr(), 20, "the worker to start joining")
    worker.signal(signal.SIGTERM)
    assert worker.wait(5) == 0, worker.stderr()
    assert "no broker answered" not in worker.stderr()
