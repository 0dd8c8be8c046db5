// LiveSource against a real ZeroMQ XPUB on loopback (standing in for the broker's live
// endpoint): prefix subscriptions, and malformed messages reported, never fatal.
#include "signalbus/receivers/live_source.h"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/sockets.h"

namespace signalbus {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kWait{5000};

std::vector<TopicPattern> Patterns(std::initializer_list<std::string_view> texts) {
  std::vector<TopicPattern> out;
  for (std::string_view t : texts) out.push_back(*TopicPattern::Parse(t));
  return out;
}

TEST(LiveSourcePrefixesTest, DropsPrefixesCoveredByShorterOnes) {
  using V = std::vector<std::string>;
  EXPECT_EQ(LiveSource::SubscriptionPrefixes(Patterns({"auth.User/post_save"})), (V{"auth.User/post_save"}));
  EXPECT_EQ(LiveSource::SubscriptionPrefixes(Patterns({"auth.User/post_save", "auth.User", "shop.Order/order_paid"})),
            (V{"auth.User/", "shop.Order/order_paid"}));
  EXPECT_EQ(LiveSource::SubscriptionPrefixes(Patterns({"auth.User/post_save", "*/post_delete"})), (V{""}));
  EXPECT_EQ(LiveSource::SubscriptionPrefixes(Patterns({"auth.User", "auth.UserProfile"})),
            (V{"auth.User/", "auth.UserProfile/"}));
}

class LiveSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto endpoint = Bind(xpub_, "tcp://127.0.0.1:*");
    ASSERT_TRUE(endpoint.ok()) << endpoint.status().ToString();
    endpoint_ = *endpoint;
  }
  void TearDown() override { xpub_.close(); }

  // Opens the source and waits until the XPUB has seen its subscription, so nothing sent
  // afterwards is lost to the slow-joiner effect.
  void OpenAndWaitForSubscription(LiveSource& source, std::initializer_list<std::string_view> patterns) {
    ASSERT_TRUE(source.Open(Patterns(patterns)).ok());
    xpub_.set(zmq::sockopt::rcvtimeo, static_cast<int>(kWait.count()));
    zmq::message_t subscription;
    ASSERT_TRUE(xpub_.recv(subscription)) << "no subscription arrived";
    ASSERT_EQ(subscription.to_string_view().front(), '\x01');
  }

  void Send(std::vector<std::string> frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      ASSERT_TRUE(xpub_.send(zmq::buffer(frames[i]), flags));
    }
  }

  static Received Next(LiveSource& source) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<Received> r = source.Receive(milliseconds(100));
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->kind != Received::Kind::kNothing) return r.ok() ? *r : Received{};
    }
    ADD_FAILURE() << "nothing received";
    return Received{};
  }

  zmq::socket_t xpub_ = MakeSocket(SharedContext(), zmq::socket_type::xpub);
  std::string endpoint_;
};

TEST_F(LiveSourceTest, DeliversSubscribedTopicsDecoded) {
  LiveSource source(endpoint_);
  OpenAndWaitForSubscription(source, {"auth.User/post_save"});
  v1::Event other = testing::UserCreated("1");
  other.set_sender("auth.UserProfile");
  other.mutable_model_save()->mutable_instance()->set_model("auth.UserProfile");
  v1::Event wanted = testing::UserCreated("2");
  Send({"auth.UserProfile/post_save", EncodeEvent(other)});  // filtered out by the prefix
  Send({"auth.User/post_save", EncodeEvent(wanted)});

  Received r = Next(source);
  ASSERT_EQ(r.kind, Received::Kind::kEvent) << r.problem;
  EXPECT_EQ(r.delivery.topic, "auth.User/post_save");
  EXPECT_EQ(r.delivery.event.event_id(), wanted.event_id());
  EXPECT_EQ(source.Describe(), "live " + endpoint_);
}

TEST_F(LiveSourceTest, ReportsMalformedMessagesAndKeepsGoing) {
  LiveSource source(endpoint_, /*max_event_bytes=*/4096);
  OpenAndWaitForSubscription(source, {"auth.User"});
  v1::Event good = testing::UserCreated("7");
  std::string encoded = EncodeEvent(good);
  v1::Event huge = testing::UserCreated("8");
  (*huge.mutable_headers())["padding"] = std::string(5000, 'x');

  Send({"auth.User/post_save"});                           // one frame
  Send({"auth.User/post_save", encoded, "extra"});         // three frames
  Send({"auth.User/post_save", "\xff\xfe not protobuf"});  // undecodable
  Send({"auth.User/post_delete", encoded});                // topic does not match event
  Send({"auth.User/post_save", EncodeEvent(huge)});        // over the size limit
  Send({"auth.User/post_save", encoded});

  for (const char* want : {"1 frames", "3 frames", "undecodable", "does not match", "over the limit"}) {
    Received r = Next(source);
    EXPECT_EQ(r.kind, Received::Kind::kMalformed);
    EXPECT_NE(r.problem.find(want), std::string::npos) << r.problem;
  }
  Received r = Next(source);
  ASSERT_EQ(r.kind, Received::Kind::kEvent) << r.problem;
  EXPECT_EQ(r.delivery.event.event_id(), good.event_id());
}

TEST_F(LiveSourceTest, ReceiveTimesOutWithNothing) {
  LiveSource source(endpoint_);
  OpenAndWaitForSubscription(source, {"*"});
  Result<Received> r = source.Receive(milliseconds(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Received::Kind::kNothing);
}

TEST_F(LiveSourceTest, DrainedSourceHoldsNothingAndSaysSo) {
  LiveSource source(endpoint_);
  OpenAndWaitForSubscription(source, {"*"});
  Send({"auth.User/post_save", EncodeEvent(testing::UserCreated("1"))});
  source.Drain();  // at-most-once: what was not handed out yet is dropped
  Result<Received> r = source.Receive(milliseconds(20));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Received::Kind::kDrained);
  source.Close();
  EXPECT_FALSE(source.Receive(milliseconds(1)).ok());
}

TEST(LiveSourceErrorsTest, BadEndpointIsAStatus) {
  LiveSource source("tcp://no-port");
  EXPECT_FALSE(source.Open(Patterns({"*"})).ok());
  EXPECT_FALSE(source.Receive(milliseconds(1)).ok());
}

}  // namespace
}  // namespace signalbus
