"""Building and completing events: ids, sequence, ordering keys, payload rules, and the
envelope's limits, from the cases shared with the C++ side."""
import os

import pytest
from google.protobuf import json_format

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


# The envelope's rules as the C++ side tests them (core/codec_test.cc reads the same file).
_CASES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "core", "testdata", "envelope_cases.tsv")


def _shared_cases():
    with open(_CASES, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 2) for line in f if line.strip() and not line.startswith("#")]
    return [pytest.param(expect, event_json, id=name) for expect, name, event_json in rows]


@pytest.mark.parametrize("expect, event_json", _shared_cases())
def test_validate_follows_the_shared_envelope_cases(expect, event_json):
    event = json_format.Parse(event_json, event_pb2.Event())
    if expect == "valid":
        envelope.validate(event)
        return
    assert expect.startswith("invalid:")
    with pytest.raises(InvalidEvent) as refused:
        envelope.validate(event)
    assert expect[len("invalid:"):] in str(refused.value)


def test_shared_cases_cover_both_sides_of_every_limit():
    names = [case.id for case in _shared_cases()]
    assert len(names) > 20
    for limit in (envelope.MAX_PUBLISHER_ID_BYTES, envelope.MAX_SOURCE_BYTES, envelope.MAX_ORDERING_KEY_BYTES,
                  envelope.MAX_VALUE_NESTING):
        assert any(str(limit) in name for name in names), limit
        assert any(str(limit + 1) in name for name in names), limit + 1


def test_values_nested_to_the_limit_publish_and_one_level_more_fails_in_the_caller():
    deep = 1
    for _ in range(envelope.MAX_VALUE_NESTING):
        deep = {"a": deep}  # MAX_VALUE_NESTING objects: the outermost becomes the fields
    event = envelope.model_save("post_save", "auth.User", 1, deep)
    envelope.complete(event, "s", "P", 1, NOW_NS)
    too_deep = envelope.custom("shop.Order", "order_paid", {"a": deep}, pk=1)
    with pytest.raises(InvalidEvent, match="custom.kwargs nest deeper than 24"):
        envelope.complete(too_deep, "s", "P", 1, NOW_NS)


def test_a_publisher_id_outside_the_rule_is_refused_before_anything_is_sent():
    envelope.validate_publisher_id("01KBM6Z3Q8R9S0T1V2W3X4Y5Z7")
    envelope.validate_publisher_id("billing-relay.eu_1:7")
    for bad in ("p" * 129, "relay 1", "r\u00e9lay", "a/b"):
        with pytest.raises(InvalidEvent, match="publisher_id"):
            envelope.validate_publisher_id(bad)
