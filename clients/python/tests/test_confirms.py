"""The confirm window's bookkeeping: cumulative confirms for this publisher id, rejections,
the send queue, re-sends in order, and renumbering under a fresh id."""
import pytest

from signalbus.confirms import ConfirmWindow, Pending
from signalbus.proto import event_pb2, publish_pb2


def window_with(count, publisher_id="P"):
    window = ConfirmWindow(publisher_id)
    for sequence in range(1, count + 1):
        event = event_pb2.Event(sequence=sequence, unconfirmed_from=1)
        window.add(Pending(sequence, b"auth.User/post_save", event.SerializeToString(), unconfirmed_from=1), now=1.0)
    return window


def batch(*confirms, resend_from=0):
    """A PublishConfirm from (publisher_id, durable_through, rejections): one per call, as
    the broker sends them."""
    (publisher_id, through, rejections), = confirms
    message = publish_pb2.PublishConfirm(publisher_id=publisher_id, durable_through=through, resend_from=resend_from)
    for sequence, reason in rejections:
        message.rejections.add(sequence=sequence, reason=reason)
    return message


def sequences(events):
    return [p.sequence for p in events]


def test_confirms_are_cumulative_and_only_for_this_publisher():
    window = window_with(5)
    assert window.apply(batch(("other", 5, [])), now=2.0) == (0, [], 0)
    assert len(window) == 5
    assert window.apply(batch(("P", 3, [])), now=2.0) == (3, [], 0)
    assert len(window) == 2
    assert window.apply(batch(("P", 2, [])), now=3.0) == (0, [], 0)  # an older, repeated confirm
    assert window.apply(batch(("P", 5, [])).SerializeToString(), now=3.0) == (2, [], 0)
    assert len(window) == 0 and window.confirmed == 5


def test_rejections_are_reported_once_and_removed():
    window = window_with(3)
    confirmed, rejections, _ = window.apply(batch(("P", 1, [(2, "oversized"), (9, "unknown")])), now=2.0)
    assert confirmed == 1
    assert rejections == [(2, "oversized")]
    assert sequences(window.take_unsent(10)) == [3]


def test_send_queue_hands_out_each_event_once_until_a_resend():
    window = window_with(4)
    assert sequences(window.take_unsent(3)) == [1, 2, 3]
    assert sequences(window.take_unsent(3)) == [4]
    assert window.take_unsent(3) == []
    window.apply(batch(("P", 1, [])), now=2.0)
    assert window.resend(now=3.0) == 3
    assert window.resends == 1
    assert sequences(window.take_unsent(10)) == [2, 3, 4]


def test_confirmed_events_queued_for_sending_are_skipped():
    window = window_with(4)
    window.take_unsent(10)
    window.resend(now=2.0)
    window.apply(batch(("P", 2, [])), now=2.5)
    assert sequences(window.take_unsent(10)) == [3, 4]


def test_events_put_back_go_first_in_order():
    window = window_with(5)
    taken = window.take_unsent(4)
    window.put_back(taken[2:])
    assert sequences(window.take_unsent(10)) == [3, 4, 5]


def test_last_progress_moves_on_first_event_confirm_and_resend():
    window = ConfirmWindow("P")
    window.add(Pending(1, b"t", b"", unconfirmed_from=1), now=10.0)
    window.add(Pending(2, b"t", b"", unconfirmed_from=1), now=11.0)
    assert window.last_progress == 10.0  # the silence is measured from the oldest
    window.apply(batch(("P", 1, [])), now=12.0)
    assert window.last_progress == 12.0
    window.resend(now=15.0)
    assert window.last_progress == 15.0


def test_sequences_must_rise_and_garbage_is_a_value_error():
    window = window_with(2)
    with pytest.raises(ValueError):
        window.add(Pending(2, b"t", b"d"), now=1.0)
    with pytest.raises(ValueError, match="not a PublishConfirm"):
        window.apply(b"\xff\xff\xff", now=1.0)


def decoded(pending):
    event = event_pb2.Event()
    event.ParseFromString(pending.data)
    return event


def test_a_resend_first_event_says_everything_before_it_is_confirmed():
    window = window_with(4)
    window.take_unsent(10)
    window.apply(batch(("P", 2, [])), now=2.0)
    window.resend(now=3.0)
    first, second = window.take_unsent(2)
    assert (first.sequence, first.unconfirmed_from, decoded(first).unconfirmed_from) == (3, 3, 3)
    assert decoded(first).sequence == 3  # the rest of the event is as it was
    assert (second.sequence, decoded(second).unconfirmed_from) == (4, 1)  # not re-encoded


def test_a_gap_is_reported_and_resent_once_per_interval():
    window = window_with(3)
    assert window.apply(batch(("P", 0, []), resend_from=1), now=2.0) == (0, [], 1)
    assert window.apply(batch(("other", 0, []), resend_from=5), now=2.0) == (0, [], 0)
    assert window.gap_needs_resend(1, now=2.0, interval=1.0)
    assert not window.gap_needs_resend(1, now=2.5, interval=1.0)  # the same gap, answered again
    assert window.gap_needs_resend(2, now=2.6, interval=1.0)  # a new gap
    assert window.gap_needs_resend(2, now=3.7, interval=1.0)  # the re-send went missing too
    assert not window.gap_needs_resend(0, now=9.0, interval=1.0)


def test_a_confirm_lists_its_rejections_before_the_cumulative_point_covers_them():
    window = window_with(4)
    confirmed, rejections, _ = window.apply(batch(("P", 4, [(2, "invalid_event")])), now=2.0)
    assert (confirmed, rejections) == (3, [(2, "invalid_event")])
    assert window.confirmed == 3 and window.rejected == 1


def test_renumbering_moves_every_pending_event_to_the_new_id_from_one():
    window = window_with(5)
    window.apply(batch(("P", 2, [])), now=2.0)
    assert window.renumber("Q") == 3
    assert window.publisher_id == "Q"
    events = [decoded(p) for p in window.take_unsent(10)]
    assert [(e.publisher_id, e.sequence, e.unconfirmed_from) for e in events] == [("Q", 1, 1), ("Q", 2, 1), ("Q", 3, 1)]
    assert window.apply(batch(("P", 9, [])), now=3.0) == (0, [], 0)  # a confirm for the old id
    assert window.apply(batch(("Q", 2, [])), now=3.0) == (2, [], 0)


def test_a_floor_keeps_unconfirmed_from_at_what_the_caller_may_still_resend():
    window = window_with(5)
    assert window.unconfirmed_from(6) == 1
    window.apply(batch(("P", 3, [])), now=2.0)
    assert window.unconfirmed_from(6) == 4  # memory alone: everything below 4 is confirmed
    window.floor = 2  # ...but the caller's store still holds 2 and 3 (an outbox relay)
    assert window.unconfirmed_from(6) == 2
    window.resend(now=3.0)
    first = event_pb2.Event.FromString(window.take_unsent(1)[0].data)
    assert first.sequence == 4 and first.unconfirmed_from == 2  # a re-send says so too
    window.apply(batch(("P", 5, [])), now=4.0)
    assert window.unconfirmed_from(6) == 2
    window.floor = 6
    assert window.unconfirmed_from(6) == 6
