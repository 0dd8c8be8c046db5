"""signalbus.Publisher against the real broker: confirms, flush, the clear error without a
broker, re-sends after a broker restart and after a silent interval, rejections, the
bound on held events, and many threads publishing at once."""
import threading

import pytest
import zmq

from signalbus import BrokerUnavailable, FlushTimeout, Publisher, PublisherFull, PublishRejected
from signalbus.proto import CONFIRM_TOPIC, event_pb2, publish_pb2
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


def test_resent_events_the_broker_already_logged_are_confirmed_not_logged_twice(broker):
    # A second publisher with the same id sends sequences 1..3 again: exactly what the
    # broker sees when a publisher re-sends events whose confirm it missed.
    for replay in (False, True):
        with Publisher(broker.ingest, "accounts", publisher_id="replaying-publisher") as publisher:
            for pk in (1, 2, 3):
                publisher.custom("shop.Order", "order_paid", {"amount": "19.90"}, pk=pk)
            publisher.flush(10)
            if replay:
                # The confirm for the first duplicate covers all three, so the I/O thread
                # may drop 2 and 3 unsent. A new event, confirmed in turn, shows that the
                # broker has read whatever of 1..3 this connection did send before it.
                publisher.custom("shop.Order", "order_paid", {"amount": "5.00"}, pk=4)
                publisher.flush(10)
    duplicates = broker.metric("signalbus_ingest_duplicates_total")
    assert 1 <= duplicates <= 3
    assert broker.metric("signalbus_log_appended_total") == 4
    assert broker.metric("signalbus_ingest_accepted_total") == 4 + duplicates


class BareIngest:
    """A bare XSUB in place of the broker: it subscribes, shows what the publisher sends,
    and sends confirms upstream only when told to."""

    def __init__(self):
        self.socket = zmq.Context.instance().socket(zmq.XSUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.endpoint = "tcp://127.0.0.1:%d" % self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.socket.send(b"\x01")

    def connect(self, publisher):
        # A ZeroMQ socket does its work inside calls on it: polling the XSUB lets it attach
        # the publisher's connection and send it the subscription.
        wait_until(lambda: self.socket.poll(10) or publisher.connected, 10, "the publisher to see the subscription")

    def receive(self, count):
        events = []
        while len(events) < count:
            assert self.socket.poll(5000), "the publisher sent %d events, not %d" % (len(events), count)
            event = event_pb2.Event()
            event.ParseFromString(self.socket.recv_multipart()[1])
            events.append(event)
        return events

    def confirm(self, publisher_id, durable_through, resend_from=0, rejections=()):
        message = publish_pb2.ConfirmBatch()
        message.confirms.add(publisher_id="someone-else", durable_through=99)
        confirm = message.confirms.add(publisher_id=publisher_id, durable_through=durable_through,
                                       resend_from=resend_from)
        for sequence, reason in rejections:
            confirm.rejections.add(sequence=sequence, reason=reason)
        self.socket.send_multipart([CONFIRM_TOPIC, message.SerializeToString()])

    def close(self):
        self.socket.close(0)


def test_silent_broker_gets_everything_unconfirmed_again_in_order():
    ingest = BareIngest()
    publisher = Publisher(ingest.endpoint, "accounts", resend_interval=0.1, connect_timeout=0)
    try:
        ingest.connect(publisher)
        for pk in (1, 2, 3):
            publisher.post_save("auth.User", pk)
        events = ingest.receive(6)
        assert [e.sequence for e in events] == [1, 2, 3, 1, 2, 3]
        assert [e.unconfirmed_from for e in events[:3]] == [1, 1, 1]  # nothing confirmed yet
        assert publisher.resends >= 1
        # Confirms sent upstream on the same connection settle the window.
        ingest.confirm(publisher.publisher_id, 2)
        wait_until(lambda: publisher.unconfirmed == 1, 10, "the confirm of events 1 and 2")
        ingest.confirm(publisher.publisher_id, 2, rejections=[(3, "oversized")])
        with pytest.raises(PublishRejected, match=r"the broker rejected event 3 \(oversized\)"):
            publisher.flush(10)
    finally:
        publisher.close(0)
        ingest.close()


def test_a_gap_reported_by_the_broker_brings_a_resend_at_once():
    ingest = BareIngest()
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
