"""The publisher's window of unconfirmed events and the bookkeeping of publish confirms.
No sockets and no locking here (the Publisher's lock guards it), so it is unit-tested
alone. See "Publish confirms" in docs/wire-protocol.md."""
import collections

from signalbus.proto import event_pb2, publish_pb2


class Pending:
    """One published event until the broker confirms it: its frames, ready to send."""

    __slots__ = ("sequence", "unconfirmed_from", "topic", "data", "event_id", "done", "unit")

    def __init__(self, sequence, topic, data, event_id="", unconfirmed_from=0, unit=None):
        self.sequence = sequence
        self.unconfirmed_from = unconfirmed_from  # as encoded in data
        self.topic = topic  # bytes
        self.data = data  # bytes: the serialized Event
        self.event_id = event_id
        self.done = False  # confirmed or rejected
        # (index, size) in the atomic batch it was published in, which is sent, logged and
        # settled whole; None: it stands alone.
        self.unit = unit


class Rejection(tuple):
    """(sequence, reason) of an event the broker rejected, as a pair, with the broker's
    sentence for people as ``detail`` (may be empty)."""

    def __new__(cls, sequence, reason, detail=""):
        rejection = super().__new__(cls, (sequence, reason))
        rejection.detail = detail
        return rejection

    @property
    def sequence(self):
        return self[0]

    @property
    def reason(self):
        return self[1]

    def __str__(self):
        return "%s: %s" % (self.reason, self.detail) if self.detail else self.reason


def _inside_unit(batch):
    """Whether the last of `batch` has more of its atomic batch after it."""
    unit = batch[-1].unit if batch else None
    return unit is not None and unit[0] < unit[1] - 1


def wire_messages(batch, max_events, max_bytes):
    """Splits events to send, in order, into messages: [(events, atomic)]. An atomic batch
    is one message of its own; other events run together up to max_events and max_bytes
    (of topics and events) per message; max_events <= 1 (a broker without batches): one
    each, atomic ones too."""
    messages = []
    i = 0
    while i < len(batch):
        first = batch[i]
        if max_events > 1 and first.unit is not None and first.unit[0] == 0 and first.unit[1] > 1:
            size = first.unit[1]
            messages.append((batch[i:i + size], True))
            i += size
            continue
        group = [first]
        size = len(first.topic) + len(first.data)
        i += 1
        while (max_events > 1 and i < len(batch) and batch[i].unit is None and len(group) < max_events
               and size + len(batch[i].topic) + len(batch[i].data) <= max_bytes):
            size += len(batch[i].topic) + len(batch[i].data)
            group.append(batch[i])
            i += 1
        messages.append((group, False))
    return messages


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
        self._last_gap = 0  # resend_from of the last gap re-sent for, and when
        self._last_gap_resend = 0.0
        self.floor = 0  # 0: none; see unconfirmed_from()

    def __len__(self):
        return len(self._pending)

    def oldest_sequence(self):
        """The oldest unconfirmed sequence, or None."""
        return self._pending[0].sequence if self._pending else None

    def unconfirmed_from(self, otherwise):
        """What events and hellos carry as unconfirmed_from: the oldest unconfirmed
        sequence (`otherwise` when none), or the caller's floor when that is lower (a
        relay may re-send, after a restart, events confirmed here but not yet forgotten
        where it keeps them)."""
        oldest = self._pending[0].sequence if self._pending else otherwise
        return min(oldest, self.floor) if self.floor else oldest

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
        """Up to `limit` pending events to send next, in order, taken off the send queue;
        more if the last one taken is inside an atomic batch (it is taken whole)."""
        batch = []
        while self._unsent and (len(batch) < limit or _inside_unit(batch)):
            pending = self._unsent.popleft()
            if not pending.done:
                batch.append(pending)
        return batch

    def put_back(self, batch):
        """Returns events taken by take_unsent() that could not be sent, to go first."""
        self._unsent.extendleft(reversed(batch))

    def resend(self, now):
        """Queues every pending event to be sent again; returns how many there are. The
        first is re-encoded with unconfirmed_from = its own sequence: everything before it
        is confirmed (a broker that does not know this publisher starts it there)."""
        if self._pending and self._pending[0].unconfirmed_from != self.unconfirmed_from(0):
            first = self._pending[0]
            event = event_pb2.Event()
            try:
                event.ParseFromString(first.data)  # made by this publisher: always an Event
            except Exception:
                event = None
            if event is not None:
                event.unconfirmed_from = self.unconfirmed_from(0)
                first.data = event.SerializeToString()
                first.unconfirmed_from = event.unconfirmed_from
        self._unsent = collections.deque(self._pending)
        self.last_progress = now
        if self._pending:
            self.resends += 1
        return len(self._pending)

    def gap_needs_resend(self, resend_from, now, interval):
        """Whether a confirm's resend_from (the broker dropped events above a gap) calls
        for a re-send now: once per gap, and again only after `interval` seconds (every
        event sent before the re-send arrived draws the same answer)."""
        if not resend_from or not self._pending:
            return False
        if resend_from == self._last_gap and now - self._last_gap_resend < interval:
            return False
        self._last_gap, self._last_gap_resend = resend_from, now
        return True

    def apply(self, confirm, now):
        """Applies a PublishConfirm (a message or its bytes). Returns (confirmed, rejections,
        resend_from): how many pending events this confirm settled as durable, the
        Rejection (sequence, reason) of each pending event the broker rejected (removed too), and the
        first sequence the broker is missing (0: none). A confirm for another publisher id
        (one given up already) and sequences no longer pending are ignored. Rejections are
        applied first: a confirm lists every rejection it covers. Raises ValueError for
        bytes that are not a PublishConfirm."""
        if isinstance(confirm, (bytes, bytearray, memoryview)):
            message = publish_pb2.PublishConfirm()
            try:
                message.ParseFromString(bytes(confirm))
            except Exception as error:  # protobuf's DecodeError
                raise ValueError("not a PublishConfirm: %s" % error) from None
            confirm = message
        if confirm.publisher_id != self.publisher_id:
            return 0, [], 0
        rejections = []
        for rejection in confirm.rejections:
            for pending in self._pending:
                if pending.sequence == rejection.sequence:
                    self._pending.remove(pending)
                    pending.done = True
                    rejections.append(Rejection(rejection.sequence, rejection.reason, rejection.detail))
                    break
        confirmed = 0
        while self._pending and self._pending[0].sequence <= confirm.durable_through:
            self._pending.popleft().done = True
            confirmed += 1
        if confirmed:
            self.last_progress = now
        self.confirmed += confirmed
        self.rejected += len(rejections)
        return confirmed, rejections, confirm.resend_from

    def renumber(self, publisher_id):
        """Moves every pending event to a fresh publisher id, numbered 1, 2, 3... in order
        (none of them was logged under the old one), and queues them all to be sent.
        Returns the last sequence used."""
        self.publisher_id = publisher_id
        sequence = 0
        for pending in self._pending:
            sequence += 1
            event = event_pb2.Event()
            event.ParseFromString(pending.data)  # made by this publisher: always an Event
            event.publisher_id = publisher_id
            event.sequence = sequence
            event.unconfirmed_from = 1
            pending.data = event.SerializeToString()
            pending.sequence = sequence
            pending.unconfirmed_from = 1
        self._unsent = collections.deque(self._pending)
        return sequence
