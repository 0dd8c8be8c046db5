"""The transactional outbox with real processes: Django processes that commit users and
are killed, relays (a thread of the Django process, and manage.py signalbus_relay) that
are killed mid-publish, the real broker, the C++ profile-creator and signalbus-audit —
on SQLite and on a real PostgreSQL server. A committed save always reaches its
receivers, exactly once in the log; a rolled-back one never."""
import collections
import json
import signal

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import override_settings

from support.postgres import PostgresServer
from support.processes import appended_lines, wait_until
from support.programs import PYTHON, child_env, program, query, start_profile_creator, start_worker

USERS = 1000


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A database for Django child processes, migrated: its DATABASES entry."""
    if request.param == "sqlite":
        entry = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "site.sqlite3"),
                 "OPTIONS": {"timeout": 20}}
        yield entry
        return
    server = PostgresServer().start()
    try:
        yield server.django_database(server.create_database("site"))
    finally:
        server.stop()


class Site:
    """Django child processes of the test project on one database and one broker."""

    def __init__(self, spawn, tmp_path, database, broker, **signalbus):
        self.spawn = spawn
        self.env = child_env(
            DJANGO_SETTINGS_MODULE="djangoproject.settings",
            SIGNALBUS_TEST_DJANGO_DIR=str(tmp_path),
            SIGNALBUS_TEST_DATABASE=json.dumps(database),
            SIGNALBUS_TEST_SIGNALBUS=json.dumps(dict(
                {"ENABLED": True, "BROKER": broker.ingest, "OUTBOX": True, "SIGNALS": ["post_save"],
                 "SENDERS": ["auth.User"], "OUTBOX_LEASE": 1.0, "CLOSE_TIMEOUT": 1.0}, **signalbus)),
        )
        self.run("migrate", "--run-syncdb", "-v", "0")

    def run(self, *argv):
        process = self.spawn([PYTHON, "-m", "django"] + list(argv), env=self.env, name="django-" + argv[0])
        status = process.wait(120)
        assert status == 0, "manage.py %s exited %s:\n%s" % (argv[0], status, process.stderr())
        return process

    def start(self, *argv, ready):
        process = self.spawn([PYTHON, "-m", "django"] + list(argv), env=self.env, name="django-" + argv[0])
        process.wait_for_line(ready, 60)
        return process

    def relay(self):
        return self.start("signalbus_relay", ready="signalbus-relay ready")

    def status(self):
        return json.loads(self.run("signalbus_status", "--json").lines[0])


def start_audit(spawn, broker, path):
    process = spawn([program("signalbus-audit"), "--file", path, "--groups", broker.groups, "--group", "audit",
                     "--start", "earliest", "--heartbeat", "200ms", "auth.User/post_save"], name="audit")
    process.wait_for_line("ready")
    return process


def audited(path):
    """Event ids in the audit file, with how often each was logged."""
    return collections.Counter(json.loads(line)["event_id"] for line in appended_lines(path))


def profiles(db):
    return (query(db, "SELECT count(*) FROM profile") or [(0,)])[0][0]


def test_users_committed_by_a_process_killed_while_no_broker_runs_all_get_one_profile(
        spawn, broker, tmp_path, database):
    broker.stop()  # its ports stay reserved for the restart; nobody listens there now
    site = Site(spawn, tmp_path, database, broker)
    django = site.start("create_users", str(USERS), "killed", ready="created %d" % USERS)
    django.signal(signal.SIGKILL)
    django.wait(10)
    assert site.status()["waiting"] == USERS

    broker.start()
    profiles_db = str(tmp_path / "profiles.sqlite3")
    start_profile_creator(spawn, broker, profiles_db)
    audit_file = str(tmp_path / "audit.ndjson")
    start_audit(spawn, broker, audit_file)
    # A relay killed mid-publish, after some of its events were confirmed (and maybe not
    # yet deleted): the next one re-sends what is left, and the broker drops what it has.
    first = site.relay()
    wait_until(lambda: profiles(profiles_db) >= USERS // 5, 60, "a fifth of the profiles")
    first.signal(signal.SIGKILL)
    first.wait(10)
    site.relay()
    wait_until(lambda: profiles(profiles_db) == USERS, 90, "%d profiles" % USERS)
    wait_until(lambda: sum(audited(audit_file).values()) >= USERS, 30, "every event audited")
    counts = audited(audit_file)
    assert len(counts) == USERS and max(counts.values()) == 1, "events logged twice: %s" % counts.most_common(3)
    assert query(profiles_db, "SELECT count(DISTINCT user_id) FROM profile") == [(USERS,)]
    wait_until(lambda: site.status()["waiting"] == 0, 30, "the outbox to empty")


def test_two_relays_at_once_publish_every_event_and_the_log_holds_each_once(spawn, broker, tmp_path, database):
    # A lease long enough that a loaded machine's pauses never let it lapse while its
    # holder runs (with 1 s, a CI build beside the test made both relays publish in turn).
    site = Site(spawn, tmp_path, database, broker, OUTBOX_RELAY="command", OUTBOX_BATCH=50, OUTBOX_LEASE=4.0)
    audit_file = str(tmp_path / "audit.ndjson")
    start_audit(spawn, broker, audit_file)
    relays = [site.relay(), site.relay()]
    site.run("create_users", "500", "pair", "--exit")
    wait_until(lambda: len(audited(audit_file)) == 500, 60, "500 events audited")
    leaders = [r for r in relays if "publishes the outbox" in r.stderr()]
    assert len(leaders) == 1, "relays that published: %d" % len(leaders)
    # The relay that published is killed: the other takes over once its lease lapses,
    # and not before (it never published while the first held the lease).
    follower = next(r for r in relays if r is not leaders[0])
    leaders[0].signal(signal.SIGKILL)
    assert "publishes the outbox" not in follower.stderr()
    site.run("create_users", "300", "after", "--exit")
    wait_until(lambda: len(audited(audit_file)) == 800, 60, "800 events audited")
    assert "publishes the outbox" in follower.stderr()
    counts = audited(audit_file)
    assert max(counts.values()) == 1, "events logged twice: %s" % counts.most_common(3)
    wait_until(lambda: site.status()["waiting"] == 0, 30, "the outbox to empty")


def test_a_rolled_back_save_leaves_no_outbox_row_and_a_committed_one_reaches_its_receiver(
        spawn, broker, bus_settings, tmp_path, unique):
    from signalbus.django.models import OutboxEvent
    from signalbus.django.relay import Relay

    profiles_db = str(tmp_path / "profiles.sqlite3")
    start_profile_creator(spawn, broker, profiles_db)
    with override_settings(SIGNALBUS=bus_settings(OUTBOX=True, OUTBOX_RELAY="command", SIGNALS=["post_save"])):
        from signalbus.django import conf

        before = OutboxEvent.objects.count()
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                User.objects.create_user(unique("ghost"), password="pw")
                assert OutboxEvent.objects.count() == before + 1  # written in the transaction...
                raise RuntimeError("roll back")
        assert OutboxEvent.objects.count() == before  # ...and gone with it

        kept = User.objects.create_user(unique("kept"), password="pw")
        assert OutboxEvent.objects.count() == before + 1
        relay = Relay("default", conf.get())
        relay.run(until=lambda: OutboxEvent.objects.count() == 0 and relay.idle())
    wait_until(lambda: query(profiles_db, "SELECT user_id FROM profile"), 20, "the profile")
    assert query(profiles_db, "SELECT user_id FROM profile") == [(kept.pk,)]


def test_backfill_gives_every_existing_user_one_profile_again_and_after_an_interruption(spawn, broker, tmp_path):
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "site.sqlite3"),
                "OPTIONS": {"timeout": 20}}
    # Users made before any receiver existed: no events for them (SENDERS names another model).
    site = Site(spawn, tmp_path, database, broker, SENDERS=["accounts.Order"], OUTBOX_RELAY="command")
    site.run("create_users", "500", "old", "--exit")
    assert site.status()["waiting"] == 0
    profiles_db = str(tmp_path / "profiles.sqlite3")
    start_profile_creator(spawn, broker, profiles_db)
    audit_file = str(tmp_path / "audit.ndjson")
    start_audit(spawn, broker, audit_file)
    site.relay()

    # Interrupted after a tenth, then resumed: one event per user, none twice.
    killed = site.start("signalbus_backfill", "auth.User", "--batch", "2",
                        ready=lambda line: line.startswith("backfill: ") and int(line.split()[1].split("/")[0]) >= 50)
    killed.signal(signal.SIGKILL)
    killed.wait(10)
    assert not any("events written" in line for line in killed.lines), "the backfill finished before the kill"
    resumed = site.run("signalbus_backfill", "auth.User", "--batch", "50")
    assert "in all, for 500 rows" in resumed.lines[-1], resumed.lines
    wait_until(lambda: profiles(profiles_db) == 500, 60, "500 profiles")
    wait_until(lambda: len(audited(audit_file)) == 500, 30, "500 events audited")
    assert max(audited(audit_file).values()) == 1
    assert query(profiles_db, "SELECT count(DISTINCT user_id) FROM profile") == [(500,)]

    # Again: nothing to do; with --restart, 500 more events and still one profile per user.
    again = site.run("signalbus_backfill", "auth.User")
    assert "already backfilled (500 events)" in again.lines[-1], again.lines
    site.run("signalbus_backfill", "auth.User", "--restart")
    wait_until(lambda: len(audited(audit_file)) == 1000, 60, "1000 events audited")
    wait_until(lambda: site.status()["waiting"] == 0, 30, "the outbox to empty")
    assert profiles(profiles_db) == 500


def _batches(path):
    return [json.loads(line) for line in appended_lines(path)]


def test_a_transaction_reaches_a_batch_receiver_whole_even_when_the_relay_is_killed_mid_publish(
        spawn, broker, tmp_path, database):
    # Orders of 1 + 3 events each, and turns of 10 rows: most transactions straddle a
    # turn's limit, and the relay is killed between turns.
    orders, lines = 150, 3
    site = Site(spawn, tmp_path, database, broker, OUTBOX_RELAY="command", OUTBOX_BATCH=10,
                SENDERS=["accounts.Order", "accounts.OrderLine"])
    out = str(tmp_path / "batches.ndjson")
    start_worker(spawn, broker, "shop", ["worker_batch_receivers"], env=child_env(SIGNALBUS_TEST_OUT=out))
    site.run("create_orders", str(orders), str(lines))
    assert site.status()["waiting"] == orders * (lines + 1)
    first = site.relay()
    wait_until(lambda: len(_batches(out)) >= orders // 4, 60, "a quarter of the orders")
    first.signal(signal.SIGKILL)
    first.wait(10)
    site.relay()
    wait_until(lambda: len({b[0][2] for b in _batches(out)}) == orders, 90, "every order")
    seen = collections.Counter()
    for batch in _batches(out):
        models = sorted(row[0] for row in batch)
        assert models == ["accounts.Order"] + ["accounts.OrderLine"] * lines, "a partial transaction: %s" % batch
        assert len({row[2] for row in batch}) == 1, "rows of two transactions in one call: %s" % batch
        seen[batch[0][2]] += 1
    assert len(seen) == orders
    wait_until(lambda: site.status()["waiting"] == 0, 30, "the outbox to empty")
