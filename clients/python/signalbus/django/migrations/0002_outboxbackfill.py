"""The backfill's progress table (signalbus/django/models.py, OutboxBackfill)."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("signalbus_django", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="OutboxBackfill",
            fields=[
                ("name", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("last_pk", models.TextField(blank=True, default="")),
                ("count", models.BigIntegerField(default=0)),
                ("done", models.BooleanField(default=False)),
            ],
            options={"db_table": "signalbus_outbox_backfill"},
        ),
    ]
