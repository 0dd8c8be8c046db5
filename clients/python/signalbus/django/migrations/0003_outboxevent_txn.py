"""The transaction of each outbox row (signalbus/django/models.py, OutboxEvent.txn): a
relay publishes the rows of one transaction as one atomic batch."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("signalbus_django", "0002_outboxbackfill")]

    operations = [
        migrations.AddField(
            model_name="outboxevent",
            name="txn",
            field=models.CharField(blank=True, default="", max_length=26),
        ),
    ]
