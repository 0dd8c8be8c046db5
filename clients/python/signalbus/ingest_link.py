"""The publisher's I/O thread: the only owner of the DEALER socket connected to the
broker's ingest (ZeroMQ sockets are not thread-safe). It opens the publisher's session
on each connection (a hello, answered by the broker; a new connection announces itself
with ZMQ_PROBE_ROUTER and is answered "no session"), applies the confirms the broker
sends on it, sends what the window holds while a session is open, and re-sends
everything unconfirmed on every new session and after a silent interval. When the broker
refuses the publisher id (another connection took it over, or it holds newer events of
that id), a generated id is replaced by a fresh one and the window renumbered under it;
a fixed id fails the publisher. A CURVE handshake the broker fails before the first
session fails the publisher with PermissionDenied (nothing will get through; later ones
are logged and retried). Callers wake it through a pipe. See "Publisher sessions"
in docs/wire-protocol.md.

Locking: every access to the window and to the fields below happens under `cond`, the
Publisher's condition, which is notified whenever something a caller may wait for
changes (session, confirms, failure)."""
import logging
import os
import threading
import time

import zmq

from signalbus import ulid
from signalbus.connection_watch import DOWN, REFUSED, UP, ConnectionWatch
from signalbus.endpoints import printable
from signalbus.errors import PermissionDenied, PublisherRefused
from signalbus.confirms import wire_messages
from signalbus.proto import BATCH_KIND, CONFIRM_KIND, HELLO_KIND, SESSION_KIND, publish_pb2
from signalbus.ratelimit import RateLimiter

log = logging.getLogger("signalbus.publisher")

CLIENT = "signalbus-python/0.1.0"
# Sends per turn of the loop, so that what the broker sent is read in between.
_SEND_BATCH = 512
# How often a hello is repeated while no session is open (it is lost while there is no
# connection; a new connection also asks for one).
_HELLO_RETRY = 0.25
# The longest poll when no timer is due: a safety net for a lost wake-up, never a
# synchronisation. Long, so that an idle publisher costs nothing: 400 of them woke 400
# times a second at 1 s (bench/fleet_bench.py: 5.7 % of a core).
_MAX_POLL = 30.0

_Reply = publish_pb2.SessionReply


class IngestLink:
    def __init__(self, endpoint, cond, window, rejections, resend_interval, send_hwm, generated_id, curve=None):
        self.endpoint = endpoint
        self._curve = curve  # a signalbus.curve.CurveClient, or None
        self._cond = cond
        self._window = window
        self._rejections = rejections  # list of (sequence, reason), shared with the Publisher
        self._resend_interval = resend_interval
        self._send_hwm = send_hwm
        self.generated_id = generated_id  # the window's id was made here: it may be replaced
        self.open = False  # a session is open on the current connection
        self.connected = False  # the socket has a connection (ZeroMQ's socket monitor)
        self.ever_open = False
        self.failure = None  # the exception that ended the thread, if any
        self.next_sequence = 1  # the Publisher's next sequence; renumbering changes it
        # What the broker accepts in one ["$batch", ...] message (its session reply says;
        # 0: no batches, an older broker).
        self.max_batch_events = 0
        self.max_batch_bytes = 0
        self._stopping = False
        self._last_hello = 0.0
        self._log_limiter = RateLimiter()
        # A byte in the pipe wakes the thread; one is enough until the thread drains it
        # (a write per publish cost a system call, and the thread's wake-up, each).
        self._wake_pending = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._context = zmq.Context(1)
        self._thread = threading.Thread(target=self._run, name="signalbus-publisher", daemon=True)

    @property
    def publisher_id(self):
        return self._window.publisher_id

    def start(self):
        self._thread.start()

    def wake(self):
        if self._wake_pending:
            return  # the thread has not drained the last byte: it will look at the window then
        self._wake_pending = True
        try:
            os.write(self._wake_write, b"!")
        except (BlockingIOError, OSError):
            pass  # a full pipe: the thread is being woken already (or is gone)

    def stop(self):
        """Ends the thread and closes the socket; what is unsent stays in the window."""
        with self._cond:
            self._stopping = True
        self.wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        for fd in (self._wake_read, self._wake_write):
            try:
                os.close(fd)
            except OSError:
                pass
        self._context.term()

    # ---- the thread ------------------------------------------------------------------

    def _run(self):
        socket = watch = None
        try:
            socket = self._context.socket(zmq.DEALER)
            if self._curve is not None:
                self._curve.apply(socket)
            socket.setsockopt(zmq.SNDHWM, self._send_hwm)
            socket.setsockopt(zmq.LINGER, 0)
            # Each new connection starts with an empty message, which the broker answers
            # "no session": a restarted broker or a re-established connection is noticed
            # at once, and the publisher says hello again and re-sends.
            socket.setsockopt(zmq.PROBE_ROUTER, 1)
            # No queue for a broker that is not connected: while it is away, sends fail at
            # once and events wait in the window.
            socket.setsockopt(zmq.IMMEDIATE, 1)
            watch = ConnectionWatch(socket, curve=self._curve is not None)
            monitor = watch.socket
            socket.connect(self.endpoint)
            poller = zmq.Poller()
            poller.register(self._wake_read, zmq.POLLIN)
            poller.register(monitor, zmq.POLLIN)
            while True:
                with self._cond:
                    if self._stopping:
                        return
                    now = time.monotonic()
                    if not self.open and self.failure is None and now - self._last_hello >= _HELLO_RETRY:
                        self._send_hello(socket, now)
                    timeout = self._poll_timeout(now)
                    unsent = self.open and self._window.has_unsent()
                poller.register(socket, zmq.POLLIN | (zmq.POLLOUT if unsent else 0))
                ready = dict(poller.poll(max(0, int(timeout * 1000) + 1)))
                if self._wake_read in ready:
                    self._drain_wake_pipe()
                if monitor in ready:
                    self._connection_changed(watch, socket)
                self._read(socket)
                self._send_due(socket)
        except Exception as error:  # the thread must not die silently
            log.exception("signalbus publisher to %s stopped: %s", self.endpoint, error)
            with self._cond:
                self.failure = error
                self._cond.notify_all()
        finally:
            if watch is not None:
                watch.close()
            if socket is not None:
                socket.close(0)

    def _poll_timeout(self, now):
        """Seconds until the next timer (a hello to repeat, a silent-interval re-send), at
        most _MAX_POLL."""
        timeout = _MAX_POLL
        if not self.open:
            timeout = min(timeout, self._last_hello + _HELLO_RETRY - now)
        elif len(self._window):
            timeout = min(timeout, self._window.last_progress + self._resend_interval - now)
        return max(0.0, timeout)

    def _drain_wake_pipe(self):
        # Cleared before the window is looked at again (_send_due runs after this): a
        # publish that found it set put its event in the window before that look.
        self._wake_pending = False
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def _connection_changed(self, watch, socket):
        for change in watch.drain():
            with self._cond:
                if change == UP:
                    self.connected = True
                elif change == DOWN or change == REFUSED:
                    # A session lives and dies with its connection; the next one says hello.
                    self.connected = False
                    if self.open and change == DOWN:
                        log.warning("publisher: lost the connection to the broker at %s; %d unconfirmed events are "
                                    "held until a session is open again", self.endpoint, len(self._window))
                    self.open = False
                if change == REFUSED:
                    self._refused(watch.refusal, socket)
                self._cond.notify_all()

    def _refused(self, why, socket):
        """The broker failed a handshake. Caller holds the lock."""
        if self.ever_open or self.failure is not None:
            # It let this client in before (a key removed since, a broker restarted with
            # another key or allow-list): the events wait, and the socket tries again.
            if self._log_limiter.allow():
                log.error("publisher: %s: %s; %d unconfirmed events are held", self.endpoint, why, len(self._window))
            return
        # Before a session, nothing will ever get through: say why instead of waiting, and
        # stop knocking.
        self.failure = PermissionDenied("%s: %s" % (self.endpoint, why))
        log.error("publisher: %s", self.failure)
        try:
            socket.disconnect(self.endpoint)
        except zmq.ZMQError:
            pass

    def _send_hello(self, socket, now):
        self._last_hello = now
        hello = publish_pb2.PublisherHello(
            publisher_id=self._window.publisher_id,
            unconfirmed_from=self._window.unconfirmed_from(self.next_sequence),
            next_sequence=self.next_sequence,
            client=CLIENT,
        )
        try:
            socket.send_multipart([HELLO_KIND, hello.SerializeToString()], zmq.NOBLOCK)
        except zmq.Again:
            pass  # no connection yet: the next one is retried

    def _read(self, socket):
        """What the broker sends on this connection: [$session, SessionReply] and
        [$confirm, PublishConfirm]."""
        while True:
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) == 2 and frames[0] == CONFIRM_KIND:
                self._confirmed(frames[1])
            elif len(frames) == 2 and frames[0] == SESSION_KIND:
                self._session(socket, frames[1])
            elif self._log_limiter.allow():
                log.warning("publisher: ignored a %d-frame message from the broker at %s: '%s'",
                            len(frames), self.endpoint, printable(frames[0]))

    def _session(self, socket, data):
        reply = _Reply()
        try:
            reply.ParseFromString(data)
        except Exception:  # protobuf's DecodeError
            return
        with self._cond:
            if self.failure is not None:
                # A fixed id the broker refused stays refused: a hello now would take the
                # session back from the publisher that holds it.
                return
            if reply.state == _Reply.NO_SESSION:
                # A new connection, or a broker that restarted (or forgot an idle id). Every
                # event sent before the hello reached it draws this answer: one hello per
                # retry interval.
                if not self.open and time.monotonic() - self._last_hello < _HELLO_RETRY:
                    return
                if self.open:
                    log.info("publisher: the broker at %s has no session for this connection (it restarted, or "
                             "the connection is new); saying hello again", self.endpoint)
                self.open = False
                self._send_hello(socket, time.monotonic())
            elif reply.publisher_id != self._window.publisher_id:
                return  # about an id given up already
            elif reply.state == _Reply.OPEN and not self.open:
                self.open = True
                self.max_batch_events, self.max_batch_bytes = reply.max_batch_events, reply.max_batch_bytes
                if self.ever_open:
                    # Whatever the broker may not have received goes again, in order; it
                    # drops what it already logged.
                    held = self._window.resend(time.monotonic())
                    if held:
                        log.info("publisher: session open again at %s; re-sending %d unconfirmed events",
                                 self.endpoint, held)
                self.ever_open = True
            elif reply.state in (_Reply.REFUSED, _Reply.TAKEN_OVER):
                self.open = False
                what = "gave its session to a newer connection" if reply.state == _Reply.TAKEN_OVER else "refused it"
                # Only a refusal of this id (another connection holds it, or newer events of
                # it are logged) is cured by a fresh one; a full table or a bad hello is not.
                fresh_id_helps = reply.state == _Reply.TAKEN_OVER or reply.reason == "id_in_use"
                if reply.reason == "forbidden":
                    # Not authenticated, or the id speaks for another principal.
                    self.failure = PermissionDenied("publisher id '%s': the broker at %s refused it (forbidden): %s"
                                                    % (self._window.publisher_id, self.endpoint,
                                                       printable(reply.message, 300)))
                    log.error("%s", self.failure)
                    self._cond.notify_all()
                    return
                self._lose_id("the broker at %s %s (%s): %s" % (self.endpoint, what, reply.reason, reply.message),
                              socket, fresh_id_helps)
            self._cond.notify_all()

    def _lose_id(self, why, socket, fresh_id_helps):
        old = self._window.publisher_id
        if not self.generated_id or not fresh_id_helps:
            self.failure = PublisherRefused("publisher id '%s': %s; %d events unconfirmed"
                                            % (old, why, len(self._window)))
            log.error("%s", self.failure)
            return
        # A generated id is unique: someone else claimed it. Carry on under a fresh one,
        # with what is unconfirmed numbered anew (the broker never logged it under the old
        # id: a takeover is announced only after the last confirm of what it did log).
        new = ulid.new_ulid()
        self.next_sequence = self._window.renumber(new) + 1
        log.warning("publisher id '%s': %s; continuing as '%s'", old, why, new)
        self.ever_open = True  # the new session re-sends everything
        self._send_hello(socket, time.monotonic())

    def _confirmed(self, data):
        with self._cond:
            now = time.monotonic()
            try:
                confirmed, rejections, resend_from = self._window.apply(data, now)
            except ValueError as error:
                if self._log_limiter.allow():
                    log.warning("publisher: undecodable confirm from the broker at %s: %s", self.endpoint, error)
                return
            if self._window.gap_needs_resend(resend_from, now, self._resend_interval):
                # The broker dropped events above a gap: everything unconfirmed goes again,
                # in order, from the oldest.
                held = self._window.resend(now)
                log.debug("publisher: the broker at %s is missing events from sequence %d; re-sending %d",
                          self.endpoint, resend_from, held)
                self.wake()
            for rejection in rejections:
                log.error("publisher: the broker at %s rejected event %d (%s)", self.endpoint, rejection.sequence, rejection)
            self._rejections.extend(rejections)
            if confirmed or rejections:
                self._cond.notify_all()

    def _send_due(self, socket):
        now = time.monotonic()
        with self._cond:
            if not self.open:
                return  # events wait in the window until a session is open
            if len(self._window) and now - self._window.last_progress >= self._resend_interval:
                held = self._window.resend(now)
                log.debug("publisher: no confirm for %.1f s; re-sending %d events to %s",
                          self._resend_interval, held, self.endpoint)
            batch = self._window.take_unsent(_SEND_BATCH)
            max_events, max_bytes = self.max_batch_events, self.max_batch_bytes
        # What is ready goes out together: events that queued up while the last message
        # was sent become one message (a lone event goes alone, at once).
        sent = 0
        for events, atomic in wire_messages(batch, max_events, max_bytes):
            if len(events) == 1 and not atomic:
                frames = [events[0].topic, events[0].data]
            else:
                header = publish_pb2.BatchHeader(count=len(events), atomic=atomic).SerializeToString()
                frames = [BATCH_KIND, header]
                for pending in events:
                    frames += (pending.topic, pending.data)
            try:
                socket.send(frames[0], zmq.SNDMORE | zmq.NOBLOCK)
            except zmq.Again:
                break  # a full queue, or no connection: the rest waits (POLLOUT, or the next session)
            socket.send_multipart(frames[1:])  # a started message is taken whole
            sent += len(events)
        with self._cond:
            if sent < len(batch):
                self._window.put_back(batch[sent:])
            elif self._window.has_unsent():
                self.wake()  # more to send: another turn, after reading what arrived
