"""The test project's own models: an Order with the field types a snapshot must carry
(foreign key, big integer, decimal, datetime, UUID, JSON, boolean) and a many-to-many,
and its OrderLines (saved with their order in one transaction: the outbox's atomic
batches)."""
import uuid

from django.conf import settings
from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Order(models.Model):
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    number = models.BigIntegerField()
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    placed_at = models.DateTimeField()
    ref = models.UUIDField(default=uuid.uuid4)
    notes = models.JSONField(default=dict)
    paid = models.BooleanField(default=False)
    tags = models.ManyToManyField(Tag, blank=True)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.CharField(max_length=50)
    quantity = models.IntegerField(default=1)
