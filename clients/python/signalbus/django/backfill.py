"""Backfill: events for rows that already exist, written into the outbox in pk order, so
that a receiver added to a site that already has users catches up (every User without a
Profile gets one). Each batch of rows and the progress row (OutboxBackfill) commit
together, so an interrupted backfill resumes after the last batch and never writes a
row's event twice. manage.py signalbus_backfill is the command; this is the loop."""
from django.db import transaction

from signalbus import envelope
from signalbus.django import publishing
from signalbus.django.models import OutboxBackfill
from signalbus.django.snapshot import label_of, snapshot

SIGNALS = ("post_save", "pre_save")


def progress_name(model, signal, where):
    name = "%s/%s" % (label_of(model), signal)
    if where:
        name += " where " + " and ".join("%s=%s" % item for item in sorted(where.items()))
    return name[:255]


def run(model, config, *, signal="post_save", created=True, where=None, using="default", batch=500,
        restart=False, on_progress=None):
    """Writes one `signal` event per row of `model` matching `where` (field lookups), from
    where the last run stopped. Returns (written now, total written, rows in all).
    on_progress(done, total) is called after each batch."""
    where = dict(where or {})
    name = progress_name(model, signal, where)
    rows = model._default_manager.using(using).filter(**where).order_by("pk")
    total = rows.count()
    state, _ = OutboxBackfill.objects.using(using).get_or_create(name=name)
    if restart:
        state.last_pk, state.count, state.done = "", 0, False
        state.save(using=using)
    written_now = 0
    pk_field = model._meta.pk
    while not state.done:
        page = rows if not state.last_pk else rows.filter(pk__gt=pk_field.to_python(state.last_pk))
        with transaction.atomic(using=using):
            # A write first: on SQLite a transaction that reads and then writes fails at
            # once ("database is locked") when a relay writes meanwhile.
            OutboxBackfill.objects.using(using).filter(name=name).update(done=False)
            chunk = list(page[:batch])
            for instance in chunk:
                event = envelope.model_save(signal, label_of(model), None, created=created, using=using)
                event.model_save.instance.CopyFrom(snapshot(instance, config.exclude_fields))
                publishing.write_outbox(event, using, config, alone=True)
            state.count += len(chunk)
            if chunk:
                state.last_pk = str(chunk[-1].pk)
            state.done = len(chunk) < batch
            state.save(using=using)
            publishing.wake_relay_on_commit(using, config)
        written_now += len(chunk)
        if on_progress is not None:
            on_progress(min(state.count, total), total)
    return written_now, state.count, total
