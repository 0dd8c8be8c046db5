"""Building and completing events: ids, sequence, ordering keys, payload rules."""
import pytest

from signalbus import envelope, ulid
from signalbus.errors import InvalidEvent
from signalbus.proto import event_pb2

NOW_NS = 1_700_000_000_123_456_789


def test_complete_fills_what_the_publisher_owns():
    event = envelope.model_save("post_save", "auth.User", 42, {"username": "alice"}, created=True)
    envelope.complete(event, "accounts", "PUB", 7, NOW_NS)
    assert event.schema_version == 1
    assert ulid.is_valid_ulid(event.event_id)
    assert (event.source, event.publisher_id, event.sequence) == ("accounts", "PUB", 7)
    assert event.ordering_key == "auth.User:42"
    assert event.model_save.instance.model == "auth.User"
    assert event.model_save.instance.pk == "42"
    assert (event.occurred_at.seconds, event.occurred_at.nanos) == (1_700_000_000, 123_456_789)
    assert envelope.topic_of(event) == "auth.User/post_save"


def test_complete_keeps_an_event_id_and_key_already_set():
    event = envelope.custom("shop.Order", "order_paid", {"amount": "19.90"}, pk=7)
    event.event_id = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
    event.ordering_key = "custom-key"
    envelope.complete(event, "shop", "PUB", 1, NOW_NS)
    assert event.event_id == "01HZZZZZZZZZZZZZZZZZZZZZZZ"
    assert event.ordering_key == "custom-key"


def test_ordering_key_without_pk_is_the_sender():
    event = envelope.login_failed("django.contrib.auth", {"username": "a"})
    envelope.complete(event, "s", "P", 1, NOW_NS)
    assert event.ordering_key == "django.contrib.auth"


def test_update_fields_none_and_empty_are_different():
    assert not envelope.model_save("post_save", "auth.User", 1).model_save.HasField("update_fields")
    event = envelope.model_save("post_save", "auth.User", 1, update_fields=["last_login"])
    assert list(event.model_save.update_fields.names) == ["last_login"]


def test_large_integers_and_odd_values_travel_without_loss():
    event = envelope.model_save("post_save", "shop.Order", 1, {"big": 2**60, "small": 5, "nan": float("nan"),
                                                                "tags": {"b", "a"}, "nested": {"n": 2**55}})
    fields = event.model_save.instance.fields
    assert fields["big"] == str(2**60)
    assert fields["small"] == 5
    assert fields["nan"] == "nan"
    assert list(fields["tags"]) == ["a", "b"]
    assert fields["nested"]["n"] == str(2**55)


@pytest.mark.parametrize("mutate, message", [
    (lambda e: setattr(e, "schema_version", 2), "schema_version 2"),
    (lambda e: setattr(e, "event_id", "nope"), "not a ULID"),
    (lambda e: setattr(e, "signal", "post_delete"), "needs a model_delete payload"),
    (lambda e: e.model_save.instance.__setattr__("model", "auth.Group"), "differs from sender"),
    (lambda e: setattr(e, "signal", "pre_save"), "pre_save cannot have created=true"),
])
def test_events_the_broker_would_refuse_fail_clearly(mutate, message):
    event = envelope.model_save("post_save", "auth.User", 1, created=True)
    envelope.complete(event, "s", "P", 1, NOW_NS)
    mutate(event)
    with pytest.raises(InvalidEvent, match=message):
        envelope.validate(event)


def test_custom_refuses_django_signal_names_and_m2m_needs_a_known_action():
    with pytest.raises(InvalidEvent, match="is a Django signal"):
        envelope.custom("auth.User", "post_save")
    with pytest.raises(InvalidEvent, match="action"):
        envelope.m2m_changed("auth.User_groups", "added", "auth.User", 1)
    event = envelope.m2m_changed("auth.User_groups", "post_add", "auth.User", 1, model="auth.Group", pk_set={3, 2})
    assert event.m2m_changed.action == event_pb2.M2MChanged.POST_ADD
    assert list(event.m2m_changed.pk_set) == ["2", "3"]


def test_delete_origin_forms():
    event = envelope.model_delete("post_delete", "auth.User", 1, origin=("auth.User", 1))
    assert (event.model_delete.origin.model, event.model_delete.origin.pk) == ("auth.User", "1")
    event = envelope.model_delete("post_delete", "auth.User", 1, origin={"model": "auth.User", "is_queryset": True})
    assert event.model_delete.origin.is_queryset
    assert not envelope.model_delete("post_delete", "auth.User", 1).model_delete.HasField("origin")
