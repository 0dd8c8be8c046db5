"""The broker is down when Django saves: the save succeeds, the publisher holds the event
and delivers it once the broker starts; past SIGNALBUS["MAX_UNCONFIRMED"] held events, an
event is dropped and logged at ERROR level (the save still succeeds)."""
import logging

from django.contrib.auth.models import User
from django.test import override_settings

from signalbus.django import publishing
from support.processes import wait_until
from support.programs import query, start_profile_creator


def test_save_with_the_broker_down_succeeds_and_is_delivered_when_it_starts(
        spawn, broker, bus_settings, tmp_path, unique):
    db = str(tmp_path / "profiles.sqlite3")
    start_profile_creator(spawn, broker, db)  # the group exists; the member waits for the broker
    broker.stop()
    with override_settings(SIGNALBUS=bus_settings()):
        user = User.objects.create_user(unique("offline"), password="pw")
        assert User.objects.filter(pk=user.pk).exists()
        publisher = publishing.get_publisher()
        assert not publisher.connected
        assert publisher.unconfirmed == 2  # pre_save and post_save, held in memory

        broker.start()  # same ports and log
        publisher.flush(20)
        wait_until(lambda: query(db, "SELECT 1 FROM profile WHERE user_id = ?", user.pk), 20,
                   "the profile of the user saved while the broker was down")


def test_past_the_bound_events_are_dropped_and_logged_loudly(spawn, broker, bus_settings, caplog, unique):
    broker.stop()
    with override_settings(SIGNALBUS=bus_settings(SIGNALS=["post_save"], MAX_UNCONFIRMED=2)):
        with caplog.at_level(logging.ERROR, logger="signalbus"):
            users = [User.objects.create_user(unique("u%d" % i), password="pw") for i in range(3)]
        assert User.objects.filter(pk__in=[u.pk for u in users]).count() == 3  # every save succeeded
        dropped = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and "DROPPED" in r.getMessage()]
        assert len(dropped) == 1, caplog.text
        assert "auth.User/post_save key=auth.User:%d" % users[2].pk in dropped[0]
        assert "2 events await confirms" in dropped[0] and "MAX_UNCONFIRMED" in dropped[0]

        publisher = publishing.get_publisher()
        broker.start()
        publisher.flush(20)
        assert publisher.published == 2
        broker.wait_for_metric("signalbus_log_appended_total", 2)
        assert broker.metric("signalbus_log_appended_total") == 2
