"""signalbus.django: a Django app that puts the project's own signals on the bus.

    INSTALLED_APPS = [..., "signalbus.django"]
    SIGNALBUS = {"BROKER": "tcp://127.0.0.1:5555", "SOURCE": "accounts", "SENDERS": ["auth.User"]}

Model signals are snapshotted when they fire and published when the transaction commits
(transaction.on_commit), so a rolled-back save publishes nothing. The settings are read
by signalbus.django.conf; the handlers are in signalbus.django.handlers; the process's
publisher is in signalbus.django.publishing. Custom signals: SIGNALBUS["CUSTOM_SIGNALS"]
or signalbus.django.forwarding.forward(signal, "order_paid").

Nothing here imports Django models at import time: INSTALLED_APPS imports this package
before the app registry is ready.
"""
