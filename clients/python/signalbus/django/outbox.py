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

from signalbus import ulid
from signalbus.django.models import OutboxEvent, OutboxRelay

RELAY_NAME = "default"
_INSERT = "INSERT INTO signalbus_outbox (created_at, topic, payload, sequence, rejected) VALUES (%s, %s, %s, NULL, '')"


def write(event, topic, using):
    """Inserts `event` (a completed signalbus.v1.Event) on database `using`, in the
    transaction open there: it commits or rolls back with the caller's changes."""
    connection = connections[using]
    created = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [created, topic, event.SerializeToString()])


def _now():
    return timezone.now()


def try_lease(using, holder, lease_seconds):
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
                "publisher_id": "outbox-" + ulid.new_ulid(), "next_sequence": 1, "holder": holder,
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
    """The rows numbered and not settled, in sequence order: [(sequence, payload bytes)]."""
    rows = (OutboxEvent.objects.using(using).filter(sequence__isnull=False, rejected="")
            .order_by("sequence").values_list("sequence", "payload"))
    return [(sequence, bytes(payload)) for sequence, payload in rows]


def number_next(using, holder, lease_seconds, limit):
    """Numbers up to `limit` committed rows without a sequence, in id order, and renews
    the lease, in one transaction. Returns [(sequence, payload bytes)], or None when
    `holder` no longer holds the lease (nothing numbered)."""
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
        rows = list(OutboxEvent.objects.using(using).filter(sequence__isnull=True, rejected="")
                    .order_by("id").values_list("id", "payload")[:limit])
        if not rows:
            return []
        numbered = [(next_sequence + i, row_id, bytes(payload)) for i, (row_id, payload) in enumerate(rows)]
        with connection.cursor() as cursor:
            cursor.executemany("UPDATE signalbus_outbox SET sequence = %s WHERE id = %s",
                               [(sequence, row_id) for sequence, row_id, _ in numbered])
        OutboxRelay.objects.using(using).filter(name=RELAY_NAME).update(next_sequence=next_sequence + len(rows))
    return [(sequence, payload) for sequence, _, payload in numbered]


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
