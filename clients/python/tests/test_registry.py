"""@signalbus.receiver registration and dispatch: patterns from names, Django signal
objects and models; exact matching; failures isolated and reported for the nack."""
import pytest
from django.contrib.auth.models import User
from django.db.models.signals import post_save

from djangoproject.accounts.signals import order_paid
from signalbus import envelope
from signalbus.errors import InvalidEvent
from signalbus.registry import Registry, register_signal_name


def event(sender="auth.User", signal="post_save"):
    if signal == "post_save":
        return envelope.model_save(signal, sender, 1, created=True)
    return envelope.custom(sender, signal, pk=1)


def test_receivers_register_by_name_signal_object_or_model():
    registry = Registry()
    calls = []
    registry.receiver("post_save", sender="auth.User")(lambda e: calls.append("by name"))
    registry.receiver(post_save, sender=User)(lambda e: calls.append("by objects"))
    registry.receiver(["post_save", "post_delete"])(lambda e: calls.append("any sender"))
    registry.receiver(None, topics=["*/post_save"])(lambda e: calls.append("pattern"))
    assert [str(p) for p in registry.patterns()] == ["auth.User/post_save", "*/post_save", "*/post_delete"]
    result = registry.dispatch("auth.User/post_save", event())
    assert calls == ["by name", "by objects", "any sender", "pattern"]
    assert (result.matched, result.succeeded, result.ok) == (4, 4, True)


def test_matching_is_exact_per_segment():
    registry = Registry()
    calls = []
    registry.receiver("post_save", sender="auth.User")(calls.append)
    registry.dispatch("auth.UserProfile/post_save", event("auth.UserProfile"))
    registry.dispatch("auth.User/post_save_archived", event(signal="post_save_archived"))
    assert calls == []


def test_a_failing_receiver_does_not_stop_the_others_and_its_text_is_kept():
    registry = Registry()
    calls = []

    @registry.receiver("post_save", sender="auth.User")
    def broken(e):
        raise ValueError("no profile table")

    registry.receiver("post_save", sender="auth.User")(lambda e: calls.append("ran"))

    @registry.receiver("post_save", sender="auth.User")
    def also_broken(e):
        raise KeyError("x")

    result = registry.dispatch("auth.User/post_save", event())
    assert calls == ["ran"]
    assert (result.matched, result.succeeded, result.failed) == (3, 1, 2)
    assert result.error == "ValueError: no profile table (and 1 more receivers failed)"


def test_custom_signal_objects_are_known_once_forwarded_or_registered():
    registry = Registry()
    # The test project forwards order_paid through SIGNALBUS["CUSTOM_SIGNALS"].
    registry.receiver(order_paid, sender="accounts.Order")(lambda e: None)
    assert [str(p) for p in registry.patterns()] == ["accounts.Order/order_paid"]
    from django.dispatch import Signal

    unknown = Signal()
    with pytest.raises(InvalidEvent, match="register_signal_name"):
        registry.receiver(unknown)
    register_signal_name(unknown, "order_shipped")
    registry.receiver(unknown, sender="accounts.Order")(lambda e: None)


def test_bad_registrations_fail_clearly():
    registry = Registry()
    with pytest.raises(InvalidEvent, match="sender"):
        registry.receiver("post_save", sender="not a label")
    with pytest.raises(InvalidEvent, match="not callable"):
        registry.add(["*"], 42)
