"""The outbox's rows in the database: writing an event in the caller's transaction, and
what a relay does to them (its lease, numbering rows, loading what may be in flight,
forgetting what the broker settled). SQL only; no sockets (signalbus.django.relay sends).

The relays of one database share one OutboxRelay row: its lease says which relay may
number and publish rows now (a relay renews it in every transaction that numbers rows,
so a relay whose lease ran out can number nothing), and its publisher id and next
sequence make every relay number rows as one publisher would. docs/outbox.md."""
import datetime

from django.db import connections, transaction
from django.utils import timezone

from signalbus import envelope, ulid
from signalbus.errors import InvalidEvent
from signalbus.django.models import OutboxEvent, OutboxRelay
from signalbus.proto import MAX_BATCH_BYTES, MAX_BATCH_EVENTS

RELAY_NAME = "default"
_INSERT = ("INSERT INTO signalbus_outbox (created_at, topic, payload, sequence, rejected, txn) "
           "VALUES (%s, %s, %s, NULL, '', %s)")
# Rows of one transaction published as one atomic batch at most (the broker's default
# bounds on a batch): a larger transaction goes out in consecutive atomic batches.
UNIT_EVENTS = MAX_BATCH_EVENTS
UNIT_BYTES = MAX_BATCH_BYTES - (64 << 10)


def write(event, topic, using, alone=False):
    """Inserts `event` (a completed signalbus.v1.Event) on database `using`, in the
    transaction open there: it commits or rolls back with the caller's changes. Rows of
    one transaction share its id (see transaction_id) unless `alone` (a backfill's rows
    are not one change)."""
    connection = connections[using]
    created = connection.ops.adapt_datetimefield_value(timezone.now())
    txn = "" if alone else transaction_id(connection)
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [created, topic, event.SerializeToString(), txn])


def transaction_id(connection):
    """The id of the transaction open on `connection` ("" in autocommit: the row is a
    transaction of its own). Made at its first outbox row and forgotten when it commits:
    each write registers the forgetting with on_commit in its own savepoint, so a
    committed row always has one that runs. After a rollback the id may be used again by
    the next transaction, which is harmless: none of the rolled-back rows exist."""
    if not connection.in_atomic_block:
        return ""
    txn = getattr(connection, "_signalbus_txn", None)
    if txn is None:
        txn = connection._signalbus_txn = ulid.new_ulid()
    connection.on_commit(lambda: setattr(connection, "_signalbus_txn", None))
    return txn


def units(rows):
    """Groups (sequence, payload bytes, txn) rows, in sequence order, into what is
    published together: [[(sequence, payload)], ...], a transaction's consecutive rows in
    one list (an atomic batch; at most UNIT_EVENTS rows and UNIT_BYTES), every other row
    alone."""
    out = []
    last_txn, size = None, 0
    for sequence, payload, txn in rows:
        if txn and txn == last_txn and len(out[-1]) < UNIT_EVENTS and size + len(payload) <= UNIT_BYTES:
            out[-1].append((sequence, payload))
            size += len(payload)
            continue
        out.append([(sequence, payload)])
        last_txn, size = txn, len(payload)
    return out


def _now():
    return timezone.now()


def relay_publisher_id(source):
    """The fixed publisher id the first relay on a database makes: "<source>-outbox-<ULID>",
    so that the allow-list can reserve a service's relay ids ("accounts-outbox-*"); plain
    "outbox-<ULID>" when the source is not usable in an id."""
    stem = source + "-outbox-"
    try:
        envelope.validate_publisher_id(stem)
    except InvalidEvent:
        stem = "outbox-"
    if len(stem) > 64:
        stem = "outbox-"
    return stem + ulid.new_ulid()


def try_lease(using, holder, lease_seconds, source="django"):
    """Takes or renews the lease for `holder` if it is free, expired or its own. Returns the
    relay's state (publisher_id, next_sequence) when `holder` leads, else None."""
    now = _now()
    until = now + datetime.timedelta(seconds=lease_seconds)
    with transaction.atomic(using=using):
        rows = OutboxRelay.objects.using(using)
        # A write first: on SQLite a transaction that reads and then writes fails at once
        # ("database is locked") when another one writes meanwhile.
        taken = rows.filter(name=RELAY_NAME).filter(
            _free_or_mine(holder, now)).update(holder=holder, lease_until=until)
        if not taken:
            if rows.filter(name=RELAY_NAME).exists():
                return None
            # The first relay ever on this database makes the row (a racing one fails on
            # the primary key, and tries again later).
            rows.get_or_create(name=RELAY_NAME, defaults={
                "publisher_id": relay_publisher_id(source), "next_sequence": 1, "holder": holder,
                "lease_until": until})
            if not rows.filter(name=RELAY_NAME, holder=holder).exists():
                return None
        state = rows.get(name=RELAY_NAME)
        return state.publisher_id, state.next_sequence


def _free_or_mine(holder, now):
    from django.db.models import Q

    return Q(holder=holder) | Q(holder="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def release(using, holder):
    """Gives the lease up at once (a relay that stops), so the next relay need not wait."""
    OutboxRelay.objects.using(using).filter(name=RELAY_NAME, holder=holder).update(holder="", lease_until=None)


def in_flight(using):
    """The rows numbered and not settled, grouped as they are published (see units)."""
    rows = (OutboxEvent.objects.using(using).filter(sequence__isnull=False, rejected="")
            .order_by("sequence").values_list("sequence", "payload", "txn"))
    return units([(sequence, bytes(payload), txn) for sequence, payload, txn in rows])


def number_next(using, holder, lease_seconds, limit):
    """Numbers committed rows without a sequence and renews the lease, in one
    transaction: the first `limit` in id order, and every other row of their
    transactions. A transaction's rows get consecutive sequences, transactions in the
    order of their first row. Returns them grouped as they are published (see units),
    or None when `holder` no longer holds the lease (nothing numbered)."""
    now = _now()
    until = now + datetime.timedelta(seconds=lease_seconds)
    connection = connections[using]
    with transaction.atomic(using=using):
        # The UPDATE takes the relay row's lock (PostgreSQL) or the write lock (SQLite)
        # first: relays number one at a time.
        renewed = OutboxRelay.objects.using(using).filter(name=RELAY_NAME, holder=holder, lease_until__gte=now) \
            .update(lease_until=until)
        if not renewed:
            return None
        next_sequence = OutboxRelay.objects.using(using).values_list("next_sequence", flat=True).get(name=RELAY_NAME)
        waiting = OutboxEvent.objects.using(using).filter(sequence__isnull=True, rejected="")
        rows = list(waiting.order_by("id").values_list("id", "payload", "txn")[:limit])
        if not rows:
            return []
        # A transaction is never split between two turns: its rows past the limit come too.
        txns = {txn for _, _, txn in rows if txn}
        if txns:
            rows += list(waiting.filter(id__gt=rows[-1][0], txn__in=txns).order_by("id")
                         .values_list("id", "payload", "txn"))
        order = {}
        for row_id, _, txn in rows:
            order.setdefault(txn or row_id, len(order))
        rows.sort(key=lambda row: (order[row[2] or row[0]], row[0]))
        numbered = [(next_sequence + i, row_id, bytes(payload), txn) for i, (row_id, payload, txn) in enumerate(rows)]
        with connection.cursor() as cursor:
            cursor.executemany("UPDATE signalbus_outbox SET sequence = %s WHERE id = %s",
                               [(sequence, row_id) for sequence, row_id, _, _ in numbered])
        OutboxRelay.objects.using(using).filter(name=RELAY_NAME).update(next_sequence=next_sequence + len(rows))
    return units([(sequence, payload, txn) for sequence, _, payload, txn in numbered])


def settle(using, through, rejections):
    """Records the broker's answers: each (sequence, reason) rejected is kept with its
    reason; every other numbered row up to `through` is confirmed, and deleted."""
    # Raw SQL: a queryset delete() would load every row for Django's delete signals.
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if rejections:
            cursor.executemany("UPDATE signalbus_outbox SET rejected = %s WHERE sequence = %s",
                               [(reason or "rejected", sequence) for sequence, reason in rejections])
        cursor.execute("DELETE FROM signalbus_outbox WHERE sequence <= %s AND rejected = ''", [through])


def status(using):
    """What signalbus_status prints: rows waiting, the oldest one's age, rejected rows,
    and the relay's lease."""
    events = OutboxEvent.objects.using(using)
    waiting = events.filter(rejected="")
    oldest = waiting.order_by("id").values_list("created_at", flat=True).first()
    relay = OutboxRelay.objects.using(using).filter(name=RELAY_NAME).first()
    return {
        "database": using,
        "waiting": waiting.count(),
        "numbered": waiting.filter(sequence__isnull=False).count(),
        "rejected": events.exclude(rejected="").count(),
        "oldest_age_seconds": (_now() - oldest).total_seconds() if oldest else 0.0,
        "publisher_id": relay.publisher_id if relay else "",
        "next_sequence": relay.next_sequence if relay else 1,
        "holder": relay.holder if relay else "",
        "lease_seconds_left": max(0.0, (relay.lease_until - _now()).total_seconds())
        if relay and relay.lease_until else 0.0,
    }
