"""GroupMember against a scripted ROUTER standing in for the broker, to put on the wire
what a real broker never sends: garbage replies, undecodable events, a delivery whose
topic is not its event's. The member survives all of it, nacks the bad deliveries with
the reason, acks the good one, joins again after a fatal GroupError, and leaves; it
writes its acks as ranges only to a broker that says it takes them."""
import threading

import zmq

from signalbus import envelope
from signalbus.group_member import GroupMember, GroupOptions, Received
from signalbus.proto import groups_pb2


class ScriptedBroker:
    def __init__(self):
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.endpoint = "tcp://127.0.0.1:%d" % self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.routing_id = None

    def receive(self, skip=("heartbeat",)):
        """The next request, skipping heartbeats (answered)."""
        while True:
            assert self.socket.poll(10_000), "the member sent nothing"
            self.routing_id, frame = self.socket.recv_multipart()
            request = groups_pb2.GroupRequest()
            request.ParseFromString(frame)
            if request.WhichOneof("kind") in skip:
                reply = groups_pb2.GroupReply()
                reply.heartbeat.SetInParent()
                self.send(reply)
                continue
            return request

    def send(self, reply):
        self.send_raw(reply.SerializeToString())

    def send_raw(self, *frames):
        self.socket.send_multipart([self.routing_id] + list(frames))

    def close(self):
        self.socket.close(0)


def joined(member_id="m-1", ack_ranges=False):
    reply = groups_pb2.GroupReply()
    reply.joined.group, reply.joined.member_id = "g", member_id
    reply.joined.ack_ranges = ack_ranges
    return reply


def user_created_bytes(pk):
    event = envelope.model_save("post_save", "auth.User", pk, created=True)
    envelope.complete(event, "accounts", "P", pk, 1_700_000_000_000_000_000)
    return event.SerializeToString()


def test_member_survives_garbage_nacks_bad_deliveries_and_rejoins_after_a_fatal_error():
    broker = ScriptedBroker()
    member = GroupMember(broker.endpoint, "g", GroupOptions(credits=8, heartbeat=0.2, join_timeout=10,
                                                            start="earliest", max_deliver=3))
    opened = threading.Thread(target=member.open, args=(["auth.User/post_save", "auth.User/*", "auth.User/post_save"],))
    opened.start()
    try:
        join = broker.receive().join
        assert join.group == "g" and join.credits == 8 and join.heartbeat_ms == 200
        assert list(join.config.subscriptions) == ["auth.User/post_save", "auth.User/*"]
        assert join.config.start.earliest and join.config.max_deliver == 3
        broker.send_raw(b"\xff\xfe not protobuf")
        broker.send_raw(b"two", b"frames")
        broker.send(joined())
        opened.join(10)
        assert member.joined and member.member_id == "m-1"

        batch = groups_pb2.GroupReply()
        batch.deliveries.deliveries.add(offset=1, attempt=1, topic="auth.User/post_save", event=user_created_bytes(1))
        batch.deliveries.deliveries.add(offset=2, attempt=1, topic="auth.User/post_save", event=b"\x08\x96\x01junk")
        batch.deliveries.deliveries.add(offset=3, attempt=2, topic="auth.User/post_delete", event=user_created_bytes(3))
        broker.send(batch)

        first = member.receive(10)
        assert first.kind == Received.EVENT and first.delivery.event.model_save.instance.pk == "1"
        member.settle(first.delivery, True)
        second = member.receive(10)
        assert second.kind == Received.MALFORMED and "undecodable event at offset 2" in second.problem
        third = member.receive(10)
        assert third.kind == Received.MALFORMED and "does not match event" in third.problem
        assert member.receive(0.05).kind == Received.NOTHING  # sends what it holds

        settled = [broker.receive() for _ in range(3)]
        acks = [r.ack for r in settled if r.WhichOneof("kind") == "ack"]
        nacks = [r.nack for r in settled if r.WhichOneof("kind") == "nack"]
        assert [(d.offset, d.attempt) for d in acks[0].deliveries] == [(1, 1)]
        assert [(n.delivery.offset, n.delivery.attempt) for n in nacks] == [(2, 1), (3, 2)]
        assert "undecodable event at offset 2" in nacks[0].error

        fatal = groups_pb2.GroupReply()
        fatal.error.message, fatal.error.fatal = "unknown member; join again", True
        broker.send(fatal)
        assert member.receive(0.05).kind == Received.NOTHING
        assert not member.joined
        def receive_until_joined():
            for _ in range(200):
                if member.joined:
                    return
                member.receive(0.05)

        rejoin = threading.Thread(target=receive_until_joined)
        rejoin.start()
        assert broker.receive().WhichOneof("kind") == "join"
        broker.send(joined("m-2"))
        rejoin.join(10)
        assert member.joined and member.member_id == "m-2" and member.stats["joins"] == 2

        closing = threading.Thread(target=member.close)
        closing.start()
        assert broker.receive().WhichOneof("kind") == "leave"
        # The barrier: a heartbeat from no member, answered with an error.
        assert broker.receive(skip=()).WhichOneof("kind") == "heartbeat"
        answer = groups_pb2.GroupReply()
        answer.error.message = "unknown member; join again"
        answer.error.fatal = True
        broker.send(answer)
        closing.join(10)
        assert not closing.is_alive()
    finally:
        member.close()
        broker.close()


def test_to_a_broker_that_takes_ranges_acks_go_as_ranges_of_consecutive_offsets():
    broker = ScriptedBroker()
    member = GroupMember(broker.endpoint, "g", GroupOptions(credits=16, heartbeat=1, join_timeout=10, leave_timeout=0.2))
    opened = threading.Thread(target=member.open, args=(["auth.User/post_save"],))
    opened.start()
    try:
        assert broker.receive().WhichOneof("kind") == "join"
        broker.send(joined(ack_ranges=True))
        opened.join(10)
        batch = groups_pb2.GroupReply()
        for offset, attempt in ((10, 1), (11, 1), (12, 1), (13, 2), (20, 1)):
            batch.deliveries.deliveries.add(offset=offset, attempt=attempt, topic="auth.User/post_save",
                                            event=user_created_bytes(offset))
        broker.send(batch)
        for _ in range(5):
            received = member.receive(10)
            assert received.kind == Received.EVENT
            member.settle(received.delivery, True)
        assert member.receive(0.05).kind == Received.NOTHING  # sends what it holds
        ack = broker.receive().ack
        assert not ack.deliveries
        assert [(r.first, r.count, r.attempt) for r in ack.ranges] == [(10, 3, 1), (13, 1, 2), (20, 1, 1)]
    finally:
        member.close()  # nobody answers its Leave: it gives up after leave_timeout
        broker.close()
