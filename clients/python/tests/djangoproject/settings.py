"""Settings of the test project. The SQLite database lives in $SIGNALBUS_TEST_DJANGO_DIR
(a temporary directory made by conftest.py); tests point SIGNALBUS at their own broker
with override_settings."""
import json
import os

BASE_DIR = os.environ.get("SIGNALBUS_TEST_DJANGO_DIR") or os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "signalbus-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "djangoproject.accounts",
    "signalbus.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "djangoproject.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(BASE_DIR, "accounts.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# Fast hashing: the tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_REDIRECT_URL = "/"

# Off until a test points it at its own broker (the `django_bus` fixture), so that tests
# without a broker publish nothing.
SIGNALBUS = {
    "ENABLED": False,
    "BROKER": "tcp://127.0.0.1:5555",
    "SOURCE": "accounts",
    "SENDERS": ["auth.User", "accounts.Order"],
    "SIGNALS": "*",
    "CUSTOM_SIGNALS": {"order_paid": "djangoproject.accounts.signals.order_paid"},
    "OUTBOX": False,  # the in-memory path; the outbox tests turn it on
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"signalbus": {"level": "INFO"}},
}

# Child processes of the tests (python -m django ...) get their SIGNALBUS and database
# from the environment: the outbox tests run Django processes on SQLite and PostgreSQL.
if os.environ.get("SIGNALBUS_TEST_SIGNALBUS"):
    SIGNALBUS.update(json.loads(os.environ["SIGNALBUS_TEST_SIGNALBUS"]))
if os.environ.get("SIGNALBUS_TEST_DATABASE"):
    DATABASES = {"default": json.loads(os.environ["SIGNALBUS_TEST_DATABASE"])}
