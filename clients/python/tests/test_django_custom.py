"""Custom signals and m2m_changed from the test project's own app, seen by signalbus-listen."""
import datetime
import decimal

from django.contrib.auth.models import User
from django.utils import timezone

from djangoproject.accounts.models import Order, Tag
from djangoproject.accounts.signals import order_paid
from support.programs import listened_events, start_listener


def test_custom_signal_is_forwarded_with_its_kwargs_and_pk(spawn, broker, django_bus, unique):
    listener = start_listener(spawn, broker, "accounts.Order/order_paid")
    user = User.objects.create_user(unique("buyer"), password="pw")
    order = Order.objects.create(customer=user, number=1, amount=decimal.Decimal("19.90"), placed_at=timezone.now())
    order_paid.send(sender=Order, order=order, amount=decimal.Decimal("19.90"), paid_at=datetime.date(2025, 1, 2))
    django_bus.get_publisher().flush(10)

    event = listened_events(listener, 1)[0]
    assert event["sender"] == "accounts.Order" and event["signal"] == "order_paid"
    assert event["ordering_key"] == "accounts.Order:%d" % order.pk
    assert event["custom"] == {"kwargs": {"order": {"model": "accounts.Order", "pk": str(order.pk)},
                                          "amount": "19.90", "paid_at": "2025-01-02"},
                               "pk": str(order.pk)}


def test_m2m_changes_and_cascading_deletes_are_published(spawn, broker, django_bus, unique):
    listener = start_listener(spawn, broker, "accounts.Order_tags/m2m_changed", "accounts.Order/post_delete")
    user = User.objects.create_user(unique("buyer"), password="pw")
    order = Order.objects.create(customer=user, number=2, amount=decimal.Decimal("5.00"), placed_at=timezone.now())
    tag = Tag.objects.create(name="gift")
    order.tags.add(tag)
    user_pk = user.pk
    user.delete()  # cascades to the order
    django_bus.get_publisher().flush(10)

    # pre_add and post_add of the tag, then the order's post_delete (the cascade removes
    # the through rows without m2m signals, as Django does).
    events = listened_events(listener, 3)
    assert [e["signal"] for e in events] == ["m2m_changed", "m2m_changed", "post_delete"]
    m2m = [e for e in events if e["signal"] == "m2m_changed"]
    assert [e["m2m_changed"]["action"] for e in m2m] == ["PRE_ADD", "POST_ADD"]
    post_add = m2m[1]
    assert post_add["m2m_changed"]["instance"]["model"] == "accounts.Order"
    assert post_add["m2m_changed"]["instance"]["pk"] == str(order.pk)
    assert post_add["m2m_changed"]["model"] == "accounts.Tag"
    assert post_add["m2m_changed"]["pk_set"] == [str(tag.pk)]
    deleted = [e for e in events if e["signal"] == "post_delete"][0]
    assert deleted["model_delete"]["instance"]["fields"]["customer_id"] == user_pk
