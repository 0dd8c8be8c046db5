"""The outbox tables (signalbus/django/models.py)."""
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="OutboxEvent",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField()),
                ("topic", models.TextField()),
                ("payload", models.BinaryField()),
                ("sequence", models.BigIntegerField(db_index=True, null=True)),
                ("rejected", models.TextField(blank=True, default="")),
            ],
            options={"db_table": "signalbus_outbox"},
        ),
        migrations.CreateModel(
            name="OutboxRelay",
            fields=[
                ("name", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("publisher_id", models.CharField(max_length=128)),
                ("next_sequence", models.BigIntegerField(default=1)),
                ("holder", models.CharField(blank=True, default="", max_length=200)),
                ("lease_until", models.DateTimeField(null=True)),
            ],
            options={"db_table": "signalbus_outbox_relay"},
        ),
    ]
