"""signalbus.Publisher against the real broker: confirms, flush, the clear error without a
broker, re-sends after a broker restart and after a silent interval, rejections, the
bound on held events, many threads publishing at once, and a fixed publisher_id that two
publishers (or two runs of one) share."""
import threading

import pytest
import zmq

from signalbus import BrokerUnavailable, FlushTimeout, Publisher, PublisherFull, PublisherRefused, PublishRejected
from signalbus.proto import CONFIRM_KIND, HELLO_KIND, SESSION_KIND, event_pb2, publish_pb2
from support.processes import wait_until
from support.programs import listened_events, start_listener


def test_events_are_confirmed_and_arrive_in_order_with_their_envelope(spawn, broker):
    listener = start_listener(spawn, broker, "auth.User/post_save")
    with Publisher(broker.ingest, "accounts") as publisher:
        for pk in range(1, 21):
            publisher.post_save("auth.User", pk, {"username": "user%d" % pk}, created=True)
        publisher.flush(10)
        assert publisher.unconfirmed == 0
        assert publisher.published == 20
    events = listened_events(listener, 20)
    assert [e["sequence"] for e in events] == [str(s) for s in range(1, 21)]  # uint64 in JSON is a string
    first = events[0]
    assert first["publisher_id"] == publisher.publisher_id
    assert first["source"] == "accounts"
    assert first["ordering_key"] == "auth.User:1"
    assert first["model_save"]["instance"] == {"model": "auth.User", "pk": "1", "fields": {"username": "user1"}}
    assert first["model_save"]["created"] is True


def test_no_broker_is_a_clear_error():
    with pytest.raises(BrokerUnavailable, match=r"no broker answered at tcp://127.0.0.1:9 within 200 ms"):
        Publisher("tcp://127.0.0.1:9", connect_timeout=0.2)


def test_flush_names_how_many_are_unconfirmed_then_a_restarted_broker_gets_them_once(spawn, broker):
    publisher = Publisher(broker.ingest, "accounts", resend_interval=0.2)
    try:
        broker.stop()
        for pk in range(1, 4):
            publisher.post_save("auth.User", pk, created=True)
        with pytest.raises(FlushTimeout, match=r"^3 events not confirmed by the broker at .* within 200 ms "
                                               r"\(broker unreachable\)") as error:
            publisher.flush(0.2)
        assert error.value.unconfirmed == 3
        broker.start()  # same ports, same log
        publisher.flush(20)
        assert publisher.resends >= 1
        assert broker.metric("signalbus_log_appended_total") == 3
    finally:
        publisher.close()


def test_a_fixed_id_reused_by_a_restart_is_refused_and_nothing_is_confirmed_that_is_not_stored(broker):
    with Publisher(broker.ingest, "accounts", publisher_id="accounts-relay") as first:
        for pk in (1, 2, 3):
            first.custom("shop.Order", "order_paid", {"amount": "19.90"}, pk=pk)
        first.flush(10)
    # The same id again, numbering from 1: its events would be taken for re-sends.
    with pytest.raises(PublisherRefused, match=r"publisher id 'accounts-relay': .* refused it \(id_in_use\)"):
        Publisher(broker.ingest, "accounts", publisher_id="accounts-relay")
    assert broker.metric('signalbus_ingest_refused_total{reason="id_in_use"}') == 1
    assert broker.metric("signalbus_log_appended_total") == 3


def test_two_live_publishers_sharing_a_fixed_id_the_older_is_refused_and_every_confirm_is_stored(broker):
    first = Publisher(broker.ingest, "accounts", publisher_id="shared-id")
    second = Publisher(broker.ingest, "accounts", publisher_id="shared-id")  # takes the session over
    try:
        with pytest.raises(PublisherRefused, match=r"gave its session to a newer connection \(taken_over\)"):
            for pk in range(100):
                first.post_save("auth.User", pk)
                first.flush(1)
        for pk in range(100, 110):
            second.post_save("auth.User", pk)
        second.flush(10)
        # A third, started once the second has published, is behind it: refused at once.
        with pytest.raises(PublisherRefused, match=r"\(id_in_use\)"):
            Publisher(broker.ingest, "accounts", publisher_id="shared-id")
    finally:
        first.close(0)
        second.close(0)
    assert broker.metric("signalbus_publisher_sessions_taken_over_total") == 1
    assert broker.metric("signalbus_log_appended_total") == 10


def test_a_generated_id_taken_over_moves_to_a_fresh_one_and_loses_nothing():
    ingest = ScriptedIngest()
    publisher = Publisher(ingest.endpoint, "accounts", connect_timeout=0)
    try:
        ingest.connect(publisher)
        old_id = publisher.publisher_id
        publisher.post_save("auth.User", 1)
        publisher.post_save("auth.User", 2)
        assert [e.sequence for e in ingest.receive(2)] == [1, 2]
        ingest.confirm(old_id, 1)
        wait_until(lambda: publisher.unconfirmed == 1, 10, "the confirm of event 1")
        ingest.reply(publish_pb2.SessionReply.TAKEN_OVER, old_id, "taken_over")
        hello = ingest.serve_hello()
        assert hello.publisher_id != old_id and (hello.unconfirmed_from, hello.next_sequence) == (1, 2)
        resent = ingest.receive(1)
        assert [(e.publisher_id, e.sequence, e.model_save.instance.pk) for e in resent] == [(hello.publisher_id, 1, "2")]
        assert publisher.publisher_id == hello.publisher_id
        ingest.confirm(hello.publisher_id, 1)
        publisher.flush(10)
    finally:
        publisher.close(0)
        ingest.close()


class ScriptedIngest:
    """A bare ROUTER in place of the broker: it answers a connection's probe and hello as
    the broker does, shows what the publisher sends, and confirms only when told to."""

    def __init__(self):
        self.socket = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.endpoint = "tcp://127.0.0.1:%d" % self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.peer = None
        self.publisher_id = ""

    def _next(self):
        assert self.socket.poll(5000), "the publisher sent nothing"
        frames = self.socket.recv_multipart()
        self.peer = frames[0]
        return frames[1:]

    def reply(self, state, publisher_id, reason=""):
        reply = publish_pb2.SessionReply(state=state, publisher_id=publisher_id, reason=reason, message="scripted")
        self.socket.send_multipart([self.peer, SESSION_KIND, reply.SerializeToString()])

    def serve_hello(self):
        """Answers messages until a hello, opens its session and returns it."""
        while True:
            frames = self._next()
            if frames == [b""]:
                self.reply(publish_pb2.SessionReply.NO_SESSION, "")
            elif len(frames) == 2 and frames[0] == HELLO_KIND:
                hello = publish_pb2.PublisherHello()
                hello.ParseFromString(frames[1])
                self.publisher_id = hello.publisher_id
                self.reply(publish_pb2.SessionReply.OPEN, hello.publisher_id)
                return hello

    def connect(self, publisher):
        self.serve_hello()
        wait_until(lambda: publisher.connected, 10, "the publisher to see its session open")

    def receive(self, count):
        events = []
        while len(events) < count:
            frames = self._next()
            assert len(frames) == 2 and frames[0] not in (HELLO_KIND, b""), "not an event: %r" % frames[:1]
            event = event_pb2.Event()
            event.ParseFromString(frames[1])
            events.append(event)
        return events

    def confirm(self, publisher_id, durable_through, resend_from=0, rejections=()):
        confirm = publish_pb2.PublishConfirm(publisher_id=publisher_id, durable_through=durable_through,
                                             resend_from=resend_from)
        for sequence, reason in rejections:
            confirm.rejections.add(sequence=sequence, reason=reason)
        self.socket.send_multipart([self.peer, CONFIRM_KIND, confirm.SerializeToString()])

    def close(self):
        self.socket.close(0)


def test_silent_broker_gets_everything_unconfirmed_again_in_order():
    ingest = ScriptedIngest()
    publisher = Publisher(ingest.endpoint, "accounts", resend_interval=0.1, connect_timeout=0)
    try:
        ingest.connect(publisher)
        for pk in (1, 2, 3):
            publisher.post_save("auth.User", pk)
        events = ingest.receive(6)
        assert [e.sequence for e in events] == [1, 2, 3, 1, 2, 3]
        assert [e.unconfirmed_from for e in events[:3]] == [1, 1, 1]  # nothing confirmed yet
        assert publisher.resends >= 1
        # Confirms sent on the same connection settle the window; one for another id does not.
        ingest.confirm("someone-else", 99)
        ingest.confirm(publisher.publisher_id, 2)
        wait_until(lambda: publisher.unconfirmed == 1, 10, "the confirm of events 1 and 2")
        ingest.confirm(publisher.publisher_id, 2, rejections=[(3, "oversized")])
        with pytest.raises(PublishRejected, match=r"the broker rejected event 3 \(oversized\)"):
            publisher.flush(10)
    finally:
        publisher.close(0)
        ingest.close()


def test_a_gap_reported_by_the_broker_brings_a_resend_at_once():
    ingest = ScriptedIngest()
    publisher = Publisher(ingest.endpoint, "accounts", resend_interval=60, connect_timeout=0)
    try:
        ingest.connect(publisher)
        for pk in (1, 2, 3):
            publisher.post_save("auth.User", pk)
        assert [e.sequence for e in ingest.receive(3)] == [1, 2, 3]
        # The broker logged 1 and dropped 3 because 2 never arrived: it asks from 2.
        ingest.confirm(publisher.publisher_id, 1, resend_from=2)
        resent = ingest.receive(2)  # long before the 60 s resend interval
        assert [(e.sequence, e.unconfirmed_from) for e in resent] == [(2, 2), (3, 1)]
        ingest.confirm(publisher.publisher_id, 3)
        publisher.flush(10)
    finally:
        publisher.close(0)
        ingest.close()


def test_the_real_broker_rejecting_an_event_is_reported_by_flush(spawn, tmp_path):
    from support.programs import Broker

    small = Broker(spawn, str(tmp_path / "small"), ["--max-event-bytes", "500"]).start()
    with Publisher(small.ingest, "accounts") as publisher:
        publisher.post_save("auth.User", 1, {"bio": "x" * 1000})
        publisher.post_save("auth.User", 2, {"bio": "short"})
        with pytest.raises(PublishRejected) as error:
            publisher.flush(10)
        assert [sequence for sequence, _ in error.value.rejections] == [1]
        assert publisher.unconfirmed == 0


def test_a_full_window_refuses_new_events_clearly():
    publisher = Publisher("tcp://127.0.0.1:9", "accounts", connect_timeout=0, max_unconfirmed=2)
    try:
        publisher.post_save("auth.User", 1)
        publisher.post_save("auth.User", 2)
        with pytest.raises(PublisherFull, match=r"2 events await confirms .* \(broker unreachable\)"):
            publisher.publish(event_pb2.Event(signal="order_paid", sender="shop.Order", custom={}), timeout=0.05)
        assert publisher.published == 2
    finally:
        publisher.close(0)


def test_many_threads_publish_through_one_publisher(spawn, broker):
    with Publisher(broker.ingest, "accounts") as publisher:
        def work(base):
            for i in range(200):
                publisher.post_save("auth.User", base + i)

        threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        publisher.flush(20)
        assert publisher.published == 800
    assert broker.metric("signalbus_log_appended_total") == 800
