"""ULID event ids: 26 Crockford base32 digits, 48 bits of milliseconds then 80 random bits.
Monotonic within the process, as core/event_id.cc: an id made in the same millisecond as
the previous one (or after the clock stepped back) increments the previous random part."""
import os
import threading
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 26
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
_DECODE.update({c.lower(): i for c, i in list(_DECODE.items())})



def _encode(millis, random_bits):
    value = (millis << 80) | random_bits
    digits = []
    for _ in range(LENGTH):
        digits.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(digits))


class UlidGenerator:
    """Monotonic ULIDs; thread-safe. The process shares one (new_ulid)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last_millis = -1
        self._last_random = 0

    def new(self, now_millis=None):
        """A new ULID for `now_millis` (default: the current time), sorting after the last."""
        if now_millis is None:
            now_millis = time.time_ns() // 1_000_000
        if not 0 <= now_millis < (1 << 48):
            raise ValueError("ULID time %r is outside 48 bits of milliseconds" % (now_millis,))
        with self._lock:
            if now_millis <= self._last_millis:
                now_millis = self._last_millis
                self._last_random = (self._last_random + 1) & ((1 << 80) - 1)
            else:
                # The top bit is left clear: room to increment within one millisecond.
                self._last_random = int.from_bytes(os.urandom(10), "big") & ((1 << 79) - 1)
                self._last_millis = now_millis
            return _encode(now_millis, self._last_random)


_generator = UlidGenerator()
new_ulid = _generator.new


def is_valid_ulid(text):
    """True for 26 base32 digits (either case) that fit in 128 bits."""
    if not isinstance(text, str) or len(text) != LENGTH:
        return False
    if _DECODE.get(text[0], 99) > 7:
        return False
    return all(c in _DECODE for c in text)


def ulid_millis(text):
    """The creation time of a valid ULID, in Unix milliseconds."""
    value = 0
    for c in text[:10]:
        value = (value << 5) | _DECODE[c]
    return value
