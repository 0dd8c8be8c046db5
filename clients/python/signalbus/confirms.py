"""The publisher's window of unconfirmed events and the bookkeeping of publish confirms.
No sockets and no locking here (the Publisher's lock guards it), so it is unit-tested
alone. See "Publish confirms" in docs/wire-protocol.md."""
import collections

from signalbus.proto import groups_pb2


class Pending:
    """One published event until the broker confirms it: its frames, ready to send."""

    __slots__ = ("sequence", "topic", "data", "event_id", "done")

    def __init__(self, sequence, topic, data, event_id=""):
        self.sequence = sequence
        self.topic = topic  # bytes
        self.data = data  # bytes: the serialized Event
        self.event_id = event_id
        self.done = False  # confirmed or rejected


class ConfirmWindow:
    """Pending events in ascending sequence order, and the queue of those still to be
    sent on the current connection. resend() queues everything unconfirmed again, in
    order; confirmed and rejected events are skipped when their turn to be sent comes.
    `last_progress` (a monotonic time) is when the broker last confirmed something, or
    the window last started filling or was re-sent: the publisher re-sends after a
    silence measured from it."""

    def __init__(self, publisher_id):
        self.publisher_id = publisher_id
        self._pending = collections.deque()
        self._unsent = collections.deque()
        self.confirmed = 0  # events confirmed so far
        self.rejected = 0  # events the broker refused
        self.resends = 0  # times everything unconfirmed was queued again
        self.last_progress = 0.0

    def __len__(self):
        return len(self._pending)

    def add(self, pending, now):
        if self._pending and pending.sequence <= self._pending[-1].sequence:
            raise ValueError("sequence %d after %d" % (pending.sequence, self._pending[-1].sequence))
        if not self._pending:
            self.last_progress = now
        self._pending.append(pending)
        self._unsent.append(pending)

    def has_unsent(self):
        while self._unsent and self._unsent[0].done:
            self._unsent.popleft()
        return bool(self._unsent)

    def take_unsent(self, limit):
        """Up to `limit` pending events to send next, in order, taken off the send queue."""
        batch = []
        while self._unsent and len(batch) < limit:
            pending = self._unsent.popleft()
            if not pending.done:
                batch.append(pending)
        return batch

    def put_back(self, batch):
        """Returns events taken by take_unsent() that could not be sent, to go first."""
        self._unsent.extendleft(reversed(batch))

    def resend(self, now):
        """Queues every pending event to be sent again; returns how many there are."""
        self._unsent = collections.deque(self._pending)
        self.last_progress = now
        if self._pending:
            self.resends += 1
        return len(self._pending)

    def apply(self, batch, now):
        """Applies a ConfirmBatch (a message or its bytes). Returns (confirmed, rejections):
        how many pending events this batch confirmed, and the (sequence, reason) of each
        pending event the broker rejected (removed too). Entries for other publishers and
        for sequences no longer pending are ignored. Raises ValueError for bytes that are
        not a ConfirmBatch."""
        if isinstance(batch, (bytes, bytearray, memoryview)):
            message = groups_pb2.ConfirmBatch()
            try:
                message.ParseFromString(bytes(batch))
            except Exception as error:  # protobuf's DecodeError
                raise ValueError("not a ConfirmBatch: %s" % error) from None
            batch = message
        confirmed = 0
        rejections = []
        for confirm in batch.confirms:
            if confirm.publisher_id != self.publisher_id:
                continue
            for rejection in confirm.rejections:
                for pending in self._pending:
                    if pending.sequence == rejection.sequence:
                        self._pending.remove(pending)
                        pending.done = True
                        rejections.append((rejection.sequence, rejection.reason))
                        break
            while self._pending and self._pending[0].sequence <= confirm.durable_through:
                self._pending.popleft().done = True
                confirmed += 1
        if confirmed:
            self.last_progress = now
        self.confirmed += confirmed
        self.rejected += len(rejections)
        return confirmed, rejections
