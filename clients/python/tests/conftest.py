"""Fixtures of the Python client's tests: a Django project set up once per session (its
SQLite database in a temporary directory), and per test a process spawner whose
processes are all stopped at the end, and a real broker on ephemeral ports."""
import os
import shutil
import tempfile
import warnings

import pytest

from support.processes import Spawner
from support.programs import Broker

_django_dir = None


def pytest_configure(config):
    global _django_dir
    _django_dir = tempfile.mkdtemp(prefix="signalbus-django-")
    os.environ["SIGNALBUS_TEST_DJANGO_DIR"] = _django_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "djangoproject.settings"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Django 3.2's own imports on Python 3.11
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)


def pytest_unconfigure(config):
    from signalbus.django import publishing

    publishing.close(0)
    if _django_dir:
        shutil.rmtree(_django_dir, ignore_errors=True)


@pytest.fixture
def spawn(tmp_path):
    spawner = Spawner(str(tmp_path))
    yield spawner
    spawner.stop_all()


@pytest.fixture
def broker(spawn, tmp_path):
    return Broker(spawn, str(tmp_path / "broker-data")).start()


@pytest.fixture
def bus_settings(broker):
    """Makes SIGNALBUS settings for this test's broker: bus_settings(MAX_UNCONFIRMED=2)."""
    from django.conf import settings

    def make(**overrides):
        return dict(settings.SIGNALBUS, ENABLED=True, BROKER=broker.ingest, **overrides)

    return make


@pytest.fixture
def django_bus(bus_settings):
    """The Django app publishing to this test's broker; yields signalbus.django.publishing."""
    from django.test import override_settings

    from signalbus.django import publishing

    with override_settings(SIGNALBUS=bus_settings()):
        yield publishing


@pytest.fixture
def unique():
    """Unique names for rows in the session's shared database: unique("alice")."""
    import uuid

    return lambda prefix: "%s-%s" % (prefix, uuid.uuid4().hex[:10])
