"""Consumer: runs a Registry's receiver functions as one member of a consumer group until
stop() (or a signal the caller turns into stop()), then drains: takes nothing new, settles
what is in hand, leaves the group. The loop of receivers/receiver.cc, in Python.
ConsumerTeam: several consumers (one group per receiver) in one process, a thread each,
joined patiently: a broker that is not there yet is waited for, with backoff."""
import collections
import logging
import threading
import time

from signalbus.group_member import GroupMember, Received
from signalbus.group_rules import JoinTimedOut
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
        deliveries = [delivery]
        if self.registry.batch and delivery.unit_size:
            # The rest of its unit is in hand (a unit arrives in one message): a batch
            # receiver gets it whole, or not at all.
            taken = 1
            while taken < delivery.unit_size:
                received = self.member.next_of_unit(delivery)
                if received is None:
                    break
                taken += 1
                if received.kind == Received.MALFORMED:
                    self.stats["malformed"] += 1  # already nacked: the unit comes again, whole
                else:
                    deliveries.append(received.delivery)
            if len(deliveries) < delivery.unit_size:
                for d in deliveries:
                    self.member.settle(d, False, "its atomic batch arrived incomplete")
                return
        self.stats["received"] += len(deliveries)
        if self._around_dispatch:
            self._around_dispatch()
        try:
            if self.registry.batch:
                result = self.registry.dispatch_batch([d.topic for d in deliveries], [d.event for d in deliveries])
            else:
                result = self.registry.dispatch(delivery.topic, delivery.event)
        finally:
            if self._around_dispatch:
                self._around_dispatch()
        if result.matched == 0:
            self.stats["unmatched"] += 1
        self.stats["handled"] += result.succeeded
        self.stats["failures"] += result.failed
        for d in deliveries:
            self.member.settle(d, result.ok, result.error)


class ConsumerTeam:
    """Consumers run together: connect() joins each (waiting for a broker that is not
    there yet), run() runs each on its own thread until stop(), then drains them all."""

    FIRST_RETRY = 0.5  # seconds before the first new attempt; doubling up to MAX_RETRY
    MAX_RETRY = 5.0

    def __init__(self, consumers, connect_timeout=0.0):
        """connect_timeout: give up joining after this many seconds (0: never)."""
        self.consumers = list(consumers)
        self.connect_timeout = connect_timeout
        self._stop = threading.Event()

    @property
    def stopped(self):
        return self._stop.is_set()

    def stop(self):
        """Thread-safe; safe from a signal handler."""
        self._stop.set()
        for consumer in self.consumers:
            consumer.stop()

    def connect(self):
        """Joins every group. A broker that does not answer is tried again, with backoff
        and a log line per attempt, until connect_timeout; a refusal or a bad option
        fails at once (GroupError)."""
        deadline = time.monotonic() + self.connect_timeout if self.connect_timeout > 0 else None
        for consumer in self.consumers:
            delay = self.FIRST_RETRY
            while True:
                try:
                    consumer.connect()
                    break
                except JoinTimedOut as error:
                    if self._stop.is_set() or (deadline is not None and time.monotonic() + delay >= deadline):
                        raise
                    log.warning("%s; retrying in %.1f s", error, delay)
                    if self._stop.wait(delay):
                        raise
                    delay = min(delay * 2, self.MAX_RETRY)

    def run(self):
        """Runs every consumer until stop(); returns the first failure (or None)."""
        failures = []

        def run_one(consumer):
            try:
                consumer.run()
            except Exception as error:  # the transport failed: end the others too
                log.debug("group %s failed", consumer.member.group, exc_info=True)
                failures.append(error)
                self.stop()

        threads = [threading.Thread(target=run_one, args=(c,), name="signalbus-group-" + c.member.group)
                   for c in self.consumers]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(0.2)  # the main thread stays free for signal handlers
        return failures[0] if failures else None
