"""signalbus.Publisher: puts Django-style signals on the bus from any Python service, with
the semantics of the C++ signalbus::Publisher (publisher/include/signalbus/publisher/
publisher.h):

- Sessions: the socket is a DEALER; on each connection the publisher opens a session for
  its publisher id (a hello the broker answers) before it sends events. The constructor
  waits up to connect_timeout for it and raises BrokerUnavailable("no broker answered at
  <endpoint> ...") otherwise; connect_timeout=0 does not wait (events are held until the
  broker is there: what Django uses).
- Confirms: every event is numbered (publisher_id, sequence 1, 2, 3... in send order) and
  kept until the broker confirms it durable, on this connection only. flush(timeout)
  returns once all are, or raises FlushTimeout naming how many are not; events the broker
  rejected raise PublishRejected there.
- Re-sends: unconfirmed events go again, in order, on every new session (the broker
  restarted, the connection came back), when a confirm says the broker is missing events
  (resend_from: it dropped some above a gap), and after resend_interval without a confirm.
  The broker drops the duplicates (it checks that a duplicate is the same event, by id).
- Refusals: if another connection takes the session over (two processes sharing one
  publisher_id) or the broker refuses the id (it holds newer events of that id), a
  generated id is replaced by a fresh one and the unconfirmed events renumbered under it;
  a fixed publisher_id raises PublisherRefused from every later call instead.
- CURVE: with the broker's public key and this client's secret key file (arguments, or
  SIGNALBUS_CURVE_SERVER_KEY / SIGNALBUS_CURVE_KEY_FILE; signalbus.curve), the socket
  encrypts and authenticates to that broker only. A handshake the broker refuses before
  the first session raises PermissionDenied naming the cause (from the constructor, or
  from every later call with connect_timeout=0); an event the broker's grants refuse
  raises PublishForbidden (a PublishRejected with reason "forbidden") from flush().
- Bounded memory: at most max_unconfirmed events are held (at most the broker's
  --publisher-window, 65,536 by default); publish() then waits up to its timeout for room
  and raises PublisherFull. Nothing is dropped: an event that cannot be sent now waits.

Thread-safe: any number of threads may publish; one background thread (IngestLink) owns
the socket. publish() never waits for the network, only (bounded) for room.
"""
import logging
import threading
import time

from signalbus import curve as curve_keys
from signalbus import envelope, ulid
from signalbus.confirms import ConfirmWindow, Pending
from signalbus.endpoints import DEFAULT_INGEST, INGEST_ENV, SOURCE_ENV, from_env, validate_endpoint
from signalbus.errors import (
    BrokerUnavailable,
    FlushTimeout,
    InvalidEvent,
    PublisherClosed,
    PublisherFull,
    PublishForbidden,
    PublishRejected,
    SignalbusError,
)
from signalbus.ingest_link import IngestLink
from signalbus.proto import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES

log = logging.getLogger("signalbus.publisher")


def _ms(seconds):
    return "%d ms" % round(seconds * 1000)


def _told(rejection, fallback=""):
    """'reason: the broker's sentence' of a (sequence, reason) rejection (a Rejection
    carries the sentence; a broker that sent none gets `fallback`)."""
    detail = getattr(rejection, "detail", "") or fallback
    return "%s: %s" % (rejection[1], detail) if detail else rejection[1]


class Publisher:
    def __init__(
        self,
        endpoint=None,
        source=None,
        *,
        publisher_id=None,
        connect_timeout=5.0,
        send_timeout=5.0,
        max_unconfirmed=50_000,
        resend_interval=2.0,
        send_hwm=100_000,
        next_sequence=1,
        resume=(),
        curve_server_key=None,
        curve_key_file=None,
    ):
        """endpoint: the broker's ingest (default $SIGNALBUS_INGEST or tcp://127.0.0.1:5555);
        source: the service's name carried in every event (default $SIGNALBUS_SOURCE or
        "unknown"); publisher_id: default a fresh ULID (the usual choice: a fixed id names one
        publisher instance for as long as the broker remembers it, and two processes, or two
        runs of one, must not share it). Times are in seconds.

        For a publisher whose numbering outlives the process (the outbox relay keeps it in
        its database), with a fixed publisher_id: next_sequence is the sequence its next new
        event carries, and resume the events it numbered before (completed, with their
        sequences, ascending, below next_sequence; a list of events for an atomic batch)
        and may have sent without a confirm; they are held and sent first, and the broker
        drops those it logged already.

        curve_server_key (the broker's public key: 40 Z85 characters or its .pub file) and
        curve_key_file (this client's secret key file, mode 0600): CURVE, each defaulting to
        $SIGNALBUS_CURVE_SERVER_KEY / $SIGNALBUS_CURVE_KEY_FILE; neither: none. CurveKeyError
        when only one is set or a key is refused."""
        self.endpoint = endpoint or from_env(INGEST_ENV, DEFAULT_INGEST)
        validate_endpoint(self.endpoint)
        self.source = source or from_env(SOURCE_ENV, "unknown")
        if max_unconfirmed < 1:
            raise SignalbusError("max_unconfirmed must be at least 1")
        if resend_interval <= 0:
            raise SignalbusError("resend_interval must be positive")
        if publisher_id:
            envelope.validate_publisher_id(publisher_id)
        curve = curve_keys.load_client(curve_server_key, curve_key_file)
        self.send_timeout = send_timeout
        self.max_unconfirmed = max_unconfirmed
        self._cond = threading.Condition()
        self._window = ConfirmWindow(publisher_id or ulid.new_ulid())
        self._rejections = []
        self._published = 0
        self._closed = False
        self._link = IngestLink(self.endpoint, self._cond, self._window, self._rejections, resend_interval, send_hwm,
                                generated_id=not publisher_id, curve=curve)
        resume = list(resume)
        if (resume or next_sequence != 1) and not publisher_id:
            raise SignalbusError("next_sequence and resume need a fixed publisher_id")
        if next_sequence < 1:
            raise SignalbusError("next_sequence must be at least 1")
        with self._cond:
            for item in resume:
                unit = list(item) if isinstance(item, (list, tuple)) else [item]
                for i, event in enumerate(unit):
                    if not event.sequence or event.sequence >= next_sequence or event.sequence != unit[0].sequence + i:
                        raise SignalbusError("a resumed event's sequence (%d) must be between 1 and next_sequence "
                                             "(%d), consecutive within its atomic batch" % (event.sequence, next_sequence))
                self._hold(unit, unit[0].sequence, atomic=True)
            self._link.next_sequence = next_sequence
        self._link.start()
        if connect_timeout and connect_timeout > 0:
            with self._cond:
                self._cond.wait_for(lambda: self._link.open or self._link.failure, connect_timeout)
                connected, failure = self._link.open, self._link.failure
            if not connected:
                self._link.stop()
                self._closed = True
                if failure is not None:
                    raise failure
                raise BrokerUnavailable("no broker answered at %s within %s" % (self.endpoint, _ms(connect_timeout)))

    # ---- state -------------------------------------------------------------------------

    @property
    def publisher_id(self):
        """The current id: a generated one changes when the broker refuses it (see above)."""
        with self._cond:
            return self._window.publisher_id

    @property
    def published(self):
        """Events accepted by publish()."""
        with self._cond:
            return self._published

    @property
    def unconfirmed(self):
        with self._cond:
            return len(self._window)

    @property
    def resends(self):
        """Times the unconfirmed events were sent again."""
        with self._cond:
            return self._window.resends

    @property
    def connected(self):
        """Whether a session is open on the current connection."""
        with self._cond:
            return self._link.open and self._link.connected

    # ---- publishing --------------------------------------------------------------------

    def publish(self, event, timeout=None, *, sequence=None):
        """Completes `event` (a signalbus.v1.Event; whatever is unset: schema_version,
        event_id, source, publisher_id, occurred_at, ordering_key, instance.model; the
        sequence is always assigned), validates it, and hands it to the I/O thread. Returns
        the completed event. With max_unconfirmed events held, waits up to `timeout`
        seconds (default send_timeout) for confirms to make room, then raises PublisherFull.
        Raises InvalidEvent for an event the broker would refuse.

        sequence: with a fixed publisher_id, the sequence to give it instead of the next
        one (a relay's own numbering): at least the next one; the ones skipped must be
        settled at the broker already (confirmed or rejected before)."""
        if timeout is None:
            timeout = self.send_timeout
        with self._cond:
            self._check_open()
            if len(self._window) >= self.max_unconfirmed:
                self._cond.wait_for(
                    lambda: len(self._window) < self.max_unconfirmed or self._closed or self._link.failure, timeout
                )
                self._check_open()
                if len(self._window) >= self.max_unconfirmed:
                    raise PublisherFull(
                        "%d events await confirms from the broker at %s%s; event %s/%s not accepted"
                        % (len(self._window), self.endpoint,
                           "" if self._link.open and self._link.connected else " (broker unreachable)", event.sender, event.signal)
                    )
            if sequence is None:
                sequence = self._link.next_sequence
            elif self._link.generated_id or sequence < self._link.next_sequence:
                raise SignalbusError("sequence %d: a chosen sequence needs a fixed publisher_id and must be at least %d"
                                     % (sequence, self._link.next_sequence))
            self._add(event, sequence)
            self._link.next_sequence = sequence + 1
            self._published += 1
        self._link.wake()
        return event

    def publish_batch(self, events, timeout=None, *, atomic=True, sequences=None):
        """Publishes `events` (completed as publish() does) together. atomic (the default):
        all or nothing — the broker logs every one of them or none (if one is invalid, all
        are rejected, the others with reason "atomic_batch"), and consumer groups deliver
        them as one unit (a receiver with batch=True gets them in one call): the events of
        one database transaction, say. At most MAX_BATCH_EVENTS events and MAX_BATCH_BYTES
        (or the broker's own limits). Not atomic: they are merely sent in one message.
        Returns the completed events. sequences: with a fixed publisher_id, the sequence
        of the first (the rest follow it, consecutively), as publish(sequence=)."""
        events = list(events)
        if not events:
            return events
        if atomic and len(events) > MAX_BATCH_EVENTS:
            raise InvalidEvent("an atomic batch of %d events is over the limit of %d" % (len(events), MAX_BATCH_EVENTS))
        if len(events) > self.max_unconfirmed:
            raise SignalbusError("a batch of %d events is larger than max_unconfirmed (%d)"
                                 % (len(events), self.max_unconfirmed))
        if timeout is None:
            timeout = self.send_timeout
        with self._cond:
            self._check_open()
            if len(self._window) + len(events) > self.max_unconfirmed:
                self._cond.wait_for(lambda: len(self._window) + len(events) <= self.max_unconfirmed or self._closed
                                    or self._link.failure, timeout)
                self._check_open()
                if len(self._window) + len(events) > self.max_unconfirmed:
                    raise PublisherFull("%d events await confirms from the broker at %s; a batch of %d not accepted"
                                        % (len(self._window), self.endpoint, len(events)))
            first = self._link.next_sequence if sequences is None else sequences
            if sequences is not None and (self._link.generated_id or first < self._link.next_sequence):
                raise SignalbusError("sequence %d: a chosen sequence needs a fixed publisher_id and must be at least %d"
                                     % (first, self._link.next_sequence))
            self._hold(events, first, atomic)
            self._link.next_sequence = first + len(events)
            self._published += len(events)
        self._link.wake()
        return events

    def _add(self, event, sequence):
        """Numbers, completes and holds `event`. Caller holds the lock."""
        self._window.add(self._complete(event, sequence, self._window.unconfirmed_from(sequence)), time.monotonic())

    def _hold(self, events, first, atomic):
        """Numbers (first, first + 1, ...), completes and holds `events`, as one atomic
        batch if `atomic`. Caller holds the lock."""
        unconfirmed_from = self._window.unconfirmed_from(first)
        pendings = [self._complete(event, first + i, unconfirmed_from) for i, event in enumerate(events)]
        if atomic and len(pendings) > 1:
            size = sum(len(p.topic) + len(p.data) for p in pendings)
            if size > MAX_BATCH_BYTES:
                raise InvalidEvent("an atomic batch of %d bytes is over the limit of %d" % (size, MAX_BATCH_BYTES))
            for i, pending in enumerate(pendings):
                pending.unit = (i, len(pendings))
        now = time.monotonic()
        for pending in pendings:
            self._window.add(pending, now)

    def _complete(self, event, sequence, unconfirmed_from):
        """Numbers and completes `event`; its Pending, not yet held. Caller holds the lock."""
        # The publisher id and sequence are always this publisher's own.
        event.publisher_id = self._window.publisher_id
        envelope.complete(event, self.source, self._window.publisher_id, sequence, time.time_ns())
        event.sequence = sequence
        # Every event before this one (its batch's first) is confirmed: see "Publish
        # confirms" in docs/wire-protocol.md.
        event.unconfirmed_from = unconfirmed_from
        data = event.SerializeToString()
        if len(data) > MAX_EVENT_BYTES:
            raise InvalidEvent(
                "event of %d bytes is over the broker's default limit of %d" % (len(data), MAX_EVENT_BYTES)
            )
        topic = envelope.topic_of(event).encode()
        return Pending(sequence, topic, data, event.event_id, event.unconfirmed_from)

    def take_settled(self):
        """What the broker settled so far, for a publisher that keeps its events elsewhere
        (the outbox relay): (through, rejections). Every event with a sequence up to
        `through` is confirmed durable except those in `rejections`, a list of (sequence,
        reason) taken here (so flush() no longer raises for them) that the caller must
        record before it forgets the events."""
        with self._cond:
            oldest = self._window.oldest_sequence()
            through = (oldest if oldest is not None else self._link.next_sequence) - 1
            rejections = list(self._rejections)
            del self._rejections[:]
            return through, rejections

    def set_floor(self, sequence):
        """For a publisher that keeps its events elsewhere (the outbox relay): the oldest
        sequence it may still re-send after a restart (0: none). Events and hellos then
        tell the broker unconfirmed_from no higher than this, so that the broker still
        remembers the ids it needs to recognise those re-sends as duplicates."""
        with self._cond:
            self._window.floor = sequence

    def wait_settled(self, through, timeout, until=None):
        """Waits up to `timeout` seconds for a confirm or rejection past `through`, the
        publisher's failure, or `until()` (checked whenever interrupt() is called)."""
        def moved():
            oldest = self._window.oldest_sequence()
            now_through = (oldest if oldest is not None else self._link.next_sequence) - 1
            return (now_through > through or self._rejections or self._link.failure is not None or self._closed
                    or (until is not None and until()))

        with self._cond:
            self._cond.wait_for(moved, timeout)

    def interrupt(self):
        """Wakes a wait_settled() so that it checks its `until`."""
        with self._cond:
            self._cond.notify_all()

    @property
    def failure(self):
        """The error that ended the publisher (e.g. PublisherRefused: another connection
        took its fixed id over), or None."""
        with self._cond:
            return self._link.failure

    def _check_open(self):
        if self._closed:
            raise PublisherClosed("the publisher to %s is closed" % self.endpoint)
        self._check_link()

    def _check_link(self):
        if isinstance(self._link.failure, SignalbusError):
            raise self._link.failure
        if self._link.failure is not None:
            raise SignalbusError("the publisher to %s failed: %s" % (self.endpoint, self._link.failure))

    def flush(self, timeout=5.0):
        """Waits until the broker has confirmed every event published so far (durable).
        Raises FlushTimeout naming how many are unconfirmed, or PublishRejected listing
        the events the broker refused since the last flush (PublishForbidden if one was
        refused by a grant), or the publisher's failure (PermissionDenied: the broker
        refused its CURVE handshake)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._window) and not self._link.failure:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._check_link()
            if len(self._window):
                count = len(self._window)
                raise FlushTimeout(
                    "%d events not confirmed by the broker at %s within %s%s"
                    % (count, self.endpoint, _ms(timeout), "" if self._link.open and self._link.connected else " (broker unreachable)"),
                    count,
                )
            if self._rejections:
                rejections = list(self._rejections)
                del self._rejections[:]
                forbidden = [r for r in rejections if r[1] == "forbidden"]
                first = (forbidden or rejections)[0]
                more = " and %d more" % (len(rejections) - 1) if len(rejections) > 1 else ""
                if forbidden:
                    raise PublishForbidden(
                        "the broker rejected event %d (%s; see this client's publish grants in the broker's "
                        "allow-list)%s" % (first[0], _told(first, "this client's principal may not publish its topic"),
                                           more), rejections
                    )
                raise PublishRejected(
                    "the broker rejected event %d (%s)%s" % (first[0], _told(first), more), rejections
                )

    def close(self, timeout=None):
        """Flushes for up to `timeout` seconds (default send_timeout), logging what could not
        be confirmed, then stops the I/O thread. Idempotent."""
        with self._cond:
            if self._closed:
                return
        try:
            self.flush(self.send_timeout if timeout is None else timeout)
        except SignalbusError as error:
            log.error("publisher closing: %s", error)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._link.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- typed helpers, one per Django signal ------------------------------------------

    def pre_save(self, sender, pk, fields=None, *, raw=False, using="default", update_fields=None):
        return self.publish(envelope.model_save("pre_save", sender, pk, fields, False, raw, using, update_fields))

    def post_save(self, sender, pk, fields=None, *, created=False, raw=False, using="default", update_fields=None):
        """sender: the model label ("auth.User"); fields: JSON-able values."""
        return self.publish(envelope.model_save("post_save", sender, pk, fields, created, raw, using, update_fields))

    def pre_delete(self, sender, pk, fields=None, *, using="default", origin=None):
        return self.publish(envelope.model_delete("pre_delete", sender, pk, fields, using, origin))

    def post_delete(self, sender, pk, fields=None, *, using="default", origin=None):
        """origin: what started the deletion (Django >= 4.1): (model, pk), or
        {"model": ..., "is_queryset": True}."""
        return self.publish(envelope.model_delete("post_delete", sender, pk, fields, using, origin))

    def m2m_changed(self, sender, action, instance_model, pk, *, fields=None, reverse=False, model="",
                    pk_set=None, using="default"):
        """sender: the through model ("auth.User_groups"); action: "post_add" etc."""
        return self.publish(
            envelope.m2m_changed(sender, action, instance_model, pk, fields, reverse, model, pk_set, using)
        )

    def user_logged_in(self, sender, user_pk, username="", request=None):
        """sender: the user model label; request: {"method", "path", "remote_addr", "user_agent"}."""
        return self.publish(envelope.user_session("user_logged_in", sender, user_pk, username, request))

    def user_logged_out(self, sender, user_pk=None, username="", request=None):
        return self.publish(envelope.user_session("user_logged_out", sender, user_pk, username, request))

    def user_login_failed(self, credentials, request=None, sender="django.contrib.auth"):
        """Secret-looking credentials are masked before anything leaves the process."""
        return self.publish(envelope.login_failed(sender, credentials, request))

    def custom(self, sender, signal, kwargs=None, pk=None):
        """Any other signal ("order_paid"); `pk` orders the events about one object."""
        return self.publish(envelope.custom(sender, signal, kwargs, pk))
