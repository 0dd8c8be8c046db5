"""The receivers signalbus.django connects to Django's signals. Each builds the event when
the signal fires (so it shows the instance as it was then) and publishes it after the
transaction commits. Which signals and senders: the SIGNALBUS setting (conf.Config).

Model delete signals are connected per sender when SENDERS lists models: a pre_delete or
post_delete receiver for every model would stop Django's fast deletes everywhere.
"""
import logging

from django.apps import apps
from django.contrib.auth import signals as auth_signals
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS
from django.db.models import signals as model_signals

from signalbus import envelope
from signalbus.django import conf, forwarding, publishing
from signalbus.django.snapshot import delete_origin, instance_fields, label_of, pk_text, request_meta, snapshot

log = logging.getLogger("signalbus.django")

_connected = []  # (signal, dispatch_uid)


def _model_signal_wanted(config, signal, sender):
    return config.forwards(signal) and config.forwards_sender(label_of(sender))


def on_pre_save(sender, instance, raw=False, using=DEFAULT_DB_ALIAS, update_fields=None, **kwargs):
    config = conf.get()
    if not _model_signal_wanted(config, "pre_save", sender):
        return
    event = envelope.model_save("pre_save", label_of(sender), None, raw=raw, using=using, update_fields=update_fields)
    event.model_save.instance.CopyFrom(snapshot(instance, config.exclude_fields))
    publishing.publish_on_commit(event, using)


def on_post_save(sender, instance, created=False, raw=False, using=DEFAULT_DB_ALIAS, update_fields=None, **kwargs):
    config = conf.get()
    if not _model_signal_wanted(config, "post_save", sender):
        return
    event = envelope.model_save("post_save", label_of(sender), None, created=created, raw=raw, using=using,
                                update_fields=update_fields)
    event.model_save.instance.CopyFrom(snapshot(instance, config.exclude_fields))
    publishing.publish_on_commit(event, using)


def _on_delete(signal, sender, instance, using, origin):
    config = conf.get()
    if not _model_signal_wanted(config, signal, sender):
        return
    event = envelope.model_delete(signal, label_of(sender), None, using=using, origin=delete_origin(origin))
    event.model_delete.instance.CopyFrom(snapshot(instance, config.exclude_fields))
    publishing.publish_on_commit(event, using)


def on_pre_delete(sender, instance, using=DEFAULT_DB_ALIAS, origin=None, **kwargs):
    _on_delete("pre_delete", sender, instance, using, origin)


def on_post_delete(sender, instance, using=DEFAULT_DB_ALIAS, origin=None, **kwargs):
    _on_delete("post_delete", sender, instance, using, origin)


def on_m2m_changed(sender, instance, action, reverse, model, pk_set, using=DEFAULT_DB_ALIAS, **kwargs):
    config = conf.get()
    if not config.forwards("m2m_changed"):
        return
    through, owner = label_of(sender), label_of(instance)
    if not (config.forwards_sender(through) or config.forwards_sender(owner)):
        return
    fields = instance_fields(instance, config.exclude_fields.get(owner, ()))
    event = envelope.m2m_changed(through, action, owner, pk_text(instance), fields, reverse=reverse,
                                 model=label_of(model), pk_set=pk_set, using=using)
    publishing.publish_on_commit(event, using)


def _user_session(signal, sender, request, user):
    if not conf.get().forwards(signal):
        return
    label = label_of(user) if user is not None else label_of(sender)
    event = envelope.user_session(
        signal, label, None if user is None else pk_text(user), "" if user is None else user.get_username(),
        request_meta(request),
    )
    # Login updates last_login in the request's transaction: published if that commits.
    publishing.publish_on_commit(event, DEFAULT_DB_ALIAS)


def on_user_logged_in(sender, request=None, user=None, **kwargs):
    _user_session("user_logged_in", sender, request, user)


def on_user_logged_out(sender, request=None, user=None, **kwargs):
    _user_session("user_logged_out", sender, request, user)


def on_user_login_failed(sender, credentials=None, request=None, **kwargs):
    if not conf.get().forwards("user_login_failed"):
        return
    sender_name = sender if isinstance(sender, str) else getattr(sender, "__name__", "django.contrib.auth")
    event = envelope.login_failed(sender_name, credentials or {}, request_meta(request))
    # A failed attempt happened whatever the request's transaction does: published now.
    publishing.publish_now(event)


def _connect(signal, receiver, sender=None, uid=None):
    uid = uid or "signalbus.django.%s" % receiver.__name__
    signal.connect(receiver, sender=sender, weak=False, dispatch_uid=uid)
    _connected.append((signal, sender, uid))


def _models(labels):
    models = []
    for label in labels:
        try:
            models.append(apps.get_model(label))
        except (LookupError, ValueError):
            raise ImproperlyConfigured("SIGNALBUS['SENDERS']: no installed model %r" % label) from None
    return models


def connect(config):
    """Connects the receivers the configuration asks for (after disconnect())."""
    if not config.enabled:
        return
    senders = [None] if config.senders == "*" else _models(config.senders)
    model_receivers = {"pre_save": on_pre_save, "post_save": on_post_save,
                       "pre_delete": on_pre_delete, "post_delete": on_post_delete}
    for name, receiver in model_receivers.items():
        if not config.forwards(name):
            continue
        for model in senders:
            uid = "signalbus.django.%s.%s" % (name, "*" if model is None else label_of(model))
            _connect(getattr(model_signals, name), receiver, model, uid)
    if config.forwards("m2m_changed"):
        _connect(model_signals.m2m_changed, on_m2m_changed)
    for name, receiver in (("user_logged_in", on_user_logged_in), ("user_logged_out", on_user_logged_out),
                           ("user_login_failed", on_user_login_failed)):
        if config.forwards(name):
            _connect(getattr(auth_signals, name), receiver)
    for name, signal in config.custom_signals.items():
        forwarding.forward(signal, name, configured=True)


def disconnect():
    for signal, sender, uid in _connected:
        signal.disconnect(sender=sender, dispatch_uid=uid)
    del _connected[:]
    forwarding.unforward_configured()
