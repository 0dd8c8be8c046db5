"""The relay thread of a Django process (OUTBOX_RELAY "thread"): started on the first
outbox write on a database, woken after each commit that wrote rows, stopped at exit
(after the last confirms, up to CLOSE_TIMEOUT; what is left stays in the table). A
forked child (gunicorn --preload) starts its own."""
import atexit
import logging
import os
import threading

from signalbus.django import conf
from signalbus.django.relay import Relay

log = logging.getLogger("signalbus.relay")

_lock = threading.Lock()
_relays = {}  # database alias -> (Relay, Thread)
_pid = None
_atexit_registered = False


def wake(using):
    """Wakes the relay of `using`, starting it if this process has none yet."""
    global _pid, _atexit_registered
    with _lock:
        if _pid != os.getpid():
            _relays.clear()  # a forked child: the parent's threads are not here
            _pid = os.getpid()
        entry = _relays.get(using)
        if entry is None:
            relay = Relay(using, conf.get())
            thread = threading.Thread(target=relay.run, name="signalbus-relay-%s" % using, daemon=True)
            _relays[using] = entry = (relay, thread)
            thread.start()
            if not _atexit_registered:
                atexit.register(stop_all)
                _atexit_registered = True
    entry[0].wake()


def stop_all(timeout=None):
    """Stops every relay thread of this process and waits for each to hand back its lease."""
    with _lock:
        entries = list(_relays.values()) if _pid == os.getpid() else []
        _relays.clear()
    for relay, _ in entries:
        relay.stop()
    for relay, thread in entries:
        thread.join(timeout if timeout is not None else relay.config.close_timeout + 5)
