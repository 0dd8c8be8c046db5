// LiveSource against a ROUTER the test drives by hand (standing in for the broker's live
// endpoint): what it subscribes with, that it credits each mark it reads, reports drops,
// subscribes again when forgotten or met with silence, and turns a refusal into an error
// and malformed messages into counted drops, never into a crash.
#include "signalbus/receivers/live_source.h"

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/sockets.h"

namespace signalbus {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;
constexpr milliseconds kWait{5000};

std::vector<TopicPattern> Patterns(std::initializer_list<std::string_view> texts) {
  std::vector<TopicPattern> out;
  for (std::string_view t : texts) out.push_back(*TopicPattern::Parse(t));
  return out;
}

TEST(LiveSourceRequestsTest, SubscribesWithEachPatternOnceInRequestsUnderTheBrokersLimit) {
  LiveSourceOptions options{.window_bytes = 123'456, .heartbeat = 250ms};
  std::vector<v1::LiveRequest> one =
      LiveSource::SubscribeRequests(Patterns({"auth.User/post_save", "auth.User/*", "auth.User"}), options);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].subscribe().patterns_size(), 2);
  EXPECT_EQ(one[0].subscribe().patterns(0), "auth.User/post_save");
  EXPECT_EQ(one[0].subscribe().patterns(1), "auth.User/*");
  EXPECT_EQ(one[0].subscribe().window_bytes(), 123'456u);
  EXPECT_EQ(one[0].subscribe().heartbeat_ms(), 250u);

  std::vector<TopicPattern> many;
  for (int i = 0; i < 2000; ++i) {
    many.push_back(*TopicPattern::Parse("app" + std::to_string(i) + "." + std::string(40, 'M') + "/post_save"));
  }
  std::vector<v1::LiveRequest> split = LiveSource::SubscribeRequests(many, options);
  EXPECT_GT(split.size(), 1u);
  std::set<std::string> seen;
  for (const v1::LiveRequest& r : split) {
    EXPECT_LE(r.ByteSizeLong(), 8u << 10);  // the broker takes 16 KiB at most
    EXPECT_EQ(r.subscribe().window_bytes(), 123'456u);
    for (const std::string& p : r.subscribe().patterns()) EXPECT_TRUE(seen.insert(p).second) << p;
  }
  EXPECT_EQ(seen.size(), 2000u);
}

// The broker's side, by hand: a ROUTER that reads requests and sends replies and events.
class LiveSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto endpoint = Bind(router_, "tcp://127.0.0.1:*");
    ASSERT_TRUE(endpoint.ok()) << endpoint.status().ToString();
    endpoint_ = *endpoint;
  }
  void TearDown() override { router_.close(); }

  // The next request from the source, while the source is pumped (it only acts inside
  // Receive). Its results are kept in `received_`.
  std::optional<v1::LiveRequest> NextRequest(LiveSource& source, milliseconds timeout = kWait) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::message_t id, body;
      if (TryRecvFrame(router_, id)) {
        EXPECT_TRUE(id.more() && TryRecvFrame(router_, body));
        EXPECT_FALSE(body.more());
        peer_ = id.to_string();
        v1::LiveRequest request;
        EXPECT_TRUE(request.ParseFromArray(body.data(), static_cast<int>(body.size())));
        return request;
      }
      Result<Received> r = source.Receive(5ms);
      if (!r.ok()) {
        status_ = r.status();
        return std::nullopt;
      }
      if (r->kind != Received::Kind::kNothing) received_.push_back(*r);
    }
    return std::nullopt;
  }

  std::optional<v1::LiveRequest> NextOf(LiveSource& source, v1::LiveRequest::KindCase kind,
                                        milliseconds timeout = kWait) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<v1::LiveRequest> r = NextRequest(source, std::chrono::ceil<milliseconds>(
                                                                 deadline - std::chrono::steady_clock::now()));
      if (!r) return std::nullopt;
      if (r->kind_case() == kind) return r;
    }
    return std::nullopt;
  }

  void Send(std::vector<std::string> frames) {
    ASSERT_TRUE(router_.send(zmq::buffer(peer_), zmq::send_flags::sndmore));
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      ASSERT_TRUE(router_.send(zmq::buffer(frames[i]), flags));
    }
  }
  void Reply(const v1::LiveReply& reply) { Send({reply.SerializeAsString()}); }
  void Subscribed(std::uint64_t window = 1 << 20, std::uint32_t heartbeat_ms = 1000) {
    v1::LiveReply reply;
    reply.mutable_subscribed()->set_window_bytes(window);
    reply.mutable_subscribed()->set_heartbeat_ms(heartbeat_ms);
    Reply(reply);
  }

  // Opens the source, answers its Subscribe, and waits until it is subscribed.
  void OpenAndSubscribe(LiveSource& source, std::initializer_list<std::string_view> patterns) {
    ASSERT_TRUE(source.Open(Patterns(patterns)).ok());
    ASSERT_TRUE(NextOf(source, v1::LiveRequest::kSubscribe).has_value());
    Subscribed();
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!source.subscribed() && std::chrono::steady_clock::now() < deadline) ASSERT_TRUE(source.Receive(5ms).ok());
    ASSERT_TRUE(source.subscribed());
  }

  Received Next(LiveSource& source) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<Received> r = source.Receive(milliseconds(100));
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->kind != Received::Kind::kNothing) return r.ok() ? *r : Received{};
    }
    ADD_FAILURE() << "nothing received";
    return Received{};
  }

  zmq::socket_t router_ = MakeSocket(SharedContext(), zmq::socket_type::router);
  std::string endpoint_;
  std::string peer_;
  std::vector<Received> received_;
  std::optional<Status> status_;
};

TEST_F(LiveSourceTest, SubscribesWithItsPatternsWindowAndHeartbeat) {
  LiveSource source(endpoint_, kDefaultMaxEventBytes, {.window_bytes = 200'000, .heartbeat = 300ms});
  ASSERT_TRUE(source.Open(Patterns({"auth.User/post_save", "*/post_delete"})).ok());
  std::optional<v1::LiveRequest> r = NextOf(source, v1::LiveRequest::kSubscribe);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->subscribe().patterns_size(), 2);
  EXPECT_EQ(r->subscribe().patterns(1), "*/post_delete");
  EXPECT_EQ(r->subscribe().window_bytes(), 200'000u);
  EXPECT_EQ(r->subscribe().heartbeat_ms(), 300u);
  EXPECT_FALSE(source.subscribed());
  Subscribed(150'000, 300);
  ASSERT_TRUE(NextOf(source, v1::LiveRequest::kHeartbeat).has_value());  // and it heartbeats
  EXPECT_TRUE(source.subscribed());
  EXPECT_EQ(source.granted_window_bytes(), 150'000u);
  EXPECT_EQ(source.Describe(), "live " + endpoint_);
}

TEST_F(LiveSourceTest, DeliversEventsDecodedAndCreditsEachMarkItReads) {
  LiveSource source(endpoint_);
  OpenAndSubscribe(source, {"auth.User/post_save"});
  v1::Event event = testing::UserCreated("2");
  Send({"auth.User/post_save", EncodeEvent(event)});
  v1::LiveReply mark;
  mark.set_mark(0x1234567890abcdefull);
  Reply(mark);

  Received r = Next(source);
  ASSERT_EQ(r.kind, Received::Kind::kEvent) << r.problem;
  EXPECT_EQ(r.delivery.topic, "auth.User/post_save");
  EXPECT_EQ(r.delivery.event.event_id(), event.event_id());
  std::optional<v1::LiveRequest> credit = NextOf(source, v1::LiveRequest::kCredit);
  ASSERT_TRUE(credit.has_value());
  EXPECT_EQ(credit->credit().mark(), 0x1234567890abcdefull);
  EXPECT_EQ(source.stats().events, 1u);
}

TEST_F(LiveSourceTest, ReportsEventsTheBrokerDropped) {
  LiveSource source(endpoint_);
  OpenAndSubscribe(source, {"*"});
  v1::LiveReply report;
  report.set_missed(7);
  Reply(report);
  Received r = Next(source);
  ASSERT_EQ(r.kind, Received::Kind::kMissed);
  EXPECT_EQ(r.missed, 7u);
  EXPECT_EQ(source.stats().missed, 7u);
}

TEST_F(LiveSourceTest, ReportsMalformedMessagesAndKeepsGoing) {
  LiveSource source(endpoint_, /*max_event_bytes=*/4096);
  OpenAndSubscribe(source, {"auth.User"});
  v1::Event good = testing::UserCreated("7");
  std::string encoded = EncodeEvent(good);
  v1::Event huge = testing::UserCreated("8");
  (*huge.mutable_headers())["padding"] = std::string(5000, 'x');

  Send({"\xff\xfe not a reply"});                          // one frame, not a LiveReply
  Send({"auth.User/post_save", encoded, "extra"});         // three frames
  Send({"auth.User/post_save", "\xff\xfe not protobuf"});  // undecodable
  Send({"auth.User/post_delete", encoded});                // topic does not match event
  Send({"auth.User/post_save", EncodeEvent(huge)});        // over the size limit
  Send({""});                                              // the broker's probe: ignored
  Send({"auth.User/post_save", encoded});

  for (const char* want : {"undecodable reply", "3 frames", "undecodable", "does not match", "over the limit"}) {
    Received r = Next(source);
    EXPECT_EQ(r.kind, Received::Kind::kMalformed);
    EXPECT_NE(r.problem.find(want), std::string::npos) << r.problem;
  }
  Received r = Next(source);
  ASSERT_EQ(r.kind, Received::Kind::kEvent) << r.problem;
  EXPECT_EQ(r.delivery.event.event_id(), good.event_id());
}

TEST_F(LiveSourceTest, SubscribesAgainWhenTheBrokerHasForgottenIt) {
  LiveSource source(endpoint_);
  OpenAndSubscribe(source, {"auth.User"});
  v1::LiveReply forgotten;
  forgotten.mutable_error()->set_code(v1::LiveError::UNKNOWN_LISTENER);
  forgotten.mutable_error()->set_message("expired after missed heartbeats; subscribe again");
  Reply(forgotten);
  std::optional<v1::LiveRequest> again = NextOf(source, v1::LiveRequest::kSubscribe);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->subscribe().patterns(0), "auth.User/*");
  Subscribed();
  ASSERT_TRUE(NextOf(source, v1::LiveRequest::kHeartbeat).has_value());
  EXPECT_TRUE(source.subscribed());
  EXPECT_EQ(source.stats().subscribes, 2u);
}

TEST_F(LiveSourceTest, SubscribesAgainWhenTheBrokerFallsSilent) {
  LiveSource source(endpoint_, kDefaultMaxEventBytes, {.heartbeat = 100ms});
  ASSERT_TRUE(source.Open(Patterns({"*"})).ok());
  ASSERT_TRUE(NextOf(source, v1::LiveRequest::kSubscribe).has_value());
  Subscribed(1 << 20, 100);
  // Nothing answers its heartbeats from now on: after three intervals it subscribes again.
  std::optional<v1::LiveRequest> again = NextOf(source, v1::LiveRequest::kSubscribe, 2s);
  ASSERT_TRUE(again.has_value());
}

TEST_F(LiveSourceTest, RefusalsAreErrorsThatNameTheBrokersReason) {
  {
    LiveSource source(endpoint_);
    ASSERT_TRUE(source.Open(Patterns({"*"})).ok());
    ASSERT_TRUE(NextOf(source, v1::LiveRequest::kSubscribe).has_value());
    v1::LiveReply full;
    full.mutable_error()->set_code(v1::LiveError::TOO_MANY_LISTENERS);
    full.mutable_error()->set_message("the broker holds 256 live listeners, the most it allows");
    Reply(full);
    ASSERT_FALSE(NextRequest(source, 2s).has_value());
    ASSERT_TRUE(status_.has_value());
    EXPECT_NE(status_->message().find("the most it allows"), std::string::npos) << status_->message();
  }
  status_.reset();
  LiveSource source(endpoint_);
  ASSERT_TRUE(source.Open(Patterns({"auth.User"})).ok());
  ASSERT_TRUE(NextOf(source, v1::LiveRequest::kSubscribe).has_value());
  v1::LiveReply refused;
  refused.mutable_subscribed()->set_refused(1);
  refused.mutable_subscribed()->set_refused_pattern("auth.User/*");
  refused.mutable_subscribed()->set_refused_reason("too_many_patterns");
  refused.mutable_subscribed()->set_refused_message("this listener holds 256 patterns");
  Reply(refused);
  ASSERT_FALSE(NextRequest(source, 2s).has_value());
  ASSERT_TRUE(status_.has_value());
  EXPECT_NE(status_->message().find("too_many_patterns"), std::string::npos) << status_->message();
}

TEST_F(LiveSourceTest, ReceiveTimesOutWithNothing) {
  LiveSource source(endpoint_);
  OpenAndSubscribe(source, {"*"});
  Result<Received> r = source.Receive(milliseconds(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Received::Kind::kNothing);
}

TEST_F(LiveSourceTest, DrainedSourceHoldsNothingAndSaysSo) {
  LiveSource source(endpoint_);
  OpenAndSubscribe(source, {"*"});
  Send({"auth.User/post_save", EncodeEvent(testing::UserCreated("1"))});
  source.Drain();  // at-most-once: what was not handed out yet is dropped
  Result<Received> r = source.Receive(milliseconds(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Received::Kind::kDrained);
  source.Close();
  EXPECT_FALSE(source.Receive(milliseconds(1)).ok());
}

TEST(LiveSourceErrorsTest, BadEndpointOrOptionIsAStatus) {
  LiveSource source("tcp://no-port");
  EXPECT_FALSE(source.Open(Patterns({"*"})).ok());
  EXPECT_FALSE(source.Receive(milliseconds(1)).ok());
  LiveSource fast("tcp://127.0.0.1:1", kDefaultMaxEventBytes, {.heartbeat = 10ms});
  EXPECT_FALSE(fast.Open(Patterns({"*"})).ok());
  LiveSource none("tcp://127.0.0.1:1");
  EXPECT_FALSE(none.Open({}).ok());
}

}  // namespace
}  // namespace signalbus
