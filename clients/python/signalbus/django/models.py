"""The transactional outbox's tables. An OutboxEvent row is written in the transaction of
the save that fired the signal (so it exists exactly when the save committed); a relay
numbers committed rows, publishes them, and deletes each once the broker confirmed it.
OutboxRelay is one row per database: the publisher id and next sequence the relays share,
and the lease that lets one relay at a time publish. See docs/outbox.md."""
from django.db import models


class OutboxEvent(models.Model):
    id = models.BigAutoField(primary_key=True)  # the order events are relayed in
    created_at = models.DateTimeField()  # when the signal fired: the relay's lag is measured from it
    topic = models.TextField()  # "auth.User/post_save", for people and signalbus_status
    payload = models.BinaryField()  # the serialized signalbus.v1.Event, without publisher id and sequence
    # Given by the relay, in id order, when it first sends the row; kept so that a re-send
    # (by this relay or the next) carries the same sequence and the broker drops it.
    sequence = models.BigIntegerField(null=True, db_index=True)
    rejected = models.TextField(blank=True, default="")  # the broker refused it: why (kept, never re-sent)
    # The transaction that wrote it (a ULID made at its first outbox row; "" outside one):
    # a relay publishes a transaction's rows as one atomic batch.
    txn = models.CharField(max_length=26, blank=True, default="")

    class Meta:
        db_table = "signalbus_outbox"

    def __str__(self):
        return "%s #%d" % (self.topic, self.id)


class OutboxRelay(models.Model):
    name = models.CharField(max_length=100, primary_key=True)  # "default"
    publisher_id = models.CharField(max_length=128)  # made by the first relay; the same for all
    next_sequence = models.BigIntegerField(default=1)
    holder = models.CharField(max_length=200, blank=True, default="")  # the relay publishing now
    lease_until = models.DateTimeField(null=True)

    class Meta:
        db_table = "signalbus_outbox_relay"

    def __str__(self):
        return "relay %s (%s)" % (self.name, self.holder or "free")


class OutboxBackfill(models.Model):
    """How far manage.py signalbus_backfill got, written in the transaction of each batch of
    outbox rows it adds: an interrupted backfill resumes after the last pk committed."""
    name = models.CharField(max_length=255, primary_key=True)  # "auth.User/post_save" [+ " where ..."]
    last_pk = models.TextField(blank=True, default="")  # the last row's pk, as text ("" before the first)
    count = models.BigIntegerField(default=0)  # events written so far
    done = models.BooleanField(default=False)

    class Meta:
        db_table = "signalbus_outbox_backfill"

    def __str__(self):
        return "backfill %s (%d%s)" % (self.name, self.count, ", done" if self.done else "")
