// LiveFanout over a real loopback socket: forwarding and the subscription gauge.
#include "signalbus/broker/live_fanout.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "process.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/sockets.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::Eventually;
using ::signalbus::testing::UserCreated;
using namespace std::chrono_literals;

class LiveFanoutTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(live_.Bind().ok()); }
  void TearDown() override { live_.Close(); }

  bool GaugeReaches(std::int64_t n) {
    return Eventually(
        [&] {
          live_.DrainSubscriptions(100);
          return live_.subscriptions() == n && metrics_.Snapshot().live_subscriptions == n;
        },
        5s);
  }

  zmq::socket_t Listener(const std::string& prefix) {
    zmq::socket_t sub = MakeSocket(SharedContext(), zmq::socket_type::sub);
    sub.set(zmq::sockopt::rcvtimeo, 5000);
    sub.set(zmq::sockopt::subscribe, prefix);
    EXPECT_TRUE(Connect(sub, live_.endpoint()).ok());
    return sub;
  }

  static AcceptedEvent Accepted(const v1::Event& event) {
    AcceptedEvent accepted;
    accepted.topic = zmq::message_t(TopicOf(event));
    accepted.event = zmq::message_t(EncodeEvent(event));
    accepted.fields.event_id = event.event_id();
    return accepted;
  }

  Metrics metrics_;
  LiveFanout live_{SharedContext(), "tcp://127.0.0.1:*", metrics_};
};

TEST_F(LiveFanoutTest, ForwardsTopicAndEventFramesUnchanged) {
  zmq::socket_t sub = Listener("");
  ASSERT_TRUE(GaugeReaches(1));
  v1::Event event = UserCreated("42");
  AcceptedEvent accepted = Accepted(event);
  live_.Accept(accepted);
  zmq::message_t topic, body;
  ASSERT_TRUE(sub.recv(topic));
  ASSERT_TRUE(topic.more());
  ASSERT_TRUE(sub.recv(body));
  EXPECT_FALSE(body.more());
  EXPECT_EQ(topic.to_string(), "auth.User/post_save");
  EXPECT_EQ(body.to_string(), EncodeEvent(event));
  // The sink's frames are shared, not consumed.
  EXPECT_EQ(accepted.event_view(), EncodeEvent(event));
  EXPECT_EQ(metrics_.Snapshot().live_forwarded, 1u);
}

TEST_F(LiveFanoutTest, CountsEachListenersSubscriptionsAndTheirEnd) {
  zmq::socket_t a = Listener("auth.User/");
  zmq::socket_t b = Listener("auth.User/");  // the same prefix still counts twice
  ASSERT_TRUE(GaugeReaches(2));
  b.set(zmq::sockopt::unsubscribe, "auth.User/");
  ASSERT_TRUE(GaugeReaches(1));
  a.close();  // a listener that goes away takes its subscriptions with it
  ASSERT_TRUE(GaugeReaches(0));
}

TEST_F(LiveFanoutTest, IgnoresMessagesThatAreNotSubscriptions) {
  // An XSUB peer can send anything up the XPUB, in any number of frames.
  zmq::socket_t rogue = MakeSocket(SharedContext(), zmq::socket_type::xsub);
  ASSERT_TRUE(Connect(rogue, live_.endpoint()).ok());
  ASSERT_TRUE(rogue.send(zmq::str_buffer("hello"), zmq::send_flags::sndmore));
  ASSERT_TRUE(rogue.send(zmq::str_buffer("world"), zmq::send_flags::none));
  ASSERT_TRUE(rogue.send(zmq::str_buffer("not a subscription"), zmq::send_flags::none));
  ASSERT_TRUE(rogue.send(zmq::str_buffer("\x01" "auth."), zmq::send_flags::none));
  ASSERT_TRUE(GaugeReaches(1));
  EXPECT_EQ(live_.DrainSubscriptions(100), 0u);
  EXPECT_EQ(live_.subscriptions(), 1);
}

}  // namespace
}  // namespace signalbus::broker
