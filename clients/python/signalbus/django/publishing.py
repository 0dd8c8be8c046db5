"""Where the Django app's events go when their transaction commits, and the process's
Publisher for the in-memory path.

- OUTBOX (the default with a database): the event is written into the outbox table in the
  save's own transaction (signalbus.django.outbox); a relay publishes it after commit
  (signalbus.django.relay). A rolled-back save leaves no row; a committed one is
  published even if this process dies right after the commit.
- EAGER (tests): this process's receivers run on commit, no broker (signalbus.django.eager).
- Otherwise, the in-memory path below.

The publisher is made on first use, without waiting for the broker (a web process must
start and save while the broker is down): events wait in memory, in order, and go out
when the broker is there. At most SIGNALBUS["MAX_UNCONFIRMED"] are held; past that an
event is dropped and logged at ERROR level with its topic, key and id, so that nothing is
lost silently, and the save that caused it still succeeds. At exit the publisher waits up
to CLOSE_TIMEOUT for confirms and logs what is left. A forked child (gunicorn --preload)
gets a publisher of its own.
"""
import atexit
import logging
import os
import threading
import time

from django.db import transaction

from signalbus import envelope
from signalbus.django import conf, eager, outbox, relay_thread
from signalbus.errors import PublisherFull, SignalbusError
from signalbus.publisher import Publisher

log = logging.getLogger("signalbus.django")

_lock = threading.Lock()
_publisher = None
_pid = None
_atexit_registered = False


def get_publisher():
    """The publisher of this process, made on first use from the SIGNALBUS setting."""
    global _publisher, _pid, _atexit_registered
    with _lock:
        if _publisher is None or _pid != os.getpid():
            config = conf.get()
            _publisher = Publisher(
                config.broker, config.source, connect_timeout=0, max_unconfirmed=config.max_unconfirmed,
                resend_interval=config.resend_interval, send_timeout=config.close_timeout,
                curve_server_key=config.curve_server_key, curve_key_file=config.curve_key_file,
            )
            _pid = os.getpid()
            if not _atexit_registered:
                atexit.register(close)
                _atexit_registered = True
        return _publisher


def close(timeout=None):
    """Waits up to `timeout` (default CLOSE_TIMEOUT) for confirms, logging what is left,
    and closes the publisher; the next publish makes a new one."""
    global _publisher
    with _lock:
        publisher, _publisher = _publisher, None
    if publisher is not None and _pid == os.getpid():
        publisher.close(timeout)


def reset():
    """Closes the publisher at once (the setting changed); unconfirmed events are logged."""
    close(0)


def publish_now(event):
    """Publishes a built event; never raises (a save must not fail because of the bus)."""
    try:
        get_publisher().publish(event, timeout=0)
    except PublisherFull as error:
        log.error(
            "signalbus: DROPPED %s/%s key=%s id=%s: %s (raise SIGNALBUS['MAX_UNCONFIRMED'] or bring the broker back)",
            event.sender, event.signal,
            event.ordering_key or envelope.ordering_key_for(event.sender, envelope.primary_key_of(event)),
            event.event_id or "-", error,
        )
    except SignalbusError as error:
        log.error("signalbus: DROPPED %s/%s: %s", event.sender, event.signal, error)
    except Exception:  # never let the bus break the caller's commit
        log.exception("signalbus: DROPPED %s/%s: unexpected error", event.sender, event.signal)


def publish_on_commit(event, using):
    """Publishes `event` when the transaction on `using` commits (at once outside one);
    nothing if it rolls back."""
    config = conf.get()
    if config.eager:
        transaction.on_commit(lambda: eager.run(event, config.source), using=using)
    elif config.outbox:
        if write_outbox(event, using, config):
            wake_relay_on_commit(using, config)
    else:
        transaction.on_commit(lambda: publish_now(event), using=using)


def wake_relay_on_commit(using, config):
    """Wakes this process's relay thread (OUTBOX_RELAY "thread") once the transaction on
    `using` commits."""
    if config.outbox_relay == "thread":
        transaction.on_commit(lambda: relay_thread.wake(using), using=using)


def write_outbox(event, using, config, alone=False):
    """Completes `event` and writes it into the outbox of `using`, in the open transaction.
    An event the broker would refuse is logged and dropped (the save goes on); a database
    error is the save's own (e.g. the outbox table is missing: run manage.py migrate)."""
    try:
        envelope.complete(event, config.source, "", 0, time.time_ns())
    except SignalbusError as error:
        log.error("signalbus: DROPPED %s/%s: %s", event.sender, event.signal, error)
        return False
    outbox.write(event, envelope.topic_of(event), using, alone)
    return True
