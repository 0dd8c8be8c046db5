"""The Django app with SIGNALBUS["CURVE"] against a CURVE broker: a post_save goes out through
the in-memory path and through the outbox relay (under a publisher id the allow-list reserves
for the service), and a member granted the topic gets it."""
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings

from signalbus.django import publishing
from signalbus.group_member import GroupMember, GroupOptions, Received
from support.curve import keygen, start_curve_broker


def test_post_save_goes_through_a_curve_broker_in_memory_and_by_the_outbox(spawn, tmp_path, unique):
    keys = {name: keygen(tmp_path, name) for name in ("accounts", "welcome")}
    broker, broker_key = start_curve_broker(spawn, tmp_path, {
        "accounts": {"keys": [keys["accounts"]], "publish": ["auth.User/*"], "publisher_ids": ["accounts-outbox-*"]},
        "welcome": {"keys": [keys["welcome"]], "subscribe": ["auth.User/*"], "join": ["*"]},
    })
    member = GroupMember(broker.groups, "django-curve", GroupOptions(
        start="earliest", curve_server_key=broker_key.public_key, curve_key_file=keys["welcome"].key_file))
    member.open(["auth.User/post_save"])
    curve = {"SERVER_KEY": broker_key.pub_file, "KEY_FILE": keys["accounts"].key_file}
    try:
        for outbox in (False, True):
            bus = dict(settings.SIGNALBUS, ENABLED=True, BROKER=broker.ingest, SIGNALS=["post_save"], CURVE=curve,
                       OUTBOX=outbox)
            with override_settings(SIGNALBUS=bus):
                user = User.objects.create_user(unique("curve"), password="pw")
                if not outbox:
                    publishing.get_publisher().flush(10)
                received = member.receive(20)
                assert received.kind == Received.EVENT, received.kind
                member.settle(received.delivery, True)
                assert received.delivery.event.model_save.instance.fields["username"] == user.username
                assert received.delivery.event.source == "accounts"
                if outbox:
                    assert received.delivery.event.publisher_id.startswith("accounts-outbox-")
    finally:
        member.close()
