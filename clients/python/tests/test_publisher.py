"""signalbus.Publisher against the real broker: confirms, flush, the clear error without a
broker, re-sends after a broker restart and after a silent interval, rejections, the
bound on held events, and many threads publishing at once."""
import threading

import pytest
import zmq

from signalbus import BrokerUnavailable, FlushTimeout, Publisher, PublisherFull, PublishRejected
from signalbus.proto import CONFIRM_TOPIC, event_pb2, groups_pb2
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
    for _ in range(2):
        with Publisher(broker.ingest, "accounts", publisher_id="replaying-publisher") as publisher:
            for pk in (1, 2, 3):
                publisher.custom("shop.Order", "order_paid", {"amount": "19.90"}, pk=pk)
            publisher.flush(10)
    assert broker.metric("signalbus_log_appended_total") == 3
    assert broker.metric("signalbus_ingest_duplicates_total") == 3


def test_silent_broker_gets_everything_unconfirmed_again_in_order():
    # A bare XSUB in place of the broker: it subscribes but never confirms, so the
    # publisher's silent-interval re-send is what brings each event a second time.
    context = zmq.Context.instance()
    xsub = context.socket(zmq.XSUB)
    port = xsub.bind_to_random_port("tcp://127.0.0.1")
    xsub.send(b"\x01")
    publisher = Publisher("tcp://127.0.0.1:%d" % port, "accounts", resend_interval=0.1, connect_timeout=0)
    try:
        # A ZeroMQ socket does its work inside calls on it: polling the XSUB lets it attach
        # the publisher's connection and send it the subscription.
        wait_until(lambda: xsub.poll(10) or publisher.connected, 10, "the publisher to see the subscription")
        for pk in (1, 2, 3):
            publisher.post_save("auth.User", pk)
        received = []
        while len(received) < 6:
            assert xsub.poll(5000), "the publisher sent %d messages, not 6" % len(received)
            topic, data = xsub.recv_multipart()
            event = event_pb2.Event()
            event.ParseFromString(data)
            received.append(event.sequence)
        assert received[:3] == [1, 2, 3] and received[3:6] == [1, 2, 3]
        assert publisher.resends >= 1
        # Confirms sent upstream on the same connection settle the window.
        confirm = groups_pb2.ConfirmBatch()
        confirm.confirms.add(publisher_id="someone-else", durable_through=99)
        confirm.confirms.add(publisher_id=publisher.publisher_id, durable_through=2)
        xsub.send_multipart([CONFIRM_TOPIC, confirm.SerializeToString()])
        wait_until(lambda: publisher.unconfirmed == 1, 10, "the confirm of events 1 and 2")
        rejection = groups_pb2.ConfirmBatch()
        rejection.confirms.add(publisher_id=publisher.publisher_id, durable_through=2).rejections.add(
            sequence=3, reason="oversized")
        xsub.send_multipart([CONFIRM_TOPIC, rejection.SerializeToString()])
        with pytest.raises(PublishRejected, match=r"the broker rejected event 3 \(oversized\)"):
            publisher.flush(10)
    finally:
        publisher.close(0)
        xsub.close(0)


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
