"""The exceptions of the signalbus client: one base class, one subclass per way to fail."""


class SignalbusError(Exception):
    """Base class of every error raised by signalbus."""


class InvalidEvent(SignalbusError, ValueError):
    """An event (or a sender, signal, topic pattern) breaks the envelope's rules."""


class BrokerUnavailable(SignalbusError):
    """No broker answered at the endpoint within the timeout."""


class FlushTimeout(SignalbusError):
    """flush() ran out of time with events still unconfirmed; ``unconfirmed`` says how many."""

    def __init__(self, message, unconfirmed):
        super().__init__(message)
        self.unconfirmed = unconfirmed


class PublishRejected(SignalbusError):
    """The broker refused events; ``rejections`` holds (sequence, reason) pairs."""

    def __init__(self, message, rejections):
        super().__init__(message)
        self.rejections = rejections


class PublisherFull(SignalbusError):
    """max_unconfirmed events await the broker's confirms; a new one was not accepted."""


class PublisherRefused(SignalbusError):
    """The broker refused this publisher's fixed publisher_id (another connection took it
    over, or the broker holds newer events of that id); every later call fails."""


class PublisherClosed(SignalbusError):
    """The publisher was closed."""


class CurveKeyError(SignalbusError):
    """The CURVE settings cannot be used: only one of the broker's key and this client's key
    file given, a malformed key, a key file others may read, no CURVE in this libzmq."""


class PermissionDenied(SignalbusError):
    """The broker refused this client: its CURVE handshake (a key not in the allow-list, a
    pinned broker key that is not this broker's, CURVE on one side only), or a grant."""


class PublishForbidden(PublishRejected, PermissionDenied):
    """PublishRejected where the broker refused an event with reason "forbidden": this
    client's principal may not publish its topic."""
