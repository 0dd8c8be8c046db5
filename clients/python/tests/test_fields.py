"""signalbus.fields(event): an event's fields as plain values, integral numbers as int."""
import signalbus
from signalbus import envelope


def test_fields_are_plain_values_with_integral_numbers_as_int():
    event = envelope.model_save("post_save", "auth.User", "42", {
        "id": 42, "score": 2.5, "big": 1e20, "huge_int": 2 ** 60, "username": "alice", "active": True, "none": None,
        "tags": [1, "x", 3.0], "address": {"zip": 75001, "city": "Paris"}}, created=True)
    got = signalbus.fields(event)
    assert got == {"id": 42, "score": 2.5, "big": 1e20, "huge_int": "1152921504606846976", "username": "alice", "active": True, "none": None,
                   "tags": [1, "x", 3], "address": {"zip": 75001, "city": "Paris"}}
    # Past 2^53 a double is not exact: it stays a float (the publisher sends larger ints as text).
    assert type(got["id"]) is int and type(got["tags"][2]) is int and type(got["big"]) is float
    assert "email" not in got and got.get("email") is None  # the README's receiver on the README's publish


def test_fields_of_custom_signals_and_of_kinds_without_fields():
    custom = envelope.custom("shop.Order", "order_paid", {"amount": "19.90", "count": 3}, pk="7")
    assert signalbus.fields(custom) == {"amount": "19.90", "count": 3}
    login = envelope.user_session("user_logged_in", "auth.User", "42", "alice")
    assert signalbus.fields(login) == {}
