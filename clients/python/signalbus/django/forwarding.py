"""Custom signals on the bus: forward(order_paid, "order_paid") connects a receiver to a
project's own django.dispatch.Signal that publishes every send as a `custom` event:

    order_paid.send(sender=Order, order=order, amount=Decimal("19.90"))
    -> topic shop.Order/order_paid, kwargs {"order": {"model": "shop.Order", "pk": "7"},
       "amount": "19.90"}, pk "7" (from a "pk" kwarg, else "instance", else the first
       model instance among the kwargs)

The sender is a model (its label), a model instance, or a label string. Like model
signals, the event is published when the transaction on `using` (a "using" kwarg, else
the default database) commits. The signal also becomes usable as
@signalbus.receiver(order_paid, sender="shop.Order")."""
import logging

from django.db import DEFAULT_DB_ALIAS

from signalbus import envelope
from signalbus.django import publishing
from signalbus.django.snapshot import json_value, label_of, pk_text
from signalbus.errors import SignalbusError
from signalbus.registry import register_signal_name
from signalbus.topics import validate_signal

log = logging.getLogger("signalbus.django")

_forwarded = {}  # dispatch uid -> (signal, configured)


def _kwarg_value(value):
    if hasattr(value, "_meta") and hasattr(value, "pk"):
        return {"model": label_of(value), "pk": pk_text(value)}
    return json_value(value)


def _pk_of(kwargs):
    if kwargs.get("pk") is not None:
        return str(kwargs["pk"])
    candidates = [kwargs["instance"]] if "instance" in kwargs else []
    candidates += [v for v in kwargs.values() if hasattr(v, "_meta") and hasattr(v, "pk")]
    for value in candidates:
        if hasattr(value, "_meta") and getattr(value, "pk", None) is not None:
            return pk_text(value)
    return ""


def _sender_label(sender):
    if isinstance(sender, str):
        return sender
    if hasattr(sender, "_meta"):
        return label_of(sender)
    raise SignalbusError("sender %r is neither a model, a model instance nor a label" % (sender,))


def _make_receiver(name):
    def forward_custom_signal(sender, **kwargs):
        kwargs.pop("signal", None)
        try:
            event = envelope.custom(_sender_label(sender), name,
                                    {k: _kwarg_value(v) for k, v in kwargs.items()}, _pk_of(kwargs))
        except SignalbusError as error:
            log.error("signalbus: DROPPED custom signal %s: %s", name, error)
            return
        using = kwargs.get("using")
        publishing.publish_on_commit(event, using if isinstance(using, str) else DEFAULT_DB_ALIAS)

    return forward_custom_signal


def forward(signal, name, configured=False):
    """Publishes every send of `signal` (a django.dispatch.Signal) as the custom signal
    `name`. Idempotent per (signal, name)."""
    validate_signal(name)
    if envelope.payload_for(name) != "custom":
        raise SignalbusError("'%s' is a Django signal name; a custom signal needs a name of its own" % name)
    uid = "signalbus.django.custom.%s.%x" % (name, id(signal))
    signal.connect(_make_receiver(name), weak=False, dispatch_uid=uid)
    register_signal_name(signal, name)
    _forwarded[uid] = (signal, configured or _forwarded.get(uid, (None, False))[1])


def unforward(signal, name):
    uid = "signalbus.django.custom.%s.%x" % (name, id(signal))
    signal.disconnect(dispatch_uid=uid)
    _forwarded.pop(uid, None)


def unforward_configured():
    """Disconnects what came from SIGNALBUS["CUSTOM_SIGNALS"] (the setting changed)."""
    for uid, (signal, configured) in list(_forwarded.items()):
        if configured:
            signal.disconnect(dispatch_uid=uid)
            del _forwarded[uid]
