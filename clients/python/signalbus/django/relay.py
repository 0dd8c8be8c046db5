"""The outbox relay: publishes the committed rows of one database's outbox in order, and
deletes each once the broker confirmed it. One relay at a time publishes (it holds the
lease, signalbus.django.outbox); the others wait for it to lapse. It runs as a thread of
every Django process (OUTBOX_RELAY "thread", woken after each commit that wrote a row)
or as manage.py signalbus_relay, and never raises: a database or broker that is away
is logged (rate-limited) and retried.

Nothing is lost when a relay dies at any point: a row is deleted only after its
confirm, and the next relay re-sends every numbered row with its sequence and event id,
which the broker drops if it logged it already. docs/outbox.md."""
import logging
import os
import socket
import threading
import time

from django.db import DatabaseError, connections

from signalbus import ulid
from signalbus.django import outbox
from signalbus.errors import PermissionDenied, SignalbusError
from signalbus.proto import event_pb2
from signalbus.publisher import Publisher
from signalbus.ratelimit import RateLimiter

log = logging.getLogger("signalbus.relay")

_ERROR_BACKOFF = 1.0  # seconds after a database error before the next try


class Relay:
    def __init__(self, using, config, holder=None):
        self.using = using
        self.config = config
        self.holder = holder or "%s:%d:%s" % (socket.gethostname(), os.getpid(), ulid.new_ulid()[-8:])
        self.relayed = 0  # rows this relay saw confirmed (and deleted)
        self.leading = False
        self._publisher = None
        self._through = 0  # every numbered row up to here is settled and forgotten
        self._renew_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._log_limiter = RateLimiter()

    # ---- from other threads -----------------------------------------------------------

    def wake(self):
        """A commit wrote rows: look now instead of at the next poll."""
        self._wake.set()
        publisher = self._publisher
        if publisher is not None:
            publisher.interrupt()

    def stop(self):
        self._stop.set()
        self.wake()

    @property
    def stopped(self):
        return self._stop.is_set()

    def idle(self):
        """Whether this relay leads and holds nothing unconfirmed."""
        publisher = self._publisher
        return self.leading and publisher is not None and not publisher.unconfirmed

    # ---- the loop --------------------------------------------------------------------

    def run(self, until=None):
        """Relays until stop() (or `until()` is true), then hands back what it holds: the
        lease is released after the last confirms came in (up to CLOSE_TIMEOUT)."""
        try:
            while not self._stop.is_set() and not (until is not None and until()):
                try:
                    self.step()
                except DatabaseError as error:
                    self._warn("signalbus relay (%s): database error, retrying in %.0f s: %s",
                               self.using, _ERROR_BACKOFF, error)
                    connections[self.using].close()
                    self._stop.wait(_ERROR_BACKOFF)
        finally:
            self._shutdown()

    def step(self):
        """One turn: take the lease if need be, record what the broker settled, number and
        send the next rows, then wait a little for confirms or a commit."""
        if not self.leading and not self._lead():
            self._wait(min(self.config.outbox_lease / 3, 1.0))
            return
        publisher = self._publisher
        if publisher.failure is not None:
            self._warn("signalbus relay (%s): %s; letting another relay publish", self.using, publisher.failure)
            self._abdicate()
            if isinstance(publisher.failure, PermissionDenied):
                self._stop.wait(_ERROR_BACKOFF)  # refused by the broker: not again at once
            return
        self._settle()
        if publisher.unconfirmed < self.config.outbox_batch:
            numbered = outbox.number_next(self.using, self.holder, self.config.outbox_lease, self.config.outbox_batch)
            if numbered is None:
                self._warn("signalbus relay (%s): lost the lease (it ran out); another relay may publish",
                           self.using)
                self._abdicate()
                return
            self._renew_at = time.monotonic() + self.config.outbox_lease / 3
            for unit in numbered:
                self._publish(unit)
            if numbered:
                return  # more may be waiting: look again at once
        elif time.monotonic() >= self._renew_at and not self._renew():
            return
        self._wait(self.config.outbox_poll_interval)

    def _publish(self, unit):
        """One row alone, or one transaction's rows as an atomic batch: logged and
        delivered whole, never in part."""
        timeout = self.config.close_timeout
        if len(unit) == 1:
            sequence, payload = unit[0]
            self._publisher.publish(event_pb2.Event.FromString(payload), timeout=timeout, sequence=sequence)
            return
        events = [event_pb2.Event.FromString(payload) for _, payload in unit]
        self._publisher.publish_batch(events, timeout=timeout, atomic=True, sequences=unit[0][0])

    # ---- leadership --------------------------------------------------------------------

    def _lead(self):
        state = outbox.try_lease(self.using, self.holder, self.config.outbox_lease, self.config.source)
        if state is None:
            return False
        publisher_id, next_sequence = state
        resume = []
        for unit in outbox.in_flight(self.using):
            events = []
            for sequence, payload in unit:
                event = event_pb2.Event.FromString(payload)
                event.sequence = sequence
                events.append(event)
            resume.append(events)
        held = sum(len(unit) for unit in resume)
        try:
            self._publisher = self._make_publisher(publisher_id, next_sequence, resume, held)
        except SignalbusError as error:  # the CURVE key files changed since start-up
            self._warn("signalbus relay (%s): cannot publish: %s", self.using, error)
            outbox.release(self.using, self.holder)
            return False
        self._through = (resume[0][0].sequence if resume else next_sequence) - 1
        self._publisher.set_floor(self._through + 1)
        self._renew_at = time.monotonic() + self.config.outbox_lease / 3
        self.leading = True
        log.info("signalbus relay (%s): %s publishes the outbox as %s from sequence %d (%d rows to re-send)",
                 self.using, self.holder, publisher_id, next_sequence, held)
        return True

    def _make_publisher(self, publisher_id, next_sequence, resume, held):
        return Publisher(
            self.config.broker, self.config.source, publisher_id=publisher_id, connect_timeout=0,
            next_sequence=next_sequence, resume=resume, resend_interval=self.config.resend_interval,
            # Room for a turn's rows and the rest of their transactions.
            max_unconfirmed=held + 2 * self.config.outbox_batch + outbox.UNIT_EVENTS,
            send_timeout=self.config.close_timeout,
            curve_server_key=self.config.curve_server_key, curve_key_file=self.config.curve_key_file,
        )

    def _renew(self):
        if outbox.try_lease(self.using, self.holder, self.config.outbox_lease, self.config.source) is None:
            self._warn("signalbus relay (%s): lost the lease; another relay publishes", self.using)
            self._abdicate()
            return False
        self._renew_at = time.monotonic() + self.config.outbox_lease / 3
        return True

    def _abdicate(self):
        """Stops publishing: what is unconfirmed stays in the table for the next relay."""
        publisher, self._publisher = self._publisher, None
        self.leading = False
        if publisher is not None:
            publisher.close(0)

    def _settle(self):
        through, rejections = self._publisher.take_settled()
        if through <= self._through and not rejections:
            return
        for sequence, reason in rejections:
            log.error("signalbus relay (%s): the broker rejected outbox event %d (%s); kept in the table "
                      "with its reason", self.using, sequence, reason)
        outbox.settle(self.using, through, rejections)
        self.relayed += max(0, through - self._through) - len(rejections)
        self._through = through
        self._publisher.set_floor(through + 1)  # what is deleted is never re-sent

    # ---- helpers ---------------------------------------------------------------------

    def _wait(self, seconds):
        if self._publisher is not None and self._publisher.unconfirmed:
            self._publisher.wait_settled(self._through, seconds, until=self._wake.is_set)
        else:
            self._wake.wait(seconds)
        self._wake.clear()

    def _warn(self, message, *args):
        if self._log_limiter.allow():
            log.warning(message, *args)

    def _shutdown(self):
        try:
            if self._publisher is not None:
                # The last confirms, for up to CLOSE_TIMEOUT; what is not confirmed then
                # stays in the table for the next relay.
                deadline = time.monotonic() + self.config.close_timeout
                while self._publisher.unconfirmed and self._publisher.failure is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._settle()
                    self._publisher.wait_settled(self._through, remaining)
                self._settle()
                outbox.release(self.using, self.holder)
        except DatabaseError as error:
            log.warning("signalbus relay (%s): could not record the last confirms: %s", self.using, error)
        finally:
            self._abdicate()
            connections[self.using].close()
