"""Snapshots of Django objects: concrete fields as JSON values, pk as text, excluded and
deferred fields left out, request metadata, deletion origins; and the SIGNALBUS setting's
checks."""
import datetime
import decimal
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from djangoproject.accounts.models import Order
from signalbus.django import conf
from signalbus.django.snapshot import delete_origin, instance_fields, request_meta, snapshot

PLACED = datetime.datetime(2025, 11, 24, 16, 0, 0, 123000, tzinfo=datetime.timezone.utc)


def make_order(**extra):
    user = User(pk=41, username="alice", password="md5$salt$hash")
    values = dict(pk=7, customer=user, number=2**60, amount=decimal.Decimal("19.90"), placed_at=PLACED,
                  ref=uuid.UUID("12345678-1234-5678-1234-567812345678"), notes={"gift": True, "n": [1, 2]})
    values.update(extra)
    return Order(**values)


def test_fields_are_json_values_by_attname():
    assert instance_fields(make_order()) == {
        "id": 7,
        "customer_id": 41,
        "number": str(2**60),  # beyond 2^53: text, not a lossy double
        "amount": "19.90",
        "placed_at": "2025-11-24T16:00:00.123000+00:00",
        "ref": "12345678-1234-5678-1234-567812345678",
        "notes": {"gift": True, "n": [1, 2]},
        "paid": False,
    }


def test_snapshot_carries_label_and_pk_as_text_and_leaves_out_the_password():
    user = User(pk=41, username="alice", password="md5$salt$hash", email="a@example.com")
    instance = snapshot(user, {"auth.User": frozenset({"password"})})
    assert (instance.model, instance.pk) == ("auth.User", "41")
    assert instance.fields["username"] == "alice"
    assert "password" not in instance.fields
    assert snapshot(User(username="new"), {}).pk == ""


def test_deferred_fields_are_not_loaded():
    user = User.objects.create_user("deferred-%s" % uuid.uuid4().hex[:8], password="pw")
    try:
        loaded = User.objects.only("id").get(pk=user.pk)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            fields = instance_fields(loaded)
        assert fields == {"id": user.pk}
        assert len(queries) == 0
    finally:
        user.delete()


def test_request_meta_keeps_only_method_path_address_and_agent():
    request = HttpRequest()
    request.method, request.path = "POST", "/accounts/login/"
    request.META = {"REMOTE_ADDR": "10.0.0.1", "HTTP_USER_AGENT": "pytest", "HTTP_COOKIE": "sessionid=secret"}
    assert request_meta(request) == {"method": "POST", "path": "/accounts/login/", "remote_addr": "10.0.0.1",
                                     "user_agent": "pytest"}
    assert request_meta(None) is None


def test_delete_origin_of_an_instance_and_of_a_queryset():
    assert delete_origin(User(pk=3)) == {"model": "auth.User", "pk": "3"}
    assert delete_origin(User.objects.filter(pk=3)) == {"model": "auth.User", "is_queryset": True}
    assert delete_origin(None) is None


@pytest.mark.parametrize("setting, message", [
    ({"BROKR": "tcp://x:1"}, "unknown keys"),
    ({"BROKER": "http://x"}, "SIGNALBUS['BROKER']"),
    ({"SENDERS": "auth.User"}, "SIGNALBUS['SENDERS']: expected a list"),
    ({"SIGNALS": ["post_saved"]}, "'post_saved' is not one of"),
    ({"CUSTOM_SIGNALS": {"order_paid": "nowhere.order_paid"}}, "cannot import"),
    ({"MAX_UNCONFIRMED": 0}, "SIGNALBUS['MAX_UNCONFIRMED']"),
])
def test_bad_settings_are_improperly_configured_naming_the_key(setting, message):
    with pytest.raises(ImproperlyConfigured, match=message.replace("[", r"\[").replace("]", r"\]")):
        conf.Config(setting)


def test_defaults():
    config = conf.Config({})
    assert config.senders == "*"
    assert "post_save" in config.signals and "pre_save" not in config.signals
    assert config.exclude_fields == {"auth.User": frozenset({"password"})}
    assert config.max_unconfirmed == 10_000
