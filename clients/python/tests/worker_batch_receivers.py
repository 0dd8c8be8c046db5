"""A batch receiver for the outbox test: each call's events (an order and its lines,
saved in one transaction) written as one JSON line: [[model, pk, order pk], ...]."""
import json
import os

import signalbus

OUT = os.environ["SIGNALBUS_TEST_OUT"]


@signalbus.receiver(None, topics=["accounts.Order/post_save", "accounts.OrderLine/post_save"], batch=True,
                    uid="invoices")
def invoice(events):
    rows = []
    for event in events:
        fields = signalbus.fields(event)
        instance = event.model_save.instance
        order = instance.pk if instance.model == "accounts.Order" else str(fields["order_id"])
        rows.append([instance.model, instance.pk, order])
    with open(OUT, "a") as f:
        f.write(json.dumps(rows) + "\n")
