"""The publisher's I/O thread: the only owner of the XPUB socket connected to the
broker's ingest (ZeroMQ sockets are not thread-safe). It sees the broker's subscription
come and go, applies the confirms the broker sends upstream, sends what the window holds
while the broker is subscribed, and re-sends everything unconfirmed when the broker comes
back or has been silent for the resend interval. Callers wake it through a pipe.

Locking: every access to the window and to the fields below happens under `cond`, the
Publisher's condition, which is notified whenever something a caller may wait for
changes (subscription, confirms, failure)."""
import logging
import os
import threading
import time

import zmq

from signalbus.endpoints import printable
from signalbus.proto import CONFIRM_TOPIC
from signalbus.ratelimit import RateLimiter

log = logging.getLogger("signalbus.publisher")

# Sends per turn of the loop, so that confirms are read in between.
_SEND_BATCH = 512
# After the socket's queue was full (XPUB_NODROP), the next try comes after this pause.
# XPUB reports itself writable even when full, so POLLOUT cannot be waited for.
_FULL_QUEUE_RETRY = 0.005
# The longest poll: a safety net for a lost wake-up, never a synchronisation.
_MAX_POLL = 1.0


class IngestLink:
    def __init__(self, endpoint, cond, window, rejections, resend_interval, send_hwm):
        self.endpoint = endpoint
        self._cond = cond
        self._window = window
        self._rejections = rejections  # list of (sequence, reason), shared with the Publisher
        self._resend_interval = resend_interval
        self._send_hwm = send_hwm
        self.subscriptions = 0  # the broker's subscriptions seen on the XPUB
        self.ever_subscribed = False
        self.failure = None  # the exception that ended the thread, if any
        self._stopping = False
        self._retry_at = None
        self._log_limiter = RateLimiter()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._context = zmq.Context(1)
        self._thread = threading.Thread(target=self._run, name="signalbus-publisher", daemon=True)

    @property
    def subscribed(self):
        return self.subscriptions > 0

    def start(self):
        self._thread.start()

    def wake(self):
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
        socket = None
        try:
            socket = self._context.socket(zmq.XPUB)
            socket.setsockopt(zmq.XPUB_NODROP, 1)
            socket.setsockopt(zmq.SNDHWM, self._send_hwm)
            socket.setsockopt(zmq.LINGER, 0)
            # A lost connection ends its pipe, so the broker's subscription goes with it
            # and comes back, seen, with the next connection (a restarted broker). Without
            # this the connecting side keeps the pipe and the XPUB sees no change at all.
            socket.setsockopt(zmq.IMMEDIATE, 1)
            # A started message's second frame is always taken; bounded all the same.
            socket.setsockopt(zmq.SNDTIMEO, 5000)
            socket.connect(self.endpoint)
            poller = zmq.Poller()
            poller.register(socket, zmq.POLLIN)
            poller.register(self._wake_read, zmq.POLLIN)
            while True:
                with self._cond:
                    if self._stopping:
                        return
                    timeout = self._poll_timeout(time.monotonic())
                ready = dict(poller.poll(None if timeout is None else max(0, int(timeout * 1000) + 1)))
                if self._wake_read in ready:
                    self._drain_wake_pipe()
                self._read(socket)
                self._send_due(socket)
        except Exception as error:  # the thread must not die silently
            log.exception("signalbus publisher to %s stopped: %s", self.endpoint, error)
            with self._cond:
                self.failure = error
                self._cond.notify_all()
        finally:
            if socket is not None:
                socket.close(0)

    def _poll_timeout(self, now):
        """Seconds until the next timer (a retry of a full queue, a silent-interval
        re-send), at most _MAX_POLL."""
        timeout = _MAX_POLL
        if self._retry_at is not None:
            timeout = min(timeout, self._retry_at - now)
        if self.subscribed and len(self._window):
            timeout = min(timeout, self._window.last_progress + self._resend_interval - now)
        return max(0.0, timeout)

    def _drain_wake_pipe(self):
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def _read(self, socket):
        """What arrives on the XPUB: subscription changes (one frame, 0x01/0x00 + prefix)
        and confirm batches (["$confirm", ConfirmBatch]) sent upstream by the broker."""
        while True:
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) == 1 and frames[0][:1] in (b"\x01", b"\x00"):
                self._subscription_changed(frames[0][:1] == b"\x01")
            elif len(frames) == 2 and frames[0] == CONFIRM_TOPIC:
                self._confirmed(frames[1])
            elif self._log_limiter.allow():
                log.warning(
                    "publisher: ignored a %d-frame message from the broker at %s: '%s'",
                    len(frames), self.endpoint, printable(frames[0]),
                )

    def _subscription_changed(self, subscribed):
        with self._cond:
            if subscribed:
                self.subscriptions += 1
                if self.subscriptions == 1:
                    if self.ever_subscribed:
                        # The broker is back: whatever it may not have received goes
                        # again, in order; it drops what it already logged.
                        held = self._window.resend(time.monotonic())
                        log.info("publisher: the broker at %s is back; re-sending %d unconfirmed events",
                                 self.endpoint, held)
                    self.ever_subscribed = True
            elif self.subscriptions > 0:
                self.subscriptions -= 1
                if self.subscriptions == 0:
                    log.warning("publisher: the broker at %s went away; %d unconfirmed events are held until it "
                                "is back", self.endpoint, len(self._window))
            self._cond.notify_all()

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
                # The broker dropped events above a gap (sent while it was away): everything
                # unconfirmed goes again, in order, from the oldest.
                held = self._window.resend(now)
                log.debug("publisher: the broker at %s is missing events from sequence %d; re-sending %d",
                          self.endpoint, resend_from, held)
                self.wake()
            for sequence, reason in rejections:
                log.error("publisher: the broker at %s rejected event %d (%s)", self.endpoint, sequence, reason)
            self._rejections.extend(rejections)
            if confirmed or rejections:
                self._cond.notify_all()

    def _send_due(self, socket):
        now = time.monotonic()
        with self._cond:
            if not self.subscribed:
                return  # events wait in the window until the broker subscribes
            if len(self._window) and now - self._window.last_progress >= self._resend_interval:
                held = self._window.resend(now)
                log.debug("publisher: no confirm for %.1f s; re-sending %d events to %s",
                          self._resend_interval, held, self.endpoint)
            if self._retry_at is not None and now < self._retry_at:
                return
            self._retry_at = None
            batch = self._window.take_unsent(_SEND_BATCH)
        sent = 0
        for pending in batch:
            try:
                socket.send(pending.topic, zmq.SNDMORE | zmq.NOBLOCK)
            except zmq.Again:
                break  # the queue is full: try again shortly (XPUB_NODROP never drops)
            socket.send(pending.data)
            sent += 1
        with self._cond:
            if sent < len(batch):
                self._window.put_back(batch[sent:])
                self._retry_at = time.monotonic() + _FULL_QUEUE_RETRY
            if self._window.has_unsent() and self._retry_at is None:
                self.wake()  # more to send: another turn, after reading what arrived
