"""Eager mode (SIGNALBUS["EAGER"] = True, like Celery's task_always_eager): the receivers
registered in this process (@signalbus.receiver, in modules named by RECEIVERS or
imported otherwise) run when the save's transaction commits, with no broker, so that a
project's own tests exercise them. A receiver that raises is logged, as the worker logs
it; the others still run, and the save is not undone."""
import logging
import time

from signalbus import envelope
from signalbus.errors import SignalbusError
from signalbus.registry import default_registry

log = logging.getLogger("signalbus.django")


def run(event, source):
    """Completes `event` as a publisher would and dispatches it to this process's receivers."""
    try:
        envelope.complete(event, source, "eager", 1, time.time_ns())
    except SignalbusError as error:
        log.error("signalbus (eager): DROPPED %s/%s: %s", event.sender, event.signal, error)
        return None
    return default_registry.dispatch(envelope.topic_of(event), event)
