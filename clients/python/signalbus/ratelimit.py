"""A token bucket for log lines about what peers send: a confused or hostile peer must
not flood the log (as core/logging.h's RateLimiter)."""
import threading
import time


class RateLimiter:
    def __init__(self, per_second=1.0, burst=5.0):
        self._rate = per_second
        self._burst = burst
        self._tokens = burst
        self._last = time.monotonic()
        self._suppressed = 0
        self._lock = threading.Lock()

    def allow(self):
        """True if a line may be logged now; otherwise counts it as suppressed."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            self._suppressed += 1
            return False

    def take_suppressed(self):
        """How many lines were suppressed since the last call."""
        with self._lock:
            count, self._suppressed = self._suppressed, 0
            return count
