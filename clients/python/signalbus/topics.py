"""Topics "<sender>/<signal>" and subscription patterns, with the grammar and the
segment-exact matching of docs/wire-protocol.md (core/topic.cc in C++)."""
import re

from signalbus.errors import InvalidEvent

MAX_TOPIC_BYTES = 255
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_SENDER_RE = re.compile(r"%s(?:\.%s)*\Z" % (_IDENT, _IDENT))
_SIGNAL_RE = re.compile(r"%s\Z" % _IDENT)


def _printable(text, limit=64):
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= limit else text[:limit] + "..."


def validate_sender(sender):
    """Raises InvalidEvent unless `sender` is a model label (auth.User) or a module."""
    if not isinstance(sender, str) or not sender:
        raise InvalidEvent("sender is empty")
    if len(sender.encode()) > MAX_TOPIC_BYTES:
        raise InvalidEvent("sender is longer than 255 bytes")
    if not _SENDER_RE.match(sender):
        raise InvalidEvent("sender '%s' is not a model label like app_label.ModelName" % _printable(sender))


def validate_signal(signal):
    """Raises InvalidEvent unless `signal` is an identifier (post_save, order_paid)."""
    if not isinstance(signal, str) or not signal:
        raise InvalidEvent("signal name is empty")
    if len(signal.encode()) > MAX_TOPIC_BYTES:
        raise InvalidEvent("signal name is longer than 255 bytes")
    if not _SIGNAL_RE.match(signal):
        raise InvalidEvent("signal name '%s' is not an identifier like post_save" % _printable(signal))


def make_topic(sender, signal):
    """"auth.User/post_save" from its parts, validated."""
    validate_sender(sender)
    validate_signal(signal)
    topic = sender + "/" + signal
    if len(topic.encode()) > MAX_TOPIC_BYTES:
        raise InvalidEvent("topic is longer than 255 bytes")
    return topic


class TopicPattern:
    """A subscription: two segments, each a literal or "*": auth.User/post_save,
    auth.User/* (also written auth.User), */post_save, or *."""

    __slots__ = ("sender", "signal")

    def __init__(self, sender=None, signal=None):
        self.sender = sender  # None: any
        self.signal = signal  # None: any

    @classmethod
    def parse(cls, pattern):
        if not isinstance(pattern, str) or not pattern:
            raise InvalidEvent("topic pattern is empty")
        if pattern == "*":
            return cls()
        sender, _, signal = pattern.partition("/")
        if not _:
            signal = "*"
        try:
            if sender != "*":
                validate_sender(sender)
            if signal != "*":
                validate_signal(signal)
        except InvalidEvent as error:
            raise InvalidEvent("bad topic pattern '%s': %s" % (_printable(pattern), error)) from None
        return cls(None if sender == "*" else sender, None if signal == "*" else signal)

    def matches(self, topic):
        sender, slash, signal = topic.partition("/")
        if not slash:
            return False
        if self.sender is not None and sender != self.sender:
            return False
        return self.signal is None or signal == self.signal

    def zmq_prefix(self):
        """The longest literal byte prefix, for a ZeroMQ SUB filter."""
        if self.sender is None:
            return ""
        return self.sender + "/" + (self.signal or "")

    def __str__(self):
        return "%s/%s" % (self.sender or "*", self.signal or "*")

    def __repr__(self):
        return "TopicPattern(%r)" % str(self)

    def __eq__(self, other):
        return isinstance(other, TopicPattern) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))
