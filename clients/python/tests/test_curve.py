"""CURVE from Python against the real broker, with keys by the real signalbus-keygen: a
granted publisher is confirmed and granted members (in process, and the worker) receive;
an unknown key, a wrong pinned broker key or no CURVE at all fail at once with the cause
named; a topic outside the grants, or any from a key removed by SIGHUP, is rejected
"forbidden"."""
import json
import signal
import time

import pytest

import signalbus
from signalbus.group_member import GroupMember, GroupOptions, Received
from signalbus.group_rules import JoinDenied
from support.curve import keygen, start_curve_broker, write_allow_list
from support.processes import appended_lines, wait_until
from support.programs import PYTHON, child_env, start_worker

QUICK = 3.0  # seconds: a refusal is reported well before any timeout of the test


@pytest.fixture
def bus(spawn, tmp_path):
    """A CURVE broker; keys "accounts" (publishes auth.User), "welcome" (reads and joins),
    and "stranger" (not in the allow-list)."""
    keys = {name: keygen(tmp_path, name) for name in ("accounts", "welcome", "stranger")}
    broker, broker_key = start_curve_broker(spawn, tmp_path, {
        "accounts": {"keys": [keys["accounts"]], "publish": ["auth.User/*"]},
        "welcome": {"keys": [keys["welcome"]], "subscribe": ["auth.User/*"], "join": ["*"]},
    })
    return broker, broker_key, keys


def receive_one(member, timeout=10.0):
    received = member.receive(timeout)
    assert received.kind == Received.EVENT, received.kind
    member.settle(received.delivery, True)
    return received.delivery


def test_granted_publisher_is_confirmed_and_a_granted_member_receives(bus):
    broker, broker_key, keys = bus
    # The broker's key as its .pub file here, as the 40 characters below.
    with signalbus.Publisher(broker.ingest, "accounts", curve_server_key=broker_key.pub_file,
                             curve_key_file=keys["accounts"].key_file) as publisher:
        sent = publisher.post_save("auth.User", 7, {"username": "alice"}, created=True)
        publisher.flush(10)
        assert publisher.unconfirmed == 0
    member = GroupMember(broker.groups, "curve-welcome", GroupOptions(
        start="earliest", curve_server_key=broker_key.public_key, curve_key_file=keys["welcome"].key_file))
    member.open(["auth.User/post_save"])
    try:
        assert receive_one(member).event.event_id == sent.event_id
    finally:
        member.close()


def test_worker_joins_over_curve_from_the_environment_and_receives(spawn, bus, tmp_path):
    broker, broker_key, keys = bus
    out = str(tmp_path / "worker.ndjson")
    start_worker(spawn, broker, "curve", ["worker_receivers"], "--start", "earliest",
                 env=child_env(SIGNALBUS_TEST_OUT=out, SIGNALBUS_CURVE_SERVER_KEY=broker_key.pub_file,
                               SIGNALBUS_CURVE_KEY_FILE=keys["welcome"].key_file))
    with signalbus.Publisher(broker.ingest, "accounts", curve_server_key=broker_key.public_key,
                             curve_key_file=keys["accounts"].key_file) as publisher:
        sent = publisher.post_save("auth.User", 8, {"username": "bob"}, created=True)
        publisher.flush(10)
    lines = wait_until(lambda: appended_lines(out), 20, "the worker to handle the event")
    assert json.loads(lines[0])["event_id"] == sent.event_id


def test_a_worker_whose_join_grant_a_reload_takes_away_exits_1_naming_forbidden(spawn, bus, tmp_path):
    broker, broker_key, keys = bus
    worker = start_worker(spawn, broker, "curve", ["worker_receivers"],
                          env=child_env(SIGNALBUS_TEST_OUT="/dev/null", SIGNALBUS_CURVE_SERVER_KEY=broker_key.pub_file,
                                        SIGNALBUS_CURVE_KEY_FILE=keys["welcome"].key_file))
    write_allow_list(str(tmp_path / "allow.toml"), {
        "accounts": {"keys": [keys["accounts"]], "publish": ["auth.User/*"]},
        "welcome": {"keys": [keys["welcome"]], "subscribe": ["auth.User/*"], "join": ["billing-*"]},
    })
    broker.process.signal(signal.SIGHUP)
    assert worker.wait(30) == 1
    lines = [line for line in worker.stderr().splitlines() if "forbidden" in line]
    assert lines and "JoinDenied" in lines[-1] and "may no longer join group 'curve." in lines[-1], worker.stderr()
    assert "joining again" not in worker.stderr().replace("not joining again", "")


@pytest.mark.parametrize("case", ["unknown key", "wrong broker key", "no curve"])
def test_a_refused_handshake_fails_the_publisher_and_member_at_once_naming_the_cause(bus, case):
    broker, broker_key, keys = bus
    settings, cause = {
        "unknown key": (dict(curve_server_key=broker_key.public_key, curve_key_file=keys["stranger"].key_file),
                        "the broker refused this client's CURVE key (ZAP status 400): it is not in the broker's "
                        "allow-list"),
        "wrong broker key": (dict(curve_server_key=keys["welcome"].public_key,
                                  curve_key_file=keys["accounts"].key_file),
                             "is the pinned --curve-server-key this broker's public key?"),
        "no curve": ({}, "this client and the broker disagree on security (one uses CURVE, the other not)"),
    }[case]
    started = time.monotonic()
    with pytest.raises(signalbus.PermissionDenied) as refused:
        signalbus.Publisher(broker.ingest, "accounts", connect_timeout=30, **settings)
    assert cause in str(refused.value) and broker.ingest in str(refused.value)
    assert time.monotonic() - started < QUICK

    # Not waiting for the broker (as Django does): flush() and the next publish say it. A refusal
    # the link has already seen (a mechanism mismatch is told at once) may stop the publish itself.
    publisher = signalbus.Publisher(broker.ingest, "accounts", connect_timeout=0, **settings)
    started = time.monotonic()
    with pytest.raises(signalbus.PermissionDenied, match="handshake|CURVE key"):
        publisher.post_save("auth.User", 9, {"username": "eve"})
        publisher.flush(30)
    assert time.monotonic() - started < QUICK
    with pytest.raises(signalbus.PermissionDenied):
        publisher.post_save("auth.User", 10, {"username": "eve"})
    publisher.close(0)

    member = GroupMember(broker.groups, "curve-refused", GroupOptions(join_timeout=30, **settings))
    started = time.monotonic()
    with pytest.raises(JoinDenied) as denied:
        member.open(["auth.User/post_save"])
    assert cause in str(denied.value) and isinstance(denied.value, signalbus.PermissionDenied)
    assert time.monotonic() - started < QUICK
    assert broker.metric("signalbus_ingest_accepted_total") == 0


def test_worker_with_an_unknown_key_exits_with_the_cause_in_one_line(spawn, bus):
    broker, broker_key, keys = bus
    worker = spawn([PYTHON, "-m", "signalbus.worker", "--groups", broker.groups, "--curve-server-key",
                    broker_key.pub_file, "--curve-key-file", keys["stranger"].key_file, "worker_receivers"],
                   env=child_env(SIGNALBUS_TEST_OUT="/dev/null"), name="worker")
    assert worker.wait(30) == 1
    assert "it is not in the broker's allow-list" in worker.stderr()


def test_a_topic_outside_the_publish_grants_is_rejected_forbidden(bus):
    broker, broker_key, keys = bus
    with signalbus.Publisher(broker.ingest, "accounts", curve_server_key=broker_key.public_key,
                             curve_key_file=keys["accounts"].key_file) as publisher:
        publisher.post_save("auth.User", 1, {"username": "ok"})
        publisher.custom("shop.Order", "order_paid", {"amount": "1"}, pk=1)
        with pytest.raises(signalbus.PublishForbidden) as forbidden:
            publisher.flush(10)
        assert forbidden.value.rejections == [(2, "forbidden")]
        assert "forbidden" in str(forbidden.value) and "allow-list" in str(forbidden.value)
        assert isinstance(forbidden.value, signalbus.PublishRejected)
        assert isinstance(forbidden.value, signalbus.PermissionDenied)
        publisher.flush(10)  # reported once; the granted event was confirmed


def test_a_member_outside_its_subscribe_grants_is_refused_by_the_broker(bus):
    broker, broker_key, keys = bus
    member = GroupMember(broker.groups, "curve-nosy", GroupOptions(
        curve_server_key=broker_key.public_key, curve_key_file=keys["welcome"].key_file))
    with pytest.raises(signalbus.group_rules.JoinRefused) as refused:
        member.open(["shop.Order/order_paid"])
    assert not isinstance(refused.value, JoinDenied)


def test_a_key_removed_by_sighup_gets_its_next_events_rejected_forbidden(bus, tmp_path):
    broker, broker_key, keys = bus
    with signalbus.Publisher(broker.ingest, "accounts", curve_server_key=broker_key.public_key,
                             curve_key_file=keys["accounts"].key_file) as publisher:
        publisher.post_save("auth.User", 1, {"username": "before"})
        publisher.flush(10)
        write_allow_list(str(tmp_path / "allow.toml"), {
            "welcome": {"keys": [keys["welcome"]], "subscribe": ["auth.User/*"], "join": ["*"]}})
        broker.process.signal(signal.SIGHUP)
        wait_until(lambda: "reloaded: 1 principals" in broker.process.stderr(), 20, "the allow-list to be reloaded")
        publisher.post_save("auth.User", 2, {"username": "after"})
        with pytest.raises(signalbus.PublishForbidden) as forbidden:
            publisher.flush(10)
        assert forbidden.value.rejections == [(2, "forbidden")]
