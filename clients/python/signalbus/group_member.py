"""GroupMember: one member of a consumer group on the broker's groups endpoint: a DEALER to
the broker's ROUTER, one GroupRequest / GroupReply per frame (proto/signalbus/v1/
groups.proto, docs/consumer-groups.md). The Python twin of receivers/group_source.cc.

Its life: open() joins and waits for Joined. receive() hands out the events of each
DeliveryBatch one at a time, sends heartbeats, batches acks, and joins again when the
broker says it does not know the member (a fatal GroupError: it restarted) or stops
answering heartbeats (three intervals). Deliveries in hand from a lost membership are
still handed out but not settled: the broker refuses such acks and delivers them again.
drain() and close() finish: what is in hand is handed out and settled, then Leave.
With CURVE (GroupOptions' curve_server_key and curve_key_file, or SIGNALBUS_CURVE_*), a
handshake the broker refuses while joining fails open() with JoinDenied (a PermissionDenied)
naming the cause; one refused later is logged and retried.

Single-threaded: everything runs on the caller's thread inside open(), receive() and
close(); heartbeats go out between deliveries, so a receiver running longer than three
heartbeat intervals makes the broker presume the member gone. Nothing a peer sends makes
it raise: bad replies are logged (rate-limited) and skipped.
"""
import collections
import logging
import os
import socket as socket_module
import time

import zmq

from signalbus import curve as curve_keys
from signalbus.connection_watch import REFUSED, ConnectionWatch
from signalbus.endpoints import printable, validate_endpoint
from signalbus.envelope import topic_of, validate
from signalbus.errors import InvalidEvent, SignalbusError
from signalbus.group_rules import (  # noqa: F401  (GroupError and validate_group_name are part of this API)
    MAX_NACK_ERROR_BYTES, MISSED_HEARTBEATS, GroupError, JoinDenied, JoinRefused, JoinTimedOut, add_ack_ranges,
    validate_group_name, validate_heartbeat)
from signalbus.proto import MAX_EVENT_BYTES, event_pb2, groups_pb2
from signalbus.ratelimit import RateLimiter

log = logging.getLogger("signalbus.group")

JOIN_SEND_RETRY = 0.1  # a Join that found no connection is tried again this often
IN_HAND_READ_INTERVAL = 0.0002  # seconds between reads of the sockets while deliveries are in hand


def default_member_name():
    return "%s:%d" % (socket_module.gethostname() or "unknown", os.getpid())


def start_position(start):
    """A StartPosition from None (broker default: latest), "earliest", "latest", an offset
    (int) or a datetime."""
    position = groups_pb2.StartPosition()
    if start is None:
        return None
    if start == "earliest":
        position.earliest = True
    elif start == "latest":
        position.latest = True
    elif isinstance(start, int) and start >= 0:
        position.offset = start
    elif hasattr(start, "timestamp"):
        position.time.FromDatetime(start)
    else:
        raise GroupError("start position %r is not earliest, latest, an offset or a time" % (start,))
    return position


class GroupOptions:
    """Credits, the byte window (0: the broker's default), heartbeat (10 ms to 1 min) and
    timeouts (seconds), the group's configuration sent with every Join (the broker
    applies it when it creates the group; 0/None: its default), and CURVE: the broker's
    public key (Z85 or its .pub file) and this member's secret key file, each defaulting
    to $SIGNALBUS_CURVE_SERVER_KEY / $SIGNALBUS_CURVE_KEY_FILE (signalbus.curve)."""

    def __init__(self, member_name="", credits=64, heartbeat=1.0, join_timeout=10.0, leave_timeout=1.0,
                 ack_batch=64, start=None, ack_timeout=0.0, max_deliver=0, backoff_initial=0.0, backoff_max=0.0,
                 window_bytes=0, curve_server_key="", curve_key_file=""):
        self.curve_server_key = curve_server_key
        self.curve_key_file = curve_key_file
        self.member_name = member_name or default_member_name()
        self.credits = credits
        self.window_bytes = window_bytes
        self.heartbeat = heartbeat
        self.join_timeout = join_timeout
        self.leave_timeout = leave_timeout
        self.ack_batch = ack_batch
        self.start = start
        self.ack_timeout = ack_timeout
        self.max_deliver = max_deliver
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max


class Delivery:
    __slots__ = ("offset", "attempt", "topic", "event", "unit_offset", "unit_size")

    def __init__(self, offset, attempt, topic, event, unit_offset=0, unit_size=0):
        self.offset = offset
        self.attempt = attempt
        self.topic = topic
        self.event = event  # a decoded, valid signalbus.v1.Event
        # Part of an atomic batch delivered as one unit (unit_size deliveries in a row,
        # answered together once all are settled); 0 when it stands alone.
        self.unit_offset = unit_offset
        self.unit_size = unit_size


def _answer_key(delivery):
    """What an ack or nack of this delivery names: (its unit's first offset or its own, attempt)."""
    return (delivery.unit_offset if delivery.unit_size else delivery.offset, delivery.attempt)


class Received:
    NOTHING, EVENT, MALFORMED, DRAINED = "nothing", "event", "malformed", "drained"
    __slots__ = ("kind", "delivery", "problem")

    def __init__(self, kind, delivery=None, problem=""):
        self.kind = kind
        self.delivery = delivery
        self.problem = problem


def _ms(seconds):
    return max(0, min(int(round(seconds * 1000)), 2**32 - 1))


def _utf8(text, limit):
    return text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")


class GroupMember:
    def __init__(self, endpoint, group, options=None, max_event_bytes=MAX_EVENT_BYTES, context=None):
        self.endpoint = endpoint
        self.group = group
        self.options = options or GroupOptions()
        self.max_event_bytes = max_event_bytes
        self._context = context or zmq.Context.instance()
        self._socket = None
        self._watch = None  # the ConnectionWatch of _socket
        self._poller = None
        self._state = "closed"  # closed, joining, joined
        self._draining = False
        self._join = None
        self.member_id = ""
        self._ack_ranges = False  # the broker takes Ack.ranges (its Joined says so)
        self._last_refusal = ""
        self._forbidden = None  # a JoinDenied once the broker said "forbidden" to this member
        self._in_hand = collections.deque()  # groups_pb2.Delivery, not yet handed out
        self._last_read = 0.0  # when _pump last read the sockets
        self._stale = set()  # (offset, attempt) of a lost membership: not settled
        self._units = {}  # (unit offset, attempt) -> [events left to settle, first error or None]
        self._acks = []  # groups_pb2.DeliveryRef
        self._nacks = []  # groups_pb2.Nack
        self._next_join = 0.0
        self._next_heartbeat = 0.0
        self._unanswered_since = None
        self._log_limiter = RateLimiter()
        self.stats = collections.Counter()  # delivered, acked, nacked, joins, returned

    @property
    def joined(self):
        return self._state == "joined"

    def describe(self):
        return "group %s at %s" % (self.group, self.endpoint)

    def make_join(self, patterns):
        join = groups_pb2.Join(group=self.group, member_name=self.options.member_name,
                               credits=self.options.credits, window_bytes=self.options.window_bytes,
                               heartbeat_ms=_ms(self.options.heartbeat))
        config = join.config
        for pattern in patterns:
            text = str(pattern)
            if text not in config.subscriptions:
                config.subscriptions.append(text)
        position = start_position(self.options.start)
        if position is not None:
            config.start.CopyFrom(position)
        config.ack_timeout_ms = _ms(self.options.ack_timeout)
        config.max_deliver = self.options.max_deliver
        config.backoff_initial_ms = _ms(self.options.backoff_initial)
        config.backoff_max_ms = _ms(self.options.backoff_max)
        return join

    # ---- joining -----------------------------------------------------------------------

    def open(self, patterns, interrupted=None):
        """Joins with `patterns` as the group's subscriptions and waits for Joined. Raises
        GroupError for a bad name, endpoint or option, for a refusal ("the broker at <ep>
        refused to join group <g>: <reason>"; JoinDenied when it refused the CURVE
        handshake), "no broker answered at <ep> within ...", or when `interrupted()`
        (optional, polled while waiting) turns true; CurveKeyError for CURVE settings that
        cannot be used."""
        if self._socket is not None:
            raise GroupError("group member is already open")
        validate_group_name(self.group)
        if not patterns:
            raise GroupError("group %s: no topic patterns to subscribe to" % self.group)
        if self.options.credits < 1:
            raise GroupError("group %s: credits must be at least 1" % self.group)
        try:
            validate_heartbeat(self.options.heartbeat)
        except GroupError as error:
            raise GroupError("group %s: %s" % (self.group, error)) from None
        try:
            validate_endpoint(self.endpoint)
        except SignalbusError as error:
            raise GroupError("groups endpoint: %s" % error) from None
        curve = curve_keys.load_client(self.options.curve_server_key, self.options.curve_key_file)
        self._join = self.make_join(patterns)
        self._socket = self._context.socket(zmq.DEALER)
        if curve is not None:
            try:
                curve.apply(self._socket)
            except Exception:
                self._socket.close(0)
                self._socket = None
                raise
        # What is queued at close (the last acks, Leave) may still go out.
        self._socket.setsockopt(zmq.LINGER, _ms(self.options.leave_timeout))
        # Queue only to a live connection: requests written while the broker is away are
        # not replayed to a restarted broker, which would answer each "unknown member".
        self._socket.setsockopt(zmq.IMMEDIATE, 1)
        self._watch = ConnectionWatch(self._socket, curve=curve is not None)
        self._poller = zmq.Poller()
        self._poller.register(self._watch.socket, zmq.POLLIN)
        self._socket.connect(self.endpoint)
        self._state = "joining"
        self._draining = False
        self._last_refusal = ""
        self._next_join = time.monotonic()
        deadline = time.monotonic() + self.options.join_timeout
        denied = False
        while self._state != "joined":
            self._pump()
            # Only Joins were sent on this connection so far; a failed handshake means no
            # Join will ever get through.
            if self._state != "joined" and self._watch.refusal:
                self._last_refusal, denied = self._watch.refusal, True
            if self._state == "joined" or self._last_refusal or time.monotonic() >= deadline:
                break
            if interrupted is not None and interrupted():
                self.close()
                raise GroupError("interrupted before the broker at %s confirmed the join of group %s"
                                 % (self.endpoint, self.group))
            self._wait(min(deadline, time.monotonic() + 0.1) if interrupted is not None else deadline)
        if self._state != "joined":
            refusal = self._last_refusal
            self.close()
            if refusal:
                raise (JoinDenied if denied else JoinRefused)(
                    "the broker at %s refused to join group %s: %s" % (self.endpoint, self.group, refusal))
            raise JoinTimedOut("no broker answered at %s within %d ms" % (self.endpoint, _ms(self.options.join_timeout)))

    # ---- the protocol ------------------------------------------------------------------

    def _pump(self):
        """Reads every waiting reply, then runs the timers (heartbeat, silence, re-join)
        and sends a full ack batch. Never blocks."""
        # Refused after it let this member in (a key removed since, a broker with another
        # key): logged; the socket tries again (open() reports a refusal while joining).
        now = time.monotonic()
        # An empty read costs ZeroMQ two system calls, more than handing out a delivery:
        # with deliveries in hand, the sockets are read once per IN_HAND_READ_INTERVAL.
        read = not self._in_hand or now - self._last_read >= IN_HAND_READ_INTERVAL
        if read:
            self._last_read = now
            if REFUSED in self._watch.drain() and self.stats["joins"] and self._log_limiter.allow():
                log.warning("group %s: %s: %s; trying again", self.group, self.endpoint, self._watch.refusal)
        while read:
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) != 1:
                if self._log_limiter.allow():
                    log.warning("group %s: dropped a %d-frame reply from %s", self.group, len(frames), self.endpoint)
                continue
            reply = groups_pb2.GroupReply()
            try:
                reply.ParseFromString(frames[0])
            except Exception:  # protobuf's DecodeError: whatever the peer sent
                if self._log_limiter.allow():
                    log.warning("group %s: undecodable reply from %s: '%s'", self.group, self.endpoint,
                                printable(frames[0]))
                continue
            self._handle_reply(reply, now)

        now = time.monotonic()
        heartbeat = self.options.heartbeat
        if self._state == "joined":
            if self._unanswered_since is not None and now - self._unanswered_since >= MISSED_HEARTBEATS * heartbeat:
                self._lose_membership("the broker answered nothing for %d ms" % _ms(MISSED_HEARTBEATS * heartbeat), now)
            elif now >= self._next_heartbeat:
                request = groups_pb2.GroupRequest()
                request.heartbeat.SetInParent()
                self._send(request)  # unsent (no connection) counts as unanswered too
                if self._unanswered_since is None:
                    self._unanswered_since = now
                self._next_heartbeat = now + heartbeat
        if self._state == "joining" and not self._draining and now >= self._next_join:
            request = groups_pb2.GroupRequest()
            request.join.CopyFrom(self._join)
            # Sent: a Join lost with a dying broker goes again after the silence that would
            # make a member presume the broker gone. Unsent: due again at once.
            if self._send(request):
                self._next_join = now + MISSED_HEARTBEATS * heartbeat
        if not self._draining:
            self._flush_settlements(everything=False)

    def _handle_reply(self, reply, now):
        self._unanswered_since = None  # whatever the broker says, it is there
        kind = reply.WhichOneof("kind")
        if kind == "joined":
            self.member_id = reply.joined.member_id
            self._ack_ranges = reply.joined.ack_ranges
            if self._state != "joined":
                self._state = "joined"
                self._last_refusal = ""
                self._next_heartbeat = now + self.options.heartbeat
                self.stats["joins"] += 1
                if self.stats["joins"] > 1:
                    log.info("group %s: joined again at %s as %s", self.group, self.endpoint, self.member_id)
        elif kind == "deliveries":
            for delivery in reply.deliveries.deliveries:
                self.stats["delivered"] += 1
                if self._draining:
                    # Nothing new while draining: it goes to another member after the Leave.
                    self.stats["returned"] += 1
                    continue
                if self._state != "joined":
                    # Deliveries before the answer to a new Join belong to the lost membership.
                    self._stale.add(_answer_key(delivery))
                self._in_hand.append(delivery)
        elif kind == "error":
            self._handle_error(reply.error, now)
        elif kind in ("heartbeat", "admin"):
            pass  # admin: the answer to close()'s barrier, arriving late
        elif self._log_limiter.allow():
            log.warning("group %s: reply of an unknown kind from %s", self.group, self.endpoint)

    def _handle_error(self, error, now):
        message = printable(error.message, 300)
        if error.fatal and error.message.startswith("forbidden"):
            # A reloaded allow-list took this member's key or grant away: joining again
            # cannot help, so receive() raises it.
            self._forbidden = JoinDenied("the broker at %s refused group %s: %s" % (self.endpoint, self.group, message))
        if not error.fatal:
            # A refused ack (its attempt was redelivered meanwhile) and the like.
            if self._log_limiter.allow():
                log.warning("group %s: the broker at %s says: %s", self.group, self.endpoint, message)
            return
        if self._state == "joined":
            self._lose_membership("the broker says: " + message, now)
            return
        # Refused while joining: in open(), a refused configuration; when joining again,
        # possibly the answer to a request written before the connection dropped.
        self._last_refusal = message
        self._next_join = now + self.options.heartbeat
        if self._log_limiter.allow():
            log.warning("group %s: the broker at %s refused the join: %s", self.group, self.endpoint, message)

    def _lose_membership(self, why, now):
        for delivery in self._in_hand:
            self._stale.add(_answer_key(delivery))
        self._units.clear()
        log.warning(
            "group %s: no longer a member (%s); %d acks and %d nacks dropped, %d deliveries in hand will come "
            "again; %s", self.group, why, len(self._acks), len(self._nacks), len(self._in_hand),
            "not joining again while draining" if self._draining
            else "not joining again" if self._forbidden is not None else "joining again",
        )
        self._acks = []
        self._nacks = []
        self._state = "joining"
        self.member_id = ""
        self._unanswered_since = None
        self._next_join = now

    def _next_timer(self):
        now = time.monotonic()
        if self._state == "joined":
            timer = self._next_heartbeat
            if self._unanswered_since is not None:
                timer = min(timer, self._unanswered_since + MISSED_HEARTBEATS * self.options.heartbeat)
            return timer
        if self._state == "joining" and not self._draining:
            return self._next_join if self._next_join > now else now + JOIN_SEND_RETRY
        return float("inf")

    def _wait(self, until):
        """Blocks until a reply arrives, `until`, or the next timer."""
        now = time.monotonic()
        timeout = max(0.0, min(until, self._next_timer()) - now)
        events = zmq.POLLIN
        if self._state == "joining" and not self._draining and self._next_join <= now:
            events |= zmq.POLLOUT  # a due Join goes out as soon as a connection is writable
        self._poller.register(self._socket, events)
        self._poller.poll(int(timeout * 1000) + 1)

    # ---- receiving and settling --------------------------------------------------------

    def receive(self, timeout):
        """The next delivery within `timeout` seconds: a Received of kind EVENT (with
        .delivery), MALFORMED (already nacked; .problem says why), DRAINED (after drain(),
        when everything in hand was handed out) or NOTHING."""
        if self._socket is None:
            raise GroupError("group member is not open")
        deadline = time.monotonic() + timeout
        while True:
            self._pump()
            if self._in_hand:
                return self._next_delivery()
            if self._forbidden is not None:
                raise self._forbidden
            if self._draining:
                return Received(Received.DRAINED)
            # Nothing more waiting: send the acks gathered so far so the broker can refill.
            self._flush_settlements(everything=True)
            if time.monotonic() >= deadline:
                return Received(Received.NOTHING)
            self._wait(deadline)

    def _next_delivery(self):
        raw = self._in_hand.popleft()
        problem = None
        event = event_pb2.Event()
        if len(raw.event) > self.max_event_bytes:
            problem = "event of %d bytes is over the limit of %d" % (len(raw.event), self.max_event_bytes)
        elif not raw.event:
            problem = "event frame is empty"
        else:
            try:
                event.ParseFromString(raw.event)
                validate(event)
            except InvalidEvent as error:
                problem = str(error)
            except Exception:  # protobuf's DecodeError
                problem = "not a signalbus.v1.Event (%d bytes)" % len(raw.event)
        if problem is not None:
            problem = "undecodable event at offset %d on topic '%s': %s" % (raw.offset, printable(raw.topic), problem)
            self._answer(raw, False, problem)
            return Received(Received.MALFORMED, delivery=self._shell(raw), problem=problem)
        topic = topic_of(event)
        if topic != raw.topic:
            problem = "delivery topic '%s' does not match event %s (%s) at offset %d" % (
                printable(raw.topic), event.event_id, printable(topic), raw.offset)
            self._answer(raw, False, problem)
            return Received(Received.MALFORMED, delivery=self._shell(raw), problem=problem)
        return Received(Received.EVENT, Delivery(raw.offset, raw.attempt, topic, event, raw.unit_offset,
                                                 raw.unit_size))

    @staticmethod
    def _shell(raw):
        """A malformed delivery's place (no event): a unit's receiver knows one is missing."""
        return Delivery(raw.offset, raw.attempt, raw.topic, None, raw.unit_offset, raw.unit_size)

    def next_of_unit(self, delivery):
        """The next delivery in hand if it continues the unit of `delivery` (a unit's
        deliveries arrive together, in a row): Received EVENT or MALFORMED, or None."""
        if not self._in_hand or not delivery.unit_size or _answer_key(self._in_hand[0]) != _answer_key(delivery) \
                or not self._in_hand[0].unit_size:
            return None
        return self._next_delivery()

    def _answer(self, delivery, handled, error):
        """Queues the ack or nack of one delivery; a unit's, once every one of its events
        is settled (acked if all were handled, else nacked with the first failure)."""
        key = _answer_key(delivery)
        if delivery.unit_size:
            left, first_error = self._units.get(key, (delivery.unit_size, None))
            if not handled and first_error is None:
                first_error = error
            if left > 1:
                self._units[key] = (left - 1, first_error)
                return
            self._units.pop(key, None)
            handled, error = first_error is None, first_error
        if key in self._stale:
            self._stale.discard(key)
            return
        if handled:
            self._acks.append(groups_pb2.DeliveryRef(offset=key[0], attempt=key[1]))
            return
        nack = groups_pb2.Nack(error=_utf8(error, MAX_NACK_ERROR_BYTES))
        nack.delivery.offset, nack.delivery.attempt = key
        self._nacks.append(nack)

    def settle(self, delivery, handled, error=""):
        """Queues an ack (handled) or a nack carrying `error` for a delivery."""
        if self._socket is None or delivery.attempt == 0:
            return
        self._answer(delivery, handled, "" if handled else (error or "a receiver failed"))

    def _ack_threshold(self):
        return max(1, min(self.options.ack_batch, self.options.credits // 2))

    def _flush_settlements(self, everything):
        if self._state != "joined":
            return  # held until the next Joined: the broker refuses acks from strangers
        if not self._acks and not self._nacks:
            return
        if not everything and len(self._acks) < self._ack_threshold():
            return
        if self._acks:
            request = groups_pb2.GroupRequest()
            if self._ack_ranges:
                add_ack_ranges(self._acks, request.ack)
            else:
                request.ack.deliveries.extend(self._acks)
            if self._send(request):  # unsent (no connection): kept for the next flush
                self.stats["acked"] += len(self._acks)
                self._acks = []
        sent = 0
        for nack in self._nacks:
            request = groups_pb2.GroupRequest()
            request.nack.CopyFrom(nack)
            if not self._send(request):
                break
            sent += 1
        self.stats["nacked"] += sent
        del self._nacks[:sent]

    def _send(self, request):
        """False if the frame could not be queued now (no connection; retried later)."""
        try:
            self._socket.send(request.SerializeToString(), zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    # ---- ending ------------------------------------------------------------------------

    def drain(self):
        """Take nothing new; receive() hands out what is in hand, then DRAINED."""
        self._draining = True

    def close(self):
        """Sends the acks and nacks held, then Leave, and waits up to leave_timeout for the
        broker to have read them (it answers a heartbeat sent after the Leave with an
        error: this connection is no member any more)."""
        if self._socket is None:
            return
        try:
            if self._state == "joined":
                self._flush_settlements(everything=True)
                leave = groups_pb2.GroupRequest()
                leave.leave.SetInParent()
                barrier = groups_pb2.GroupRequest()
                barrier.heartbeat.SetInParent()
                if self._send(leave) and self._send(barrier):
                    deadline = time.monotonic() + self.options.leave_timeout
                    answered = False
                    while not answered and time.monotonic() < deadline:
                        self._socket.poll(int((deadline - time.monotonic()) * 1000) + 1, zmq.POLLIN)
                        while not answered:
                            try:
                                frames = self._socket.recv_multipart(zmq.NOBLOCK)
                            except zmq.Again:
                                break
                            reply = groups_pb2.GroupReply()
                            try:
                                reply.ParseFromString(frames[-1])
                            except Exception:
                                continue
                            answered = len(frames) == 1 and reply.WhichOneof("kind") == "error"
                    if not answered:
                        log.warning("group %s: the broker at %s did not confirm the leave", self.group, self.endpoint)
        except zmq.ZMQError as error:
            log.warning("group %s: leaving: %s", self.group, error)
        if self._acks or self._nacks:
            log.warning("group %s: %d acks and %d nacks were not sent; the broker delivers those events again",
                        self.group, len(self._acks), len(self._nacks))
        self._watch.close()
        self._socket.close()
        self._socket = None
        self._watch = self._poller = None
        self._state = "closed"
        self._draining = False
        self.member_id = ""
        self._in_hand.clear()
        self._stale.clear()
        self._units.clear()
        self._acks = []
        self._nacks = []
        self._unanswered_since = None
