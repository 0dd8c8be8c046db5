"""The Python worker (python -m signalbus.worker) as a real consumer-group member beside
the C++ profile-creator: both groups get every event; a failing receiver is nacked,
retried and dead-lettered with its error; the worker re-joins after a broker restart,
drains and leaves on SIGTERM, and reports bad starts in one line."""
import json
import signal
import subprocess

from django.contrib.auth.models import User

from signalbus import Publisher
from support.processes import appended_lines, wait_until
from support.programs import PYTHON, admin, child_env, query, start_profile_creator, start_worker


def recorded(path):
    return [json.loads(line) for line in appended_lines(path)]


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

    saved = "picky.worker_receivers.user_saved"  # the group of that receiver
    wait_until(lambda: admin(broker, "dlq", "list", saved).strip(), 20, "bob's event in the dead-letter queue")
    letters = [json.loads(line) for line in admin(broker, "dlq", "list", saved).splitlines()]
    assert len(letters) == 1
    assert letters[0]["attempts"] == 2
    assert letters[0]["error"] == "RuntimeError: refusing user bob"
    wait_until(lambda: len(recorded(out)) == 2, 20, "alice and carol")
    assert [r["username"] for r in recorded(out)] == ["alice", "carol"]
    wait_until(lambda: group_info(broker, saved)["lag"] == 0, 20, "the group to finish")


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
    saved = "leaver.worker_receivers.user_saved"
    assert group_info(broker, saved)["members"] == 1
    worker.signal(signal.SIGTERM)
    assert worker.wait(10) == 0, worker.stderr()
    # Left, not expired: with a 5 s heartbeat, expiry would take 15 s.
    info = group_info(broker, saved)
    assert info["members"] == 0 and info["acked"] == 1 and info["pending"] == 0


def run_worker(*args, timeout=30):
    return subprocess.run([PYTHON, "-m", "signalbus.worker"] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=child_env(SIGNALBUS_TEST_OUT="/dev/null"))


def test_bad_starts_are_one_clear_line_and_a_nonzero_status():
    no_broker = run_worker("--groups", "tcp://127.0.0.1:9", "--join-timeout", "300ms", "--connect-timeout", "300ms",
                           "worker_receivers")
    assert no_broker.returncode == 1
    assert no_broker.stderr.strip().endswith("signalbus-worker: no broker answered at tcp://127.0.0.1:9 within 300 ms")
    no_receivers = run_worker("json")
    assert (no_receivers.returncode, no_receivers.stderr.strip()) == (2, "signalbus-worker: json registered no receivers")
    bad_prefix = run_worker("--prefix", "no spaces", "worker_receivers")
    assert bad_prefix.returncode == 2 and "may only hold letters" in bad_prefix.stderr
    missing = run_worker("no_such_module")
    assert missing.returncode == 1 and "cannot load receivers: ModuleNotFoundError" in missing.stderr
    old_flag = run_worker("--group", "g", "worker_receivers")
    assert old_flag.returncode == 2 and "each receiver is its own consumer group now" in old_flag.stderr
    nested = run_worker("worker_nested_receiver")
    assert nested.returncode == 2 and "give it a group name" in nested.stderr, nested.stderr


def test_receivers_that_use_django_without_settings_are_refused_at_start():
    env = child_env(SIGNALBUS_TEST_OUT="/dev/null")
    del env["DJANGO_SETTINGS_MODULE"]
    result = subprocess.run([PYTHON, "-m", "signalbus.worker", "--groups", "tcp://127.0.0.1:9", "worker_receivers"],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == ("signalbus-worker: worker_receivers uses Django but no settings are configured: "
                                     "set DJANGO_SETTINGS_MODULE to the project's settings")


def test_sigterm_while_joining_ends_the_worker_quietly(spawn):
    worker = spawn([PYTHON, "-m", "signalbus.worker", "--groups", "tcp://127.0.0.1:9", "--prefix", "g",
                    "worker_receivers"], env=child_env(SIGNALBUS_TEST_OUT="/dev/null"), name="worker")
    wait_until(lambda: "joining group g.worker_receivers.user_saved at tcp://127.0.0.1:9" in worker.stderr(), 20,
               "the worker to start joining")
    worker.signal(signal.SIGTERM)
    assert worker.wait(5) == 0, worker.stderr()
    assert "no broker answered" not in worker.stderr()


def test_two_receivers_on_one_topic_each_run_once_and_only_the_failing_one_is_retried(spawn, broker, tmp_path):
    out = str(tmp_path / "worker.ndjson")
    start_worker(spawn, broker, "site", ["worker_two_receivers"], "--max-deliver", "3", "--backoff", "10ms",
                 env=child_env(SIGNALBUS_TEST_OUT=out))
    with Publisher(broker.ingest, "accounts") as publisher:
        events = [publisher.post_save("auth.User", pk, {"username": "u%d" % pk}, created=True) for pk in range(1, 6)]
        publisher.flush(10)
    wait_until(lambda: len(admin(broker, "dlq", "list", "site.always-fails").splitlines()) == 5, 30,
               "5 dead letters of the failing receiver")
    welcomed = [r["event_id"] for r in recorded(out) if r["receiver"] == "welcome"]
    assert sorted(welcomed) == sorted(e.event_id for e in events)  # each exactly once
    attempts = [r for r in recorded(out) if r["receiver"] == "always-fails"]
    assert len(attempts) == 15  # 3 attempts of each of 5 events, that receiver alone
    letters = [json.loads(line) for line in admin(broker, "dlq", "list", "site.always-fails").splitlines()]
    assert {letter["attempts"] for letter in letters} == {3}
    assert admin(broker, "dlq", "list", "site.worker_two_receivers.welcome").strip() == ""
    assert group_info(broker, "site.worker_two_receivers.welcome")["redelivered"] == 0


def test_a_worker_started_before_the_broker_waits_for_it_and_handles_everything(spawn, broker, tmp_path):
    out = str(tmp_path / "worker.ndjson")
    broker.stop()  # its ports stay reserved for the restart; nobody listens there now
    worker = spawn([PYTHON, "-m", "signalbus.worker", "--groups", broker.groups, "--prefix", "early",
                    "--join-timeout", "200ms", "--start", "earliest", "worker_receivers"],
                   env=child_env(SIGNALBUS_TEST_OUT=out), name="worker")
    wait_until(lambda: "retrying in" in worker.stderr(), 20, "the worker to wait for the broker")
    broker.start()
    worker.wait_for_line("signalbus-worker ready", 30)
    with Publisher(broker.ingest, "accounts") as publisher:
        for pk in range(1, 4):
            publisher.post_save("auth.User", pk, {"username": "u%d" % pk}, created=True)
        publisher.flush(10)
    wait_until(lambda: len(recorded(out)) == 3, 20, "the three events")
