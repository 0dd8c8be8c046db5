"""Topic building and segment-exact pattern matching (docs/wire-protocol.md#topics)."""
import pytest

from signalbus.errors import InvalidEvent
from signalbus.topics import TopicPattern, make_topic


def test_topic_is_sender_slash_signal():
    assert make_topic("auth.User", "post_save") == "auth.User/post_save"
    assert make_topic("django.contrib.auth", "user_login_failed") == "django.contrib.auth/user_login_failed"
    assert make_topic("auth.User_groups", "m2m_changed") == "auth.User_groups/m2m_changed"


@pytest.mark.parametrize("sender, signal", [
    ("", "post_save"), ("auth.", "post_save"), ("auth..User", "post_save"), ("1auth.User", "post_save"),
    ("auth/User", "post_save"), ("auth.User", ""), ("auth.User", "post-save"), ("auth.User", "x" * 300),
])
def test_bad_senders_and_signals_are_refused_with_a_clear_error(sender, signal):
    with pytest.raises(InvalidEvent) as error:
        make_topic(sender, signal)
    assert "sender" in str(error.value) or "signal" in str(error.value)


def test_patterns_match_at_segment_boundaries():
    user = TopicPattern.parse("auth.User/*")
    assert user.matches("auth.User/post_save")
    assert not user.matches("auth.UserProfile/post_save")
    exact = TopicPattern.parse("auth.User/post_save")
    assert exact.matches("auth.User/post_save")
    assert not exact.matches("auth.User/post_save_archived")
    assert TopicPattern.parse("*/post_save").matches("shop.Order/post_save")
    assert not TopicPattern.parse("*/post_save").matches("shop.Order/post_delete")
    assert TopicPattern.parse("*").matches("shop.Order/order_paid")
    assert not TopicPattern.parse("*").matches("no-slash")


def test_patterns_have_a_canonical_text_and_zmq_prefix():
    assert str(TopicPattern.parse("auth.User")) == "auth.User/*"
    assert TopicPattern.parse("auth.User").zmq_prefix() == "auth.User/"
    assert TopicPattern.parse("*/post_save").zmq_prefix() == ""
    assert TopicPattern.parse("auth.User/post_save") == TopicPattern.parse("auth.User/post_save")


def test_bad_patterns_name_the_pattern():
    with pytest.raises(InvalidEvent, match="bad topic pattern 'auth.User/post-save'"):
        TopicPattern.parse("auth.User/post-save")
    with pytest.raises(InvalidEvent, match="empty"):
        TopicPattern.parse("")
