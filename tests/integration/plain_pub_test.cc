// A plain ZeroMQ PUB socket publishing to the broker's --ingest-pub endpoint (an XSUB):
// its fire-and-forget events are validated and logged like any other, with nothing sent
// back; a numbered event there is refused (no session can exist on a PUB), and garbage
// is counted, as on the session endpoint.
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "process.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/sockets.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

// A fire-and-forget event: no publisher id, no sequence.
v1::Event Anonymous(int pk) {
  v1::Event event = UserCreated(std::to_string(pk));
  event.clear_publisher_id();
  event.set_sequence(0);
  return event;
}

void SendEvent(zmq::socket_t& pub, const v1::Event& event) {
  const std::string topic = TopicOf(event), bytes = EncodeEvent(event);
  ASSERT_TRUE(pub.send(zmq::buffer(topic), zmq::send_flags::sndmore));
  ASSERT_TRUE(pub.send(zmq::buffer(bytes), zmq::send_flags::none));
}

TEST(PlainPubTest, APlainPubSocketsEventsAreLoggedFireAndForgetAndNumberedOnesRefused) {
  BrokerProcess broker({"--ingest-pub", "tcp://127.0.0.1:*"});
  ASSERT_TRUE(broker.ready());
  ASSERT_FALSE(broker.ingest_pub().empty());
  zmq::socket_t pub = MakeSocket(SharedContext(), zmq::socket_type::pub);
  ASSERT_TRUE(Connect(pub, broker.ingest_pub()).ok());
  // A PUB drops what it sends before the broker's subscription reached it: send probes
  // until one is logged.
  int probes = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        SendEvent(pub, Anonymous(1000 + ++probes));
        return broker.Metric("signalbus_log_appended_total") >= 1;
      },
      10s));
  const double before = broker.Metric("signalbus_log_appended_total");
  // Every probe that got through is logged; wait for the last ones in flight.
  std::set<std::string> sent;
  for (int i = 1; i <= 100; ++i) {
    v1::Event event = Anonymous(i);
    sent.insert(event.event_id());
    SendEvent(pub, event);
  }
  v1::Event numbered = UserCreated("77");
  numbered.set_publisher_id("pub-socket");
  numbered.set_sequence(1);
  SendEvent(pub, numbered);
  ASSERT_TRUE(pub.send(zmq::str_buffer("not/a topic"), zmq::send_flags::sndmore));
  ASSERT_TRUE(pub.send(zmq::str_buffer("garbage"), zmq::send_flags::none));
  EXPECT_TRUE(broker.WaitForMetric("signalbus_ingest_refused_total{reason=\"no_session\"}", 1, 10s));
  EXPECT_TRUE(broker.WaitForMetric("signalbus_ingest_rejected_total{reason=\"bad_topic\"}", 1, 10s));
  EXPECT_TRUE(broker.WaitForMetric("signalbus_log_appended_total", before + 100, 10s));
  const int logged = static_cast<int>(broker.Metric("signalbus_log_appended_total"));
  EXPECT_LE(logged, probes + 100);

  std::set<std::string> got;
  for (const v1::Event& event : ReadLog(broker, logged)) {
    EXPECT_NE(event.event_id(), numbered.event_id());
    if (sent.count(event.event_id()) > 0) got.insert(event.event_id());
  }
  EXPECT_EQ(got, sent);  // every one of the 100, once (a set), none numbered
}

}  // namespace
}  // namespace signalbus::testing
