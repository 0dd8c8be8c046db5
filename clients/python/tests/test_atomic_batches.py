"""Atomic batches in the Python client: publish_batch() through the real broker to a
batch receiver that gets them as one unit (acked once), the wire messages a window's
events become, and a group member answering a unit once — and nacking all of it when
one of its events failed."""
import threading

import pytest

from signalbus import InvalidEvent, Publisher, envelope
from signalbus.confirms import Pending, wire_messages
from signalbus.consumer import Consumer
from signalbus.group_member import GroupMember, GroupOptions
from signalbus.proto import groups_pb2
from signalbus.registry import Registry
from support.processes import wait_until
from test_group_member import ScriptedBroker, joined, user_created_bytes
from test_worker import group_info


def _users(first, last):
    return [envelope.model_save("post_save", "auth.User", pk, {"username": "u%d" % pk}, created=True)
            for pk in range(first, last + 1)]


def test_an_atomic_batch_reaches_a_batch_receiver_as_one_unit_acked_once(broker):
    registry = Registry()
    calls = []
    registry.add(["auth.User/post_save"], lambda events: calls.append([e.model_save.instance.pk for e in events]),
                 uid="batch-unit", batch=True)
    consumer = Consumer(registry, broker.groups, "batch-unit",
                        GroupOptions(heartbeat=0.2, start="earliest", join_timeout=10))
    consumer.connect()
    runner = threading.Thread(target=consumer.run)
    runner.start()
    try:
        with Publisher(broker.ingest, "accounts") as publisher:
            publisher.publish_batch(_users(1, 3))
            publisher.post_save("auth.User", 4, {"username": "u4"}, created=True)
            publisher.publish_batch(_users(5, 6), atomic=False)
            publisher.flush(10)
        wait_until(lambda: sum(len(c) for c in calls) == 6, 20, "six events")
    finally:
        consumer.stop()
        runner.join(20)
    assert calls[0] == ["1", "2", "3"]  # the atomic batch, in one call
    assert all(len(c) == 1 for c in calls[1:])  # the others one by one
    info = group_info(broker, "batch-unit")
    assert info["acked"] == 4 and info["redelivered"] == 0 and info["pending"] == 0


def test_publish_batch_refuses_an_invalid_event_before_anything_is_held(broker):
    with Publisher(broker.ingest, "accounts") as publisher:
        events = _users(1, 3)
        events[1].sender = "not a label"
        with pytest.raises(InvalidEvent):
            publisher.publish_batch(events)
        assert publisher.published == 0 and publisher.unconfirmed == 0


def _pending(sequence, unit=None):
    return Pending(sequence, b"auth.User/post_save", b"x" * 100, unit=unit)


def test_wire_messages_keep_an_atomic_batch_alone_and_run_the_rest_together_within_bounds():
    window = [_pending(1), _pending(2), _pending(3, (0, 2)), _pending(4, (1, 2)), _pending(5), _pending(6),
              _pending(7)]
    messages = [([p.sequence for p in events], atomic) for events, atomic in wire_messages(window, 2, 10_000)]
    assert messages == [([1, 2], False), ([3, 4], True), ([5, 6], False), ([7], False)]
    by_bytes = wire_messages(window[:2], 1000, 150)  # one event's 119 bytes fit, two do not
    assert [len(events) for events, _ in by_bytes] == [1, 1]
    older_broker = wire_messages(window, 0, 0)  # no batches: one event per message, atomic ones too
    assert [(len(events), atomic) for events, atomic in older_broker] == [(1, False)] * 7


def _unit_delivery(batch, offset, unit_offset, unit_size, pk):
    batch.deliveries.deliveries.add(offset=offset, attempt=1, topic="auth.User/post_save",
                                    event=user_created_bytes(pk), unit_offset=unit_offset, unit_size=unit_size)


@pytest.mark.parametrize("fail", [False, True])
def test_a_member_answers_a_unit_once_by_its_first_offset(fail):
    broker = ScriptedBroker()
    member = GroupMember(broker.endpoint, "g", GroupOptions(credits=8, heartbeat=0.2, join_timeout=10))
    opened = threading.Thread(target=member.open, args=(["auth.User/post_save"],))
    opened.start()
    try:
        broker.receive()  # the Join
        broker.send(joined())
        opened.join(10)
        batch = groups_pb2.GroupReply()
        for i in range(3):
            _unit_delivery(batch, 10 + i, 10, 3, i + 1)
        batch.deliveries.deliveries.add(offset=13, attempt=1, topic="auth.User/post_save", event=user_created_bytes(4))
        broker.send(batch)
        for i in range(4):
            received = member.receive(10)
            member.settle(received.delivery, not (fail and i == 1), "line 2 failed")
        member.receive(0.05)  # sends what it holds
        answers = [broker.receive(), broker.receive()] if fail else [broker.receive()]
        acks = [(d.offset, d.attempt) for r in answers if r.WhichOneof("kind") == "ack" for d in r.ack.deliveries]
        nacks = [(r.nack.delivery.offset, r.nack.error) for r in answers if r.WhichOneof("kind") == "nack"]
        if fail:
            assert acks == [(13, 1)] and nacks == [(10, "line 2 failed")]
        else:
            assert acks == [(10, 1), (13, 1)] and nacks == []
    finally:
        member.close()
        broker.close()
