"""Logins through Django's own LoginView (django.test.Client), seen by the real
signalbus-listen: user_logged_in and user_logged_out with the request's metadata, and
user_login_failed with the password masked."""
from django.contrib.auth.models import User
from django.test import Client

from support.programs import listened_events, start_listener


def test_login_logout_and_failed_login_reach_signalbus_listen(spawn, broker, django_bus, unique):
    listener = start_listener(spawn, broker, "auth.User/user_logged_in", "auth.User/user_logged_out",
                              "django.contrib.auth/user_login_failed")
    name = unique("alice")
    user = User.objects.create_user(name, password="right horse battery")

    client = Client(HTTP_USER_AGENT="pytest-client")
    response = client.post("/accounts/login/", {"username": name, "password": "right horse battery"})
    assert response.status_code == 302, response.content
    assert client.post("/accounts/logout/").status_code in (200, 302)
    response = Client().post("/accounts/login/", {"username": name, "password": "wrong"})
    assert response.status_code == 200  # the form again, with an error
    django_bus.get_publisher().flush(10)

    events = {e["signal"]: e for e in listened_events(listener, 3)}
    request = {"method": "POST", "path": "/accounts/login/", "remote_addr": "127.0.0.1", "user_agent": "pytest-client"}
    logged_in = events["user_logged_in"]
    assert logged_in["sender"] == "auth.User"
    assert logged_in["ordering_key"] == "auth.User:%d" % user.pk
    assert logged_in["user_session"] == {"user": {"model": "auth.User", "pk": str(user.pk)}, "username": name,
                                         "request": request}
    assert events["user_logged_out"]["user_session"]["request"]["path"] == "/accounts/logout/"
    failed = events["user_login_failed"]
    assert failed["sender"] == "django.contrib.auth"
    assert failed["login_failed"]["credentials"] == {"username": name, "password": "********************"}
    assert failed["login_failed"]["request"]["path"] == "/accounts/login/"
    assert "wrong" not in str(failed)
