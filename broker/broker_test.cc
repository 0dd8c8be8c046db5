// Broker in-process: the poll loop wires ingest to live listeners, drops what it must,
// and refuses to start on an address that is taken.
#include "signalbus/broker/broker.h"

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
using ::signalbus::testing::UserCreated;
using namespace std::chrono_literals;

BrokerOptions LoopbackOptions() {
  BrokerOptions options;
  options.ingest_endpoint = "tcp://127.0.0.1:*";
  options.live_endpoint = "tcp://127.0.0.1:*";
  options.groups_endpoint = "tcp://127.0.0.1:*";
  options.max_event_bytes = 4096;
  options.journal.data_dir = ::signalbus::testing::MakeTempDir("sb-broker-test");
  return options;
}

class BrokerTest : public ::testing::Test {
 protected:
  // Runs the broker's loop from the test thread until `condition` holds.
  bool PollUntil(const std::function<bool()>& condition) {
    return Eventually(
        [&] {
          EXPECT_TRUE(broker_.PollOnce(1ms).ok());
          return condition();
        },
        5s);
  }

  Broker broker_{LoopbackOptions()};
};

TEST_F(BrokerTest, DeliversValidEventsAndDropsTheRest) {
  ASSERT_TRUE(broker_.Start().ok());
  EXPECT_EQ(broker_.metrics_url(), "off");

  ::signalbus::testing::RawLiveClient listener(broker_.live_endpoint());
  ASSERT_TRUE(listener.Subscribe({"*"}));
  ASSERT_TRUE(PollUntil([&] { return broker_.metrics().Snapshot().live.subscriptions == 1; }));

  // A raw publisher sending fire-and-forget events (no sequence: no session needed).
  zmq::socket_t pub = MakeSocket(SharedContext(), zmq::socket_type::dealer);
  ASSERT_TRUE(Connect(pub, broker_.ingest_endpoint()).ok());
  v1::Event first = UserCreated("1");
  v1::Event mismatched = UserCreated("3");
  v1::Event second = UserCreated("2");
  for (v1::Event* e : {&first, &mismatched, &second}) {
    e->clear_publisher_id();
    e->clear_sequence();
  }
  ASSERT_TRUE(pub.send(zmq::str_buffer("garbage"), zmq::send_flags::none));
  ASSERT_TRUE(pub.send(zmq::buffer(TopicOf(first)), zmq::send_flags::sndmore));
  ASSERT_TRUE(pub.send(zmq::buffer(EncodeEvent(first)), zmq::send_flags::none));
  ASSERT_TRUE(pub.send(zmq::str_buffer("shop.Order/post_save"), zmq::send_flags::sndmore));
  ASSERT_TRUE(pub.send(zmq::buffer(EncodeEvent(mismatched)), zmq::send_flags::none));
  ASSERT_TRUE(pub.send(zmq::buffer(TopicOf(second)), zmq::send_flags::sndmore));
  ASSERT_TRUE(pub.send(zmq::buffer(EncodeEvent(second)), zmq::send_flags::none));

  std::vector<std::string> received;
  ASSERT_TRUE(PollUntil([&] {
    while (std::optional<::signalbus::testing::RawLiveClient::Message> m = listener.Next(0ms)) {
      if (!m->is_event()) continue;  // the broker's answer and marks
      v1::Event event;
      EXPECT_TRUE(event.ParseFromString(m->frames[1]));
      received.push_back(event.event_id());
    }
    return received.size() >= 2 && broker_.metrics().Snapshot().rejected_total() >= 2;
  }));
  EXPECT_EQ(received, (std::vector<std::string>{first.event_id(), second.event_id()}));
  MetricsSnapshot s = broker_.metrics().Snapshot();
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.live.forwarded, 2u);
  EXPECT_EQ(s.rejected[RejectReasonIndex(RejectReason::kFrameCount)], 1u);
  EXPECT_EQ(s.rejected[RejectReasonIndex(RejectReason::kTopicMismatch)], 1u);
  broker_.Stop();
}

TEST_F(BrokerTest, RefusesToStartOnAnEndpointInUse) {
  zmq::socket_t squatter = MakeSocket(SharedContext(), zmq::socket_type::pull);
  Result<std::string> taken = Bind(squatter, "tcp://127.0.0.1:*");
  ASSERT_TRUE(taken.ok());
  BrokerOptions options = LoopbackOptions();
  options.live_endpoint = *taken;
  Broker broker(options);
  Status s = broker.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "cannot bind " + *taken + ": Address already in use");
}

TEST_F(BrokerTest, ServesMetricsWhenAsked) {
  BrokerOptions options = LoopbackOptions();
  options.metrics = MetricsAddress{"127.0.0.1", 0};
  Broker broker(options);
  ASSERT_TRUE(broker.Start().ok());
  EXPECT_EQ(signalbus::testing::HttpGet(broker.metrics_url(), "/healthz"), "ok\n");
  broker.Stop();
}

}  // namespace
}  // namespace signalbus::broker
