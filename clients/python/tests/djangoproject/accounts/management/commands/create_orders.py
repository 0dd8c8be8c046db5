"""manage.py create_orders N LINES: creates N orders, each with LINES lines, each order
with its lines in one transaction; prints "created N orders" and exits."""
import datetime
import decimal

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from djangoproject.accounts.models import Order, OrderLine


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("count", type=int)
        parser.add_argument("lines", type=int)

    def handle(self, count, lines, **options):
        customer, _ = User.objects.get_or_create(username="customer")
        placed = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)
        for i in range(count):
            with transaction.atomic():
                order = Order.objects.create(customer=customer, number=i, amount=decimal.Decimal("9.99"),
                                             placed_at=placed)
                for j in range(lines):
                    OrderLine.objects.create(order=order, product="p%d" % j, quantity=j + 1)
        print("created %d orders" % count, flush=True)
