"""Credential masking with Django's rule: API, TOKEN, KEY, SECRET, PASS, SIGNATURE, any case."""
from signalbus import envelope
from signalbus.masking import MASKED_VALUE, is_secret_name, mask_credentials


def test_django_rule_decides_what_is_secret():
    for name in ["password", "PASSWORD", "passwd", "api_key", "Api", "auth_token", "secret", "client_signature",
                 "publickey"]:
        assert is_secret_name(name), name
    for name in ["username", "email", "otp", "user_id"]:
        assert not is_secret_name(name), name


def test_masking_replaces_secret_values_and_keeps_the_others_as_text():
    masked = mask_credentials({"username": "alice", "password": "hunter2", "api_token": "t0k", "attempt": 3,
                               "nothing": None})
    assert masked == {"username": "alice", "password": MASKED_VALUE, "api_token": MASKED_VALUE, "attempt": "3",
                      "nothing": ""}
    assert MASKED_VALUE == "*" * 20


def test_login_failed_events_are_masked_even_when_built_by_hand():
    event = envelope.Event(signal="user_login_failed", sender="django.contrib.auth")
    event.login_failed.credentials["password"] = "hunter2"
    event.login_failed.credentials["username"] = "alice"
    envelope.complete(event, "accounts", "P1", 1, 1_700_000_000_000_000_000)
    assert dict(event.login_failed.credentials) == {"password": MASKED_VALUE, "username": "alice"}
