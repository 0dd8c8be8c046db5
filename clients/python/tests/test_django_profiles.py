"""A real Django project publishing and the real C++ profile-creator receiving: a created
user gets a Profile, a rolled-back save publishes nothing, a deleted user loses it."""
from django.contrib.auth.models import User
from django.db import transaction

import pytest

from support.processes import wait_until
from support.programs import query, start_profile_creator


def profile_of(db, user):
    return query(db, "SELECT user_id FROM profile WHERE user_id = ?", user.pk)


def test_created_user_gets_a_profile_and_a_deleted_user_loses_it(spawn, broker, django_bus, tmp_path, unique):
    db = str(tmp_path / "profiles.sqlite3")
    start_profile_creator(spawn, broker, db)

    user = User.objects.create_user(unique("alice"), email="alice@example.com", password="pw")
    django_bus.get_publisher().flush(10)
    wait_until(lambda: profile_of(db, user), 20, "the profile of user %d" % user.pk)

    user_pk = user.pk
    user.delete()
    django_bus.get_publisher().flush(10)
    wait_until(lambda: not query(db, "SELECT 1 FROM profile WHERE user_id = ?", user_pk), 20, "the profile to go")
    assert query(db, "SELECT count(*) FROM processed_event") == [(2,)]


def test_rolled_back_save_publishes_nothing_and_a_committed_one_only_at_commit(
        spawn, broker, django_bus, tmp_path, unique):
    db = str(tmp_path / "profiles.sqlite3")
    start_profile_creator(spawn, broker, db)
    publisher = django_bus.get_publisher()
    before = publisher.published

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            User.objects.create_user(unique("ghost"), password="pw")
            raise RuntimeError("roll back")
    assert publisher.published == before

    with transaction.atomic():
        kept = User.objects.create_user(unique("kept"), password="pw")
        assert publisher.published == before  # not before the commit
    assert publisher.published == before + 2  # pre_save and post_save (SIGNALS "*")

    publisher.flush(10)
    wait_until(lambda: profile_of(db, kept), 20, "the profile of the committed user")
    assert query(db, "SELECT user_id FROM profile") == [(kept.pk,)]
    assert query(db, "SELECT count(*) FROM processed_event") == [(1,)]
