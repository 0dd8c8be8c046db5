"""Endpoint defaults (from the environment, as the C++ programs) and syntax checks."""
import os

from signalbus.errors import SignalbusError

INGEST_ENV, DEFAULT_INGEST = "SIGNALBUS_INGEST", "tcp://127.0.0.1:5555"
GROUPS_ENV, DEFAULT_GROUPS = "SIGNALBUS_GROUPS", "tcp://127.0.0.1:5557"
SOURCE_ENV = "SIGNALBUS_SOURCE"


def from_env(variable, fallback):
    return os.environ.get(variable) or fallback


def printable(data, limit=64):
    """Text safe to log from whatever a peer or a user sent: non-printable bytes escaped,
    cut at `limit` characters."""
    if isinstance(data, bytes):
        text = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else "\\x%02x" % b for b in data[:limit])
        return text + ("...(%d bytes)" % len(data) if len(data) > limit else "")
    text = "".join(c if c.isprintable() else "\\x%02x" % (ord(c) & 0xFF) for c in str(data)[:limit])
    return text + ("..." if len(str(data)) > limit else "")


def validate_endpoint(endpoint):
    """Raises SignalbusError unless `endpoint` is tcp://host:port, ipc://path or inproc://name."""

    def bad(why):
        return SignalbusError(
            "endpoint '%s' %s (expected tcp://host:port, ipc://path or inproc://name)" % (printable(endpoint), why)
        )

    if not isinstance(endpoint, str) or "://" not in endpoint:
        raise bad("has no scheme")
    scheme, rest = endpoint.split("://", 1)
    if not rest:
        raise bad("has no address")
    if scheme in ("ipc", "inproc"):
        return
    if scheme != "tcp":
        raise bad("has an unsupported scheme")
    host, colon, port = rest.rpartition(":")
    if not colon or not host:
        raise bad("has no host:port")
    if port in ("*", "0"):
        return
    if not port.isdigit() or len(port) > 5:
        raise bad("has a bad port")
    if not 1 <= int(port) <= 65535:
        raise bad("has a port out of range")
