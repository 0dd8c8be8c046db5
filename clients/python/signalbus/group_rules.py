"""The consumer-group rules a member shares with the broker: the group-name grammar, the
bounds of the heartbeat interval, the longest names the broker keeps, and how acks are
written as ranges. The mirror of
core/include/signalbus/core/group_rules.h; tests/test_group_rules.py checks both against
proto/testdata/group_rules.json, the one list of vectors."""
from signalbus.endpoints import printable
from signalbus.errors import PermissionDenied, SignalbusError

MAX_GROUP_NAME_BYTES = 100
MAX_MEMBER_NAME_BYTES = 256
MAX_NACK_ERROR_BYTES = 1000
MIN_HEARTBEAT_MS = 10
MAX_HEARTBEAT_MS = 60_000
DEFAULT_HEARTBEAT_MS = 1000
MISSED_HEARTBEATS = 3  # silent intervals after which either side presumes the other gone
MAX_ACK_REFS = 1 << 20  # the most deliveries one Ack may name, refs and ranges together

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class GroupError(SignalbusError):
    """The member could not join: a bad option, a refusal by the broker, or no broker."""


class JoinRefused(GroupError):
    """A broker answered and refused the join (a bad name, a limit): trying again will not help."""


class JoinDenied(JoinRefused, PermissionDenied):
    """The broker refused this member's CURVE handshake: no Join will ever get through."""


class JoinTimedOut(GroupError):
    """No broker answered the join in time (it is not there yet, or unreachable)."""


def validate_group_name(group):
    if not group:
        raise GroupError("consumer group name is empty")
    if len(group.encode("utf-8", "surrogatepass")) > MAX_GROUP_NAME_BYTES:
        raise GroupError("consumer group name '%s' is longer than %d bytes" % (printable(group), MAX_GROUP_NAME_BYTES))
    if not all(c in _NAME_CHARS for c in group):
        raise GroupError("consumer group name '%s' may only hold letters, digits, '.', '_' and '-'" % printable(group))


def _duration(ms):
    """As the C++ FormatDuration: "60s", "250ms"."""
    return "%ds" % (ms // 1000) if ms % 1000 == 0 else "%dms" % ms


def validate_heartbeat(seconds):
    """A heartbeat interval in seconds, between 10 ms and 1 minute."""
    ms = round(seconds * 1000)
    if not MIN_HEARTBEAT_MS <= ms <= MAX_HEARTBEAT_MS:
        raise GroupError("heartbeat interval %s is outside %s to %s"
                         % (_duration(ms), _duration(MIN_HEARTBEAT_MS), _duration(MAX_HEARTBEAT_MS)))


def add_ack_ranges(refs, ack):
    """Writes the DeliveryRefs `refs` into the Ack `ack` as ranges (for a broker whose Joined
    says ack_ranges): each run of consecutive offsets with one attempt, in the order given,
    becomes one AckRange."""
    run = None
    for ref in refs:
        if run is not None and run.attempt == ref.attempt and ref.offset == run.first + run.count:
            run.count += 1
            continue
        run = ack.ranges.add(first=ref.offset, count=1, attempt=ref.attempt)
