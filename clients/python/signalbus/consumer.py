"""Consumer: runs a Registry's receiver functions as one member of a consumer group until
stop() (or a signal the caller turns into stop()), then drains: takes nothing new, settles
what is in hand, leaves the group. The loop of receivers/receiver.cc, in Python."""
import collections
import logging
import threading

from signalbus.group_member import GroupMember, Received
from signalbus.ratelimit import RateLimiter

log = logging.getLogger("signalbus.receiver")


class Consumer:
    def __init__(self, registry, endpoint, group, options=None, poll_interval=0.15, around_dispatch=None):
        """around_dispatch: an optional callable run before and after each event (the
        worker closes stale Django database connections with it)."""
        self.registry = registry
        self.member = GroupMember(endpoint, group, options)
        self.poll_interval = poll_interval
        self._around_dispatch = around_dispatch
        self._stop = threading.Event()
        self._malformed_limiter = RateLimiter()
        self.stats = collections.Counter()  # received, unmatched, handled, failures, malformed

    def connect(self):
        """Joins the group with the union of the receivers' patterns (GroupError if not)."""
        if not len(self.registry):
            raise ValueError("no receivers are registered")
        log.info("joining group %s at %s", self.member.group, self.member.endpoint)
        self.member.open(self.registry.patterns(), interrupted=self._stop.is_set)
        log.info("receivers of group %s connected to %s, topics: %s", self.member.group, self.member.endpoint,
                 " ".join(str(p) for p in self.registry.patterns()))

    @property
    def stopped(self):
        return self._stop.is_set()

    def stop(self):
        """Makes run() drain and return. Thread-safe; safe from a signal handler."""
        self._stop.set()

    def run(self):
        """Dispatches deliveries until stop(), then drains and leaves. Receiver failures
        are nacked with their text, never fatal."""
        if not self.member.joined:
            self.connect()
        draining = False
        try:
            while True:
                if self._stop.is_set() and not draining:
                    self.member.drain()
                    draining = True
                received = self.member.receive(self.poll_interval)
                if received.kind == Received.EVENT:
                    self._dispatch(received.delivery)
                elif received.kind == Received.MALFORMED:
                    self.stats["malformed"] += 1
                    if self._malformed_limiter.allow():
                        log.warning("group %s dropped a delivery: %s", self.member.group, received.problem)
                elif received.kind == Received.DRAINED:
                    break
        finally:
            self.member.close()
        log.info("receivers of group %s stopped: %s", self.member.group, dict(self.stats))

    def _dispatch(self, delivery):
        self.stats["received"] += 1
        if self._around_dispatch:
            self._around_dispatch()
        try:
            result = self.registry.dispatch(delivery.topic, delivery.event)
        finally:
            if self._around_dispatch:
                self._around_dispatch()
        if result.matched == 0:
            self.stats["unmatched"] += 1
        self.stats["handled"] += result.succeeded
        self.stats["failures"] += result.failed
        self.member.settle(delivery, result.ok, result.error)
