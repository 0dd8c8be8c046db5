"""Eager mode (receivers run in-process on commit, no broker) and the default SENDERS
(every model but sessions, Django's bookkeeping and secret-looking ones)."""
import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import override_settings

import eager_receivers
from signalbus.django.conf import Config


def test_eager_mode_runs_the_projects_receivers_on_commit_with_no_broker(unique):
    from django.conf import settings

    eager = dict(settings.SIGNALBUS, ENABLED=True, EAGER=True, BROKER="tcp://127.0.0.1:1")  # nobody there
    with override_settings(SIGNALBUS=eager):
        name = unique("eager")
        User.objects.create_user(name, password="pw")
        assert name in eager_receivers.created

        ghost = unique("ghost")
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                User.objects.create_user(ghost, password="pw")
                assert ghost not in eager_receivers.created  # not before the commit
                raise RuntimeError("roll back")
        assert ghost not in eager_receivers.created


def test_default_senders_leave_out_sessions_bookkeeping_secrets_and_the_outbox():
    config = Config({})
    assert config.forwards_sender("auth.User")
    assert config.forwards_sender("shop.Order")
    for label in ("sessions.Session", "admin.LogEntry", "contenttypes.ContentType", "auth.Permission",
                  "authtoken.Token", "otp_totp.TOTPDevice", "accounts.ApiKey", "accounts.PasswordReset",
                  "signalbus_django.OutboxEvent"):
        assert not config.forwards_sender(label), label
    # Listed senders are sent as listed (the outbox's own rows never).
    listed = Config({"SENDERS": ["sessions.Session", "signalbus_django.OutboxEvent"]})
    assert listed.forwards_sender("sessions.Session")
    assert not listed.forwards_sender("signalbus_django.OutboxEvent")
    assert not listed.forwards_sender("auth.User")
    # EXCLUDE_SENDERS replaces the default list.
    custom = Config({"EXCLUDE_SENDERS": ["shop.*"]})
    assert not custom.forwards_sender("shop.Order")
    assert custom.forwards_sender("admin.LogEntry")
