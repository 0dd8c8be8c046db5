"""Whether a connecting socket has a live connection, from ZeroMQ's socket monitor: a
handshake that succeeded is UP, a disconnect is DOWN, a handshake the broker failed is
REFUSED (a CURVE key not in its allow-list, a pinned key that is not the broker's, CURVE on
one side only), so that a client says why instead of waiting. The mirror of
core/connection_watch.cc, with its texts. Not thread-safe: used on the thread that owns
the watched socket."""
import itertools

import zmq
from zmq.utils.monitor import recv_monitor_message

UP, DOWN, REFUSED = "up", "down", "refused"
_addresses = itertools.count(1)  # each watch's own inproc endpoint, as the C++ one
_FAILED = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH


def describe_handshake_failure(event, value):
    """The text for a failed handshake's monitor event and value."""
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return ("the broker refused this client's CURVE key (ZAP status %d): it is not in the broker's allow-list"
                % value)
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        if value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            return "handshake failed: this client and the broker disagree on security (one uses CURVE, the other not)"
        return "handshake failed (ZMTP protocol error %d)" % value
    # A CURVE server that cannot decrypt our hello (we pinned another key) just closes.
    return ("handshake failed (%s): is the pinned --curve-server-key this broker's public key?"
            % zmq.strerror(value))


class ConnectionWatch:
    def __init__(self, socket, curve):
        """Starts monitoring `socket`. REQUIRES: before it connects (no event is missed);
        close() before the socket is closed. curve: whether the socket uses CURVE. Without
        it, a connection lost mid-handshake (EVENT_HANDSHAKE_FAILED_NO_DETAIL: a broker
        going down) cannot mean a wrong pinned key and is only DOWN."""
        self._watched = socket
        self._curve = curve
        self.socket = socket.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | _FAILED,
                                                "inproc://signalbus-connection-watch-%d" % next(_addresses))
        self.socket.setsockopt(zmq.LINGER, 0)
        self.up = False
        # Why the last handshake failed ("" if none has, or one succeeded since).
        self.refusal = ""

    def drain(self):
        """Reads what is waiting; the changes it saw, in order (UP, DOWN, REFUSED)."""
        changes = []
        while self.socket.poll(0):
            message = recv_monitor_message(self.socket)
            event, value = message["event"], message["value"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.up, self.refusal = True, ""
                changes.append(UP)
            elif event == zmq.EVENT_DISCONNECTED:
                self.up = False
                changes.append(DOWN)
            elif event & _FAILED:
                self.up = False
                if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL and not self._curve:
                    changes.append(DOWN)
                else:
                    self.refusal = describe_handshake_failure(event, value)
                    changes.append(REFUSED)
        return changes

    def close(self):
        try:
            self._watched.disable_monitor()
        except zmq.ZMQError:
            pass  # the watched socket is closed already
        self.socket.close(0)
