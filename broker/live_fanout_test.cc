// LiveFanout over a real loopback ROUTER, with hand-driven DEALER listeners: frames
// forwarded unchanged, windows that drop and report instead of holding, credit only for
// marks read, requests from strangers that change nothing, expiry, and the caps.
#include "signalbus/broker/live_fanout.h"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "raw_live_client.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/sockets.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::Eventually;
using ::signalbus::testing::RawLiveClient;
using ::signalbus::testing::UserCreated;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kWait = 5s;

AcceptedEvent Accepted(const v1::Event& event) {
  AcceptedEvent accepted;
  accepted.topic = zmq::message_t(TopicOf(event));
  accepted.event = zmq::message_t(EncodeEvent(event));
  accepted.fields.event_id = event.event_id();
  return accepted;
}

// An event whose encoding is about `bytes` long.
v1::Event EventOfAbout(std::size_t bytes, const std::string& pk) {
  v1::Event e = UserCreated(pk);
  (*e.mutable_headers())["padding"] = std::string(bytes, 'p');
  return e;
}

class LiveFanoutTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(LiveOptions{}); }
  void TearDown() override { live_->Close(); }

  void Start(LiveOptions options) {
    if (live_) live_->Close();
    live_ = std::make_unique<LiveFanout>(SharedContext(), "tcp://127.0.0.1:*", options, metrics_, access_);
    ASSERT_TRUE(live_->Bind().ok());
  }

  // Runs the fan-out's request handling (as the poll loop does) until `condition` holds.
  bool Pump(const std::function<bool()>& condition, std::chrono::milliseconds timeout = kWait) {
    return Eventually(
        [&] {
          live_->Drain(100, now_);
          live_->Tick(now_);
          return condition();
        },
        timeout);
  }

  // Subscribes and waits for the broker's answer (its mark is not credited).
  v1::LiveReply SubscribeReply(RawLiveClient& client, const std::vector<std::string>& patterns,
                               std::uint64_t window = 0, std::uint32_t heartbeat_ms = 0) {
    EXPECT_TRUE(client.Subscribe(patterns, window, heartbeat_ms));
    std::optional<v1::LiveReply> reply;
    EXPECT_TRUE(Pump([&] {
      std::optional<RawLiveClient::Message> m = client.Next(1ms);
      if (m && m->reply && m->reply->has_subscribed()) reply = m->reply;
      return reply.has_value();
    })) << "no LiveSubscribed";
    return reply ? *reply : v1::LiveReply();
  }
  v1::LiveSubscribed Subscribe(RawLiveClient& client, const std::vector<std::string>& patterns,
                               std::uint64_t window = 0, std::uint32_t heartbeat_ms = 0) {
    return SubscribeReply(client, patterns, window, heartbeat_ms).subscribed();
  }

  // Everything the client has been sent, until nothing more comes for a moment.
  std::vector<RawLiveClient::Message> ReadAll(RawLiveClient& client) {
    std::vector<RawLiveClient::Message> out;
    while (std::optional<RawLiveClient::Message> m = client.Next(out.empty() ? 2000ms : 200ms)) {
      out.push_back(std::move(*m));
    }
    return out;
  }

  LiveMetricsSnapshot Snapshot() { return metrics_.Snapshot(); }

  LiveMetrics metrics_;
  Metrics broker_metrics_;
  AccessControl access_{broker_metrics_};
  std::unique_ptr<LiveFanout> live_;
  Clock::time_point now_ = Clock::now();
};

TEST_F(LiveFanoutTest, ForwardsTopicAndEventFramesUnchangedToMatchingListeners) {
  RawLiveClient listener(live_->endpoint());
  RawLiveClient other(live_->endpoint());
  v1::LiveSubscribed s = Subscribe(listener, {"auth.User/post_save"});
  EXPECT_EQ(s.patterns(), 1u);
  Subscribe(other, {"shop.Order"});
  EXPECT_EQ(live_->subscriptions(), 2u);

  v1::Event event = UserCreated("42");
  AcceptedEvent accepted = Accepted(event);
  live_->Accept(accepted);
  std::optional<RawLiveClient::Message> m = listener.Next(kWait);
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(m->is_event());
  EXPECT_EQ(m->frames[0], "auth.User/post_save");
  EXPECT_EQ(m->frames[1], EncodeEvent(event));
  // The sink's frames are shared, not consumed.
  EXPECT_EQ(accepted.event_view(), EncodeEvent(event));
  EXPECT_FALSE(other.Next(100ms).has_value());
  EXPECT_EQ(Snapshot().forwarded, 1u);
  EXPECT_EQ(Snapshot().dropped, 0u);
}

TEST_F(LiveFanoutTest, SendsNothingWhileNobodyIsSubscribed) {
  RawLiveClient stranger(live_->endpoint());
  live_->Accept(Accepted(UserCreated("1")));
  EXPECT_FALSE(stranger.Next(100ms).has_value());
  EXPECT_EQ(Snapshot().forwarded, 0u);
  EXPECT_EQ(live_->subscriptions(), 0u);
}

TEST_F(LiveFanoutTest, DropsWhatDoesNotFitTheWindowCountsItAndReportsItBeforeTheNextEvent) {
  RawLiveClient slow(live_->endpoint());
  // The smallest window: three ~20 KB events fit, the rest of ten does not.
  ASSERT_EQ(Subscribe(slow, {"*"}, kMinLiveWindowBytes).window_bytes(), kMinLiveWindowBytes);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    v1::Event e = EventOfAbout(20'000, std::to_string(i));
    ids.push_back(e.event_id());
    live_->Accept(Accepted(e));
  }
  EXPECT_EQ(Snapshot().forwarded, 3u);
  EXPECT_EQ(Snapshot().dropped, 7u);
  EXPECT_LE(live_->unread_bytes(), kMinLiveWindowBytes);
  EXPECT_GT(live_->unread_bytes(), 3u * 20'000);

  // What it holds arrives in order, with marks; crediting the last returns the window.
  std::vector<std::string> got;
  std::uint64_t last_mark = 0;
  for (const RawLiveClient::Message& m : ReadAll(slow)) {
    if (m.is_event()) {
      v1::Event e;
      ASSERT_TRUE(e.ParseFromString(m.frames[1]));
      got.push_back(e.event_id());
    } else if (m.reply && m.reply->mark() != 0) {
      last_mark = m.reply->mark();
    }
  }
  EXPECT_EQ(got, (std::vector<std::string>{ids[0], ids[1], ids[2]}));
  ASSERT_NE(last_mark, 0u) << "the broker asked for no credit";
  ASSERT_TRUE(slow.Credit(last_mark));
  ASSERT_TRUE(Pump([&] { return live_->unread_bytes() == 0; }));

  // The next event comes right after the report of what was missed.
  v1::Event next = UserCreated("99");
  live_->Accept(Accepted(next));
  std::vector<RawLiveClient::Message> after = ReadAll(slow);
  ASSERT_GE(after.size(), 2u);
  ASSERT_TRUE(after[0].reply.has_value());
  EXPECT_EQ(after[0].reply->missed(), 7u);
  ASSERT_TRUE(after[1].is_event());
  EXPECT_EQ(after[1].frames[1], EncodeEvent(next));
}

TEST_F(LiveFanoutTest, CreditForAMarkNotReadReturnsNothing) {
  RawLiveClient liar(live_->endpoint());
  Subscribe(liar, {"*"}, kMinLiveWindowBytes);
  for (int i = 0; i < 5; ++i) live_->Accept(Accepted(EventOfAbout(20'000, std::to_string(i))));
  EXPECT_EQ(Snapshot().forwarded, 3u);
  // It claims to have read everything, guessing marks instead of reading them.
  for (std::uint64_t guess : {1ull, 2ull, 0xdeadbeefull, ~0ull}) ASSERT_TRUE(liar.Credit(guess));
  ASSERT_TRUE(Pump([&] { return Snapshot().refused[LiveRefusalIndex(LiveRefusal::kBadCredit)] == 4; }));
  for (int i = 0; i < 5; ++i) live_->Accept(Accepted(EventOfAbout(20'000, std::to_string(10 + i))));
  EXPECT_EQ(Snapshot().forwarded, 3u);
  EXPECT_EQ(Snapshot().dropped, 7u);
}

TEST_F(LiveFanoutTest, UnbalancedUnsubscribesFromOtherConnectionsChangeNothing) {
  RawLiveClient listener(live_->endpoint());
  Subscribe(listener, {"*"});
  // A stranger speaking the protocol, and one that never subscribed sending raw
  // unsubscribe frames as a SUB would (0x00 + prefix).
  RawLiveClient stranger(live_->endpoint());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(stranger.Unsubscribe({"*", "auth.User/post_save", "never.Held/x"}));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(stranger.SendFrames({std::string("\x00", 1) + "auth.User/"}));
  zmq::socket_t xsub = MakeSocket(SharedContext(), zmq::socket_type::xsub);
  ASSERT_TRUE(Connect(xsub, live_->endpoint()).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(xsub.send(zmq::str_buffer("\x00"), zmq::send_flags::none));
  ASSERT_TRUE(Pump([&] {
    LiveMetricsSnapshot s = Snapshot();
    return s.refused[LiveRefusalIndex(LiveRefusal::kUnknownListener)] == 5 &&
           s.refused[LiveRefusalIndex(LiveRefusal::kBadRequest)] == 5;
  }));
  // And a listener unsubscribing what it does not hold.
  RawLiveClient other(live_->endpoint());
  Subscribe(other, {"shop.Order"});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(other.Unsubscribe({"*"}));
  ASSERT_TRUE(Pump([&] { return Snapshot().refused[LiveRefusalIndex(LiveRefusal::kNotSubscribed)] == 5; }));
  EXPECT_EQ(live_->subscriptions(), 2u);

  v1::Event event = UserCreated("7");
  live_->Accept(Accepted(event));
  std::vector<RawLiveClient::Message> got = ReadAll(listener);
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(std::any_of(got.begin(), got.end(), [&](const RawLiveClient::Message& m) {
    return m.is_event() && m.frames[1] == EncodeEvent(event);
  }));
  xsub.close();
}

TEST_F(LiveFanoutTest, MalformedRequestsAreCountedAndAnswered) {
  RawLiveClient peer(live_->endpoint());
  ASSERT_TRUE(peer.SendFrames({"hello", "world"}));             // two frames
  ASSERT_TRUE(peer.SendFrames({"\xff\xff\xff not protobuf"}));  // undecodable
  ASSERT_TRUE(peer.SendFrames({""}));                           // a request of no kind
  ASSERT_TRUE(Pump([&] { return Snapshot().refused[LiveRefusalIndex(LiveRefusal::kBadRequest)] == 3; }));
  for (int i = 0; i < 3; ++i) {
    std::optional<v1::LiveReply> answer = peer.NextReplyOfKind(v1::LiveReply::kError, kWait);
    ASSERT_TRUE(answer.has_value()) << i;
    EXPECT_EQ(answer->error().code(), v1::LiveError::BAD_REQUEST);
  }
  EXPECT_EQ(live_->listeners(), 0u);
  // The peer can still become a listener.
  EXPECT_EQ(Subscribe(peer, {"*"}).patterns(), 1u);
}

TEST_F(LiveFanoutTest, HeartbeatsAreAnsweredAndTheirMarksReturnTheWindow) {
  RawLiveClient listener(live_->endpoint());
  Subscribe(listener, {"*"});
  live_->Accept(Accepted(UserCreated("1")));  // a small event: below a quarter window, not marked
  ASSERT_TRUE(listener.Heartbeat());
  std::optional<v1::LiveReply> answer;
  ASSERT_TRUE(Pump([&] {
    std::optional<RawLiveClient::Message> m = listener.Next(1ms);
    if (m && m->reply && m->reply->has_heartbeat()) answer = m->reply;
    return answer.has_value();
  }));
  ASSERT_NE(answer->mark(), 0u);
  ASSERT_TRUE(listener.Credit(answer->mark()));
  ASSERT_TRUE(Pump([&] { return live_->unread_bytes() == 0; }));
}

TEST_F(LiveFanoutTest, SilentListenerExpiresAndIsForgottenOnceItsConnectionIsGone) {
  RawLiveClient quiet(live_->endpoint());
  Subscribe(quiet, {"*"}, 0, /*heartbeat_ms=*/100);
  live_->Accept(Accepted(UserCreated("1")));  // held: sent, never credited
  live_->Tick(now_ + 301ms);
  EXPECT_EQ(Snapshot().expired, 1u);
  EXPECT_EQ(live_->subscriptions(), 0u);
  EXPECT_EQ(live_->listeners(), 1u);  // kept while its connection may still hold the event
  live_->Accept(Accepted(UserCreated("2")));
  EXPECT_EQ(Snapshot().forwarded, 1u);
  quiet.Close();
  // Probed until the connection is found gone.
  Clock::time_point later = now_ + 301ms;
  ASSERT_TRUE(Eventually(
      [&] {
        later += 2s;
        live_->Tick(later);
        return live_->listeners() == 0;
      },
      kWait));
  EXPECT_EQ(Snapshot().listeners, 0);
  EXPECT_EQ(Snapshot().reserved_bytes, 0);
}

TEST_F(LiveFanoutTest, ExpiredListenerIsToldAndSubscribingAgainBringsItBack) {
  RawLiveClient listener(live_->endpoint());
  v1::LiveReply subscribed = SubscribeReply(listener, {"*"}, 0, /*heartbeat_ms=*/100);
  ASSERT_TRUE(listener.Credit(subscribed.mark()));  // it holds nothing unread
  ASSERT_TRUE(Pump([&] { return live_->unread_bytes() == 0; }));
  live_->Tick(now_ + 301ms);
  ASSERT_EQ(Snapshot().expired, 1u);
  // Nothing was held for it, so its record is gone at once; it is told.
  EXPECT_EQ(live_->listeners(), 0u);
  std::optional<v1::LiveReply> told = listener.NextReplyOfKind(v1::LiveReply::kError, kWait);
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->error().code(), v1::LiveError::UNKNOWN_LISTENER);
  now_ += 400ms;
  Subscribe(listener, {"*"});
  v1::Event event = UserCreated("3");
  live_->Accept(Accepted(event));
  std::optional<RawLiveClient::Message> m = listener.Next(kWait);
  ASSERT_TRUE(m && m->is_event());
  EXPECT_EQ(m->frames[1], EncodeEvent(event));
}

TEST_F(LiveFanoutTest, ListenersBeyondTheCapAreRefusedWithTheReason) {
  LiveOptions options;
  options.max_listeners = 1;
  Start(options);
  RawLiveClient first(live_->endpoint());
  Subscribe(first, {"*"});
  RawLiveClient second(live_->endpoint());
  ASSERT_TRUE(second.Subscribe({"*"}));
  std::optional<v1::LiveReply> refusal;
  ASSERT_TRUE(Pump([&] {
    std::optional<RawLiveClient::Message> m = second.Next(1ms);
    if (m && m->reply && m->reply->has_error()) refusal = m->reply;
    return refusal.has_value();
  }));
  EXPECT_EQ(refusal->error().code(), v1::LiveError::TOO_MANY_LISTENERS);
  EXPECT_EQ(Snapshot().refused[LiveRefusalIndex(LiveRefusal::kTooManyListeners)], 1u);
  EXPECT_EQ(live_->listeners(), 1u);
}

}  // namespace
}  // namespace signalbus::broker
