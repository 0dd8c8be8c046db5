// LiveListeners: admission, pattern caps, unsubscribes that cannot touch what others (or
// nobody) hold, each listener offered an event once, and expiry that keeps the record.
#include "live_listeners.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace signalbus::broker {
namespace {

using Clock = LiveListeners::Clock;
using namespace std::chrono_literals;

v1::LiveSubscribe Sub(std::vector<std::string> patterns, std::uint64_t window = 0, std::uint32_t heartbeat_ms = 0) {
  v1::LiveSubscribe s;
  for (std::string& p : patterns) s.add_patterns(std::move(p));
  s.set_window_bytes(window);
  s.set_heartbeat_ms(heartbeat_ms);
  return s;
}

v1::LiveUnsubscribe Unsub(std::vector<std::string> patterns) {
  v1::LiveUnsubscribe u;
  for (std::string& p : patterns) u.add_patterns(std::move(p));
  return u;
}

std::uint32_t Refused(const LiveListeners::Outcome& o, LiveRefusal why) { return o.refused[LiveRefusalIndex(why)]; }

std::vector<std::string> Matching(LiveListeners& listeners, std::string_view topic) {
  std::vector<std::string> peers;
  listeners.ForEachMatch(topic, [&](LiveListeners::Slot, LiveListeners::Listener& l) { peers.push_back(l.peer); });
  std::sort(peers.begin(), peers.end());
  return peers;
}

// A principal of that name with every grant.
auth::Principal Granted(std::string name) {
  auth::Principal p;
  p.name = std::move(name);
  p.everything = true;
  return p;
}

class LiveListenersTest : public ::testing::Test {
 protected:
  LiveOptions Options() {
    LiveOptions o;
    o.max_listeners = 3;
    o.max_patterns = 100;
    o.max_window_bytes = 1 << 20;
    o.total_window_bytes = 3 << 20;
    o.max_heartbeat = 5s;
    return o;
  }
  Clock::time_point now_ = Clock::now();
  LiveListeners listeners_{Options()};
};

TEST_F(LiveListenersTest, SubscribeMakesAListenerAndAnswersWithItsState) {
  LiveListeners::Outcome o = listeners_.Subscribe("a", Sub({"auth.User/post_save", "auth.User"}, 200'000, 500), now_);
  ASSERT_TRUE(o.slot.has_value());
  EXPECT_TRUE(o.created);
  ASSERT_TRUE(o.reply.has_subscribed()) << o.reply.DebugString();
  EXPECT_EQ(o.reply.subscribed().patterns(), 2u);
  EXPECT_EQ(o.reply.subscribed().max_patterns(), 100u);
  EXPECT_EQ(o.reply.subscribed().window_bytes(), 200'000u);
  EXPECT_EQ(o.reply.subscribed().heartbeat_ms(), 500u);
  EXPECT_EQ(o.reply.subscribed().refused(), 0u);
  EXPECT_EQ(listeners_.size(), 1u);
  EXPECT_EQ(listeners_.subscriptions(), 2u);
  EXPECT_EQ(listeners_.reserved_bytes(), 200'000u);
  // Again: the same patterns change nothing, the record is the same.
  LiveListeners::Outcome again = listeners_.Subscribe("a", Sub({"auth.User/*"}), now_);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.slot, o.slot);
  EXPECT_EQ(again.reply.subscribed().patterns(), 2u);
  EXPECT_EQ(listeners_.subscriptions(), 2u);
}

TEST_F(LiveListenersTest, WindowAndHeartbeatAreClampedToTheBrokersBounds) {
  LiveListeners::Outcome o = listeners_.Subscribe("a", Sub({"*"}, std::uint64_t{1} << 40, 1), now_);
  EXPECT_EQ(o.reply.subscribed().window_bytes(), 1u << 20);
  EXPECT_EQ(o.reply.subscribed().heartbeat_ms(), static_cast<std::uint32_t>(kMinLiveHeartbeat.count()));
  o = listeners_.Subscribe("a", Sub({}, 0, 3'600'000), now_);
  EXPECT_EQ(o.reply.subscribed().heartbeat_ms(), 5000u);
  o = listeners_.Subscribe("c", Sub({"*"}, 1), now_);  // raised to the minimum
  EXPECT_EQ(o.reply.subscribed().window_bytes(), kMinLiveWindowBytes);
  o = listeners_.Subscribe("b", Sub({"*"}), now_);  // 0: the default, within the maximum
  EXPECT_EQ(o.reply.subscribed().window_bytes(), std::min<std::uint64_t>(kDefaultLiveWindowBytes, 1 << 20));
  EXPECT_EQ(o.reply.subscribed().heartbeat_ms(), static_cast<std::uint32_t>(kDefaultLiveHeartbeat.count()));
}

TEST_F(LiveListenersTest, PatternsBeyondTheCapAreRefusedAndCounted) {
  std::vector<std::string> many;
  for (int i = 0; i < 20'000; ++i) many.push_back("app.Model" + std::to_string(i) + "/post_save");
  LiveListeners::Outcome o = listeners_.Subscribe("a", Sub(many), now_);
  EXPECT_EQ(o.reply.subscribed().patterns(), 100u);
  EXPECT_EQ(o.reply.subscribed().refused(), 19'900u);
  EXPECT_EQ(Refused(o, LiveRefusal::kTooManyPatterns), 19'900u);
  EXPECT_EQ(o.reply.subscribed().refused_reason(), "too_many_patterns");
  EXPECT_EQ(o.reply.subscribed().refused_pattern(), "app.Model100/post_save");
  EXPECT_NE(o.reply.subscribed().refused_message().find("--live-max-patterns"), std::string::npos);
  EXPECT_EQ(listeners_.subscriptions(), 100u);
  EXPECT_EQ(Matching(listeners_, "app.Model99/post_save"), std::vector<std::string>{"a"});
  EXPECT_TRUE(Matching(listeners_, "app.Model100/post_save").empty());
}

TEST_F(LiveListenersTest, BadPatternsAreRefusedWithTheirReason) {
  LiveListeners::Outcome o = listeners_.Subscribe("a", Sub({"bad/pattern/x", std::string("\xff\x00", 2), "ok.Model"}),
                                                  now_);
  EXPECT_EQ(Refused(o, LiveRefusal::kBadPattern), 2u);
  EXPECT_EQ(o.reply.subscribed().patterns(), 1u);
  EXPECT_EQ(o.reply.subscribed().refused_reason(), "bad_pattern");
  EXPECT_EQ(o.reply.subscribed().refused_pattern(), "bad/pattern/x");
  EXPECT_FALSE(o.reply.subscribed().refused_message().empty());
}

TEST_F(LiveListenersTest, UnbalancedUnsubscribesChangeNothing) {
  ASSERT_TRUE(listeners_.Subscribe("a", Sub({"*"}), now_).slot);
  ASSERT_TRUE(listeners_.Subscribe("b", Sub({"auth.User/post_save"}), now_).slot);
  // A connection that never subscribed: refused, nothing counted down.
  for (int i = 0; i < 5; ++i) {
    LiveListeners::Outcome o = listeners_.Unsubscribe("stranger", Unsub({"*", "auth.User/post_save"}), now_);
    EXPECT_FALSE(o.slot.has_value());
    EXPECT_EQ(o.reply.error().code(), v1::LiveError::UNKNOWN_LISTENER);
    EXPECT_EQ(Refused(o, LiveRefusal::kUnknownListener), 1u);
  }
  // A listener unsubscribing what it does not hold, even what another holds.
  for (int i = 0; i < 5; ++i) {
    LiveListeners::Outcome o = listeners_.Unsubscribe("b", Unsub({"*", "never.Held/x"}), now_);
    EXPECT_EQ(o.reply.subscribed().not_held(), 2u);
    EXPECT_EQ(o.reply.subscribed().patterns(), 1u);
    EXPECT_EQ(Refused(o, LiveRefusal::kNotSubscribed), 2u);
  }
  EXPECT_EQ(listeners_.subscriptions(), 2u);
  EXPECT_EQ(Matching(listeners_, "auth.User/post_save"), (std::vector<std::string>{"a", "b"}));
  // Its own pattern it can take back, once.
  EXPECT_EQ(listeners_.Unsubscribe("b", Unsub({"auth.User/post_save"}), now_).reply.subscribed().patterns(), 0u);
  EXPECT_EQ(listeners_.Unsubscribe("b", Unsub({"auth.User/post_save"}), now_).reply.subscribed().not_held(), 1u);
  EXPECT_EQ(listeners_.subscriptions(), 1u);
  EXPECT_EQ(Matching(listeners_, "auth.User/post_save"), std::vector<std::string>{"a"});
}

TEST_F(LiveListenersTest, EachListenerIsOfferedAnEventOnceHoweverManyPatternsMatch) {
  ASSERT_TRUE(listeners_.Subscribe("a", Sub({"*", "auth.User", "*/post_save", "auth.User/post_save"}), now_).slot);
  EXPECT_EQ(listeners_.subscriptions(), 4u);
  EXPECT_EQ(Matching(listeners_, "auth.User/post_save"), std::vector<std::string>{"a"});
  EXPECT_EQ(Matching(listeners_, "auth.User/post_save"), std::vector<std::string>{"a"});  // and the next event too
}

TEST_F(LiveListenersTest, ListenersBeyondTheCapAreRefused) {
  for (std::string peer : {"a", "b", "c"}) ASSERT_TRUE(listeners_.Subscribe(peer, Sub({"*"}, 65'536), now_).slot);
  LiveListeners::Outcome o = listeners_.Subscribe("d", Sub({"*"}, 65'536), now_);
  EXPECT_FALSE(o.slot.has_value());
  EXPECT_EQ(o.reply.error().code(), v1::LiveError::TOO_MANY_LISTENERS);
  EXPECT_NE(o.reply.error().message().find("--live-max-listeners"), std::string::npos);
  EXPECT_EQ(Refused(o, LiveRefusal::kTooManyListeners), 1u);
  EXPECT_EQ(listeners_.size(), 3u);
  listeners_.Forget(*listeners_.Find("b"));
  EXPECT_TRUE(listeners_.Subscribe("d", Sub({"*"}, 65'536), now_).slot.has_value());
}

TEST_F(LiveListenersTest, OnePrincipalHoldsAtMostItsShareOfListenersAndTheOthersStillGetIn) {
  LiveOptions options = Options();
  options.max_listeners = 10;
  options.max_listeners_per_principal = 2;
  LiveListeners shared(options);
  const auth::Principal accounts = Granted("accounts"), billing = Granted("billing");
  ASSERT_TRUE(shared.Subscribe("a", Sub({"*"}, 65'536), now_, accounts).slot);
  ASSERT_TRUE(shared.Subscribe("b", Sub({"*"}, 65'536), now_, accounts).slot);
  LiveListeners::Outcome c = shared.Subscribe("c", Sub({"*"}, 65'536), now_, accounts);
  EXPECT_FALSE(c.slot.has_value());
  EXPECT_EQ(Refused(c, LiveRefusal::kTooManyListeners), 1u);
  EXPECT_NE(c.reply.error().message().find("principal 'accounts' holds 2"), std::string::npos)
      << c.reply.error().message();
  EXPECT_TRUE(shared.Subscribe("d", Sub({"*"}, 65'536), now_, billing).slot.has_value());
  // A listener that adds patterns is no new listener.
  EXPECT_TRUE(shared.Subscribe("a", Sub({"auth.User/*"}), now_, accounts).slot.has_value());
  shared.Forget(*shared.Find("b"));
  EXPECT_TRUE(shared.Subscribe("c", Sub({"*"}, 65'536), now_, accounts).slot.has_value());
}

TEST_F(LiveListenersTest, OnePrincipalsListenersHoldAtMostItsShareOfWindowBytesAndTheOthersStillGetThem) {
  LiveOptions options = Options();
  options.max_listeners = 10;
  options.max_window_bytes = 4 << 20;
  options.total_window_bytes = 8 << 20;
  options.window_bytes_per_principal = 2 << 20;
  LiveListeners shared(options);
  const auth::Principal accounts = Granted("accounts"), billing = Granted("billing");
  ASSERT_TRUE(shared.Subscribe("a", Sub({"*"}, 1 << 20), now_, accounts).slot);
  // What is left of the share is granted, however much is asked...
  LiveListeners::Outcome b = shared.Subscribe("b", Sub({"*"}, 4 << 20), now_, accounts);
  ASSERT_TRUE(b.slot.has_value());
  EXPECT_EQ(b.reply.subscribed().window_bytes(), 1u << 20);
  // ...then none, while the broker still has windows for others.
  LiveListeners::Outcome c = shared.Subscribe("c", Sub({"*"}), now_, accounts);
  EXPECT_FALSE(c.slot.has_value());
  EXPECT_EQ(Refused(c, LiveRefusal::kNoWindowLeft), 1u);
  EXPECT_NE(c.reply.error().message().find("listeners of principal 'accounts' hold 2097152 bytes"), std::string::npos)
      << c.reply.error().message();
  EXPECT_NE(c.reply.error().message().find("--live-window-bytes-per-principal"), std::string::npos);
  LiveListeners::Outcome d = shared.Subscribe("d", Sub({"*"}, 2 << 20), now_, billing);
  ASSERT_TRUE(d.slot.has_value());
  EXPECT_EQ(d.reply.subscribed().window_bytes(), 2u << 20);
  // A listener growing its window stays within the share; one forgotten gives its bytes back.
  LiveListeners::Outcome grow = shared.Subscribe("a", Sub({}, 4 << 20), now_, accounts);
  EXPECT_EQ(grow.reply.subscribed().window_bytes(), 1u << 20);
  shared.Forget(*shared.Find("b"));
  grow = shared.Subscribe("a", Sub({}, 4 << 20), now_, accounts);
  EXPECT_EQ(grow.reply.subscribed().window_bytes(), 2u << 20);
  EXPECT_EQ(shared.reserved_bytes(), 4u << 20);
}

TEST_F(LiveListenersTest, ListenersAreRefusedOnceTheWindowsAreAllGranted) {
  LiveOptions options = Options();
  options.max_listeners = 10;
  options.total_window_bytes = 2 * (1 << 20) + kMinLiveWindowBytes;
  LiveListeners tight(options);
  ASSERT_TRUE(tight.Subscribe("a", Sub({"*"}, 1 << 20), now_).slot);
  ASSERT_TRUE(tight.Subscribe("b", Sub({"*"}, 1 << 20), now_).slot);
  // What is left is granted, if it is at least the minimum...
  LiveListeners::Outcome c = tight.Subscribe("c", Sub({"*"}, 1 << 20), now_);
  ASSERT_TRUE(c.slot.has_value());
  EXPECT_EQ(c.reply.subscribed().window_bytes(), kMinLiveWindowBytes);
  // ...and then nothing is.
  LiveListeners::Outcome d = tight.Subscribe("d", Sub({"*"}), now_);
  EXPECT_FALSE(d.slot.has_value());
  EXPECT_EQ(Refused(d, LiveRefusal::kNoWindowLeft), 1u);
  EXPECT_NE(d.reply.error().message().find("--live-total-window-bytes"), std::string::npos);
  EXPECT_EQ(tight.reserved_bytes(), options.total_window_bytes);
  tight.Forget(*tight.Find("a"));
  EXPECT_EQ(tight.reserved_bytes(), (1u << 20) + kMinLiveWindowBytes);
}

TEST_F(LiveListenersTest, SilentListenersExpireButKeepTheirRecordUntilForgotten) {
  auto a = listeners_.Subscribe("a", Sub({"*"}, 100'000, 200), now_).slot;
  auto b = listeners_.Subscribe("b", Sub({"*"}, 100'000, 1000), now_).slot;
  ASSERT_TRUE(a && b);
  std::vector<LiveListeners::Slot> expired;
  auto collect = [&](LiveListeners::Slot s) { expired.push_back(s); };
  listeners_.Expire(now_ + 599ms, collect);
  EXPECT_TRUE(expired.empty());
  listeners_.Heard(*b, now_ + 500ms);
  listeners_.Expire(now_ + 600ms, collect);
  EXPECT_EQ(expired, std::vector<LiveListeners::Slot>{*a});
  EXPECT_EQ(Matching(listeners_, "auth.User/post_save"), std::vector<std::string>{"b"});
  EXPECT_EQ(listeners_.size(), 2u);  // kept, with its window
  EXPECT_EQ(listeners_.reserved_bytes(), 200'000u);
  listeners_.Expire(now_ + 601ms, collect);
  EXPECT_EQ(expired.size(), 1u);  // once
  // Unsubscribing while expired: it must subscribe again.
  EXPECT_EQ(listeners_.Unsubscribe("a", Unsub({"*"}), now_).reply.error().code(), v1::LiveError::UNKNOWN_LISTENER);
  // Subscribing revives the same record.
  LiveListeners::Outcome back = listeners_.Subscribe("a", Sub({"*"}), now_ + 700ms);
  EXPECT_EQ(back.slot, a);
  EXPECT_FALSE(back.created);
  EXPECT_EQ(Matching(listeners_, "auth.User/post_save"), (std::vector<std::string>{"a", "b"}));
  listeners_.Forget(*a);
  EXPECT_EQ(listeners_.size(), 1u);
  EXPECT_EQ(listeners_.subscriptions(), 1u);
  EXPECT_EQ(listeners_.reserved_bytes(), 100'000u);
}

}  // namespace
}  // namespace signalbus::broker
