"""The test project's custom signal, forwarded through SIGNALBUS["CUSTOM_SIGNALS"]."""
from django.dispatch import Signal

order_paid = Signal()
