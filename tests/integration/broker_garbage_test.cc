// The real signalbus-broker against hostile publishers: garbage of every kind is
// dropped and counted by reason, the daemon keeps running and keeps delivering valid
// events to live listeners; it stops cleanly on SIGTERM/SIGINT, and a mistake by the
// person starting it is one line on stderr and a non-zero exit.
#include <signal.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_process.h"
#include "process.h"
#include "raw_publisher.h"
#include "raw_live_client.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/sockets.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxEventBytes = 4096;

std::string Rejected(const std::string& reason) {
  return "signalbus_ingest_rejected_total{reason=\"" + reason + "\"}";
}

int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class BrokerGarbageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ready());
    listener_ = std::make_unique<RawLiveClient>(broker_.live());
    ASSERT_TRUE(listener_->Subscribe({"*"}));
    ASSERT_TRUE(broker_.WaitForMetric("signalbus_live_subscriptions", 1, 20s));
    publisher_ = ConnectPublisher();
  }

  // A raw publisher: a DEALER that has seen the broker answer its connection.
  std::unique_ptr<RawPublisher> ConnectPublisher() {
    auto pub = std::make_unique<RawPublisher>(broker_.ingest());
    EXPECT_TRUE(pub->connected());
    return pub;
  }

  static void Send(RawPublisher& pub, const std::vector<std::string>& frames) { pub.SendFrames(frames); }

  std::string RandomBytes(std::size_t max_size) {
    std::uniform_int_distribution<std::size_t> size(1, max_size);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string out(size(random_), '\0');
    for (char& c : out) c = static_cast<char>(byte(random_));
    return out;
  }

  // Sends one of each kind of bad message (some several times) and returns how many of
  // each reason the broker must count.
  std::map<std::string, int> SendGarbage(RawPublisher& pub) {
    std::map<std::string, int> expected;
    v1::Event valid = UserCreated("1");
    std::string topic = TopicOf(valid);
    std::string bytes = EncodeEvent(valid);

    for (int i = 0; i < 10; ++i) Send(pub, {RandomBytes(200)});  // random single frames
    Send(pub, {topic});                                            // a topic alone
    Send(pub, {"\x01"});
    Send(pub, {topic, bytes, "one frame too many"});
    std::vector<std::string> fifty(50, "frame");
    fifty[0] = topic;
    fifty[1] = bytes;
    Send(pub, fifty);
    expected["frame_count"] = 14;

    // 0xff is never part of a topic, so each of these is a bad topic whatever follows.
    for (int i = 0; i < 10; ++i) Send(pub, {"\xff" + RandomBytes(40), RandomBytes(200)});
    Send(pub, {"auth.User", bytes});
    Send(pub, {"", bytes});
    Send(pub, {"auth.User/post save", bytes});
    expected["bad_topic"] = 13;

    Send(pub, {"shop.Order/post_save", bytes});
    Send(pub, {"auth.User/post_delete", bytes});
    expected["topic_mismatch"] = 2;

    Send(pub, {topic, ""});
    Send(pub, {topic, "\xff\xff\xff\xff"});  // a varint that never ends
    Send(pub, {topic, "\x0f"});              // wire type 7 does not exist
    Send(pub, {topic, bytes.substr(0, bytes.size() / 2)});
    expected["undecodable"] = 4;

    v1::Event big = UserCreated("2");
    (*big.mutable_model_save()->mutable_instance()->mutable_fields()->mutable_fields())["bio"].set_string_value(
        std::string(kMaxEventBytes, 'b'));
    Send(pub, {TopicOf(big), EncodeEvent(big)});
    expected["oversized"] = 1;

    v1::Event future = UserCreated("3");
    future.set_schema_version(2);
    Send(pub, {TopicOf(future), EncodeEvent(future)});
    v1::Event no_id = UserCreated("4");
    no_id.clear_event_id();
    Send(pub, {TopicOf(no_id), EncodeEvent(no_id)});
    expected["invalid_event"] = 2;
    return expected;
  }

  // Publishes valid events; returns their ids in order.
  // Fire-and-forget: these need no session.
  std::vector<std::string> SendValid(RawPublisher& pub, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      v1::Event event = UserCreated(std::to_string(100 + i));
      ids.push_back(event.event_id());
      pub.SendAnonymous(event);
    }
    return ids;
  }

  // The next n events the listener receives, by id.
  std::vector<std::string> Receive(std::size_t n) {
    std::vector<std::string> ids;
    while (ids.size() < n) {
      std::optional<RawLiveClient::Message> m = listener_->Next(10s);
      if (!m) break;
      if (!m->is_event()) continue;  // the broker's answers and marks (a few small events never fill the window)
      v1::Event event;
      EXPECT_TRUE(event.ParseFromString(m->frames[1]));
      EXPECT_EQ(m->frames[0], TopicOf(event));
      ids.push_back(event.event_id());
    }
    return ids;
  }

  BrokerProcess broker_{{"--max-event-bytes", std::to_string(kMaxEventBytes)}};
  std::unique_ptr<RawLiveClient> listener_;
  std::unique_ptr<RawPublisher> publisher_;
  std::mt19937 random_{20240601};  // fixed: a failure can be replayed
};

TEST_F(BrokerGarbageTest, BrokerSurvivesGarbageAndDeliversLaterEvents) {
  SendGarbage(*publisher_);
  // A frame far above the limit: ZeroMQ cuts that connection before buffering it.
  std::unique_ptr<RawPublisher> gigantic = ConnectPublisher();
  Send(*gigantic, {"auth.User/post_save", std::string(1 << 20, 'g')});
  std::vector<std::string> sent = SendValid(*publisher_, 5);

  EXPECT_EQ(Receive(sent.size()), sent);
  EXPECT_TRUE(broker_.process().Running());
  // Another publisher, connected after all that, is served too.
  std::unique_ptr<RawPublisher> late = ConnectPublisher();
  std::vector<std::string> more = SendValid(*late, 3);
  EXPECT_EQ(Receive(more.size()), more);
  EXPECT_TRUE(broker_.WaitForMetric("signalbus_live_forwarded_total", 8, 20s));
  EXPECT_EQ(broker_.Metric("signalbus_ingest_accepted_total"), 8);
  EXPECT_TRUE(broker_.process().Running());
}

TEST_F(BrokerGarbageTest, BrokerCountsEachRejectReason) {
  std::map<std::string, int> expected = SendGarbage(*publisher_);
  // Messages of one connection are handled in order: once the sentinel is accepted,
  // every message before it has been counted.
  SendValid(*publisher_, 1);
  ASSERT_TRUE(broker_.WaitForMetric("signalbus_ingest_accepted_total", 1, 20s));
  std::optional<std::string> page = HttpGet(broker_.metrics_url(), "/metrics");
  ASSERT_TRUE(page);
  int total = 0;
  for (const auto& [reason, count] : expected) {
    EXPECT_EQ(MetricValue(*page, Rejected(reason)), count) << reason;
    total += count;
  }
  ASSERT_EQ(expected.size(), 6u);
  EXPECT_EQ(MetricValue(*page, "signalbus_ingest_accepted_total"), 1);
  EXPECT_GT(MetricValue(*page, "signalbus_ingest_bytes_total"), 0);
  EXPECT_TRUE(broker_.process().Running());

  // Each rejection is logged, but a flood is not: a burst, then a count of the rest.
  EXPECT_EQ(broker_.process().Stop(), 0);
  std::string err = broker_.process().Stderr();
  int warned = CountLines(err, "rejected message (");
  EXPECT_GE(warned, 1) << err;
  EXPECT_LT(warned, total) << err;
  EXPECT_NE(err.find("more rejected messages suppressed"), std::string::npos) << err;
  EXPECT_NE(err.find("accepted=1 "), std::string::npos) << err;
  EXPECT_NE(err.find(" rejected=" + std::to_string(total) + " "), std::string::npos) << err;
}

TEST(BrokerLifecycleTest, SigtermAndSigintStopTheBrokerCleanly) {
  for (int signo : {SIGTERM, SIGINT}) {
    BrokerProcess broker;
    ASSERT_TRUE(broker.ready());
    EXPECT_EQ(HttpGet(broker.metrics_url(), "/healthz"), "ok\n");
    broker.process().Signal(signo);
    EXPECT_EQ(broker.process().Wait(10s), 0) << broker.process().Stderr();
    EXPECT_NE(broker.process().Stderr().find("stopped: accepted=0"), std::string::npos);
  }
}

TEST(BrokerLifecycleTest, ReadyLineNamesEveryBoundEndpoint) {
  Process broker("signalbus-broker", {"--groups", "tcp://127.0.0.1:*", "--ingest", "tcp://127.0.0.1:*", "--live", "tcp://127.0.0.1:*", "--metrics",
                                      "off"});
  std::optional<std::string> line = broker.WaitForStdoutLine("ready", 20s);
  ASSERT_TRUE(line) << broker.Stderr();
  EXPECT_EQ(line->rfind("signalbus-broker ready ingest=tcp://127.0.0.1:", 0), 0u) << *line;
  EXPECT_NE(line->find(" live=tcp://127.0.0.1:"), std::string::npos) << *line;
  EXPECT_EQ(line->substr(line->size() - 12), " metrics=off") << *line;
  EXPECT_EQ(CountLines(broker.Stdout(), "\n"), 1);
  EXPECT_EQ(broker.Stop(), 0);
}

void ExpectOneLineError(const RunResult& r, int exit_code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, exit_code) << r.err;
  EXPECT_EQ(CountLines(r.err, "\n"), 1) << r.err;
  EXPECT_EQ(r.err.rfind("signalbus-broker: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(BrokerLifecycleTest, BadFlagsAreOneLineAndExitTwo) {
  ExpectOneLineError(RunToCompletion("signalbus-broker", {"--max-event-bytes", "0"}), 2, "--max-event-bytes");
  ExpectOneLineError(RunToCompletion("signalbus-broker", {"--metrics", "nowhere"}), 2, "nowhere");
  ExpectOneLineError(RunToCompletion("signalbus-broker", {"--live", "tcp://127.0.0.1"}), 2, "tcp://127.0.0.1");
  ExpectOneLineError(RunToCompletion("signalbus-broker", {"--log-level", "loud"}), 2, "loud");
  ExpectOneLineError(RunToCompletion("signalbus-broker", {}, 30s, {.env = {{"SIGNALBUS_INGEST", "nonsense"}}}), 2,
                     "nonsense");
}

TEST(BrokerLifecycleTest, EndpointsInUseAreOneLineAndExitOne) {
  BrokerProcess first;
  ASSERT_TRUE(first.ready());
  ExpectOneLineError(RunToCompletion("signalbus-broker", {"--groups", "tcp://127.0.0.1:*", "--ingest", "tcp://127.0.0.1:*", "--live", first.live(),
                                                          "--metrics", "off", "--data-dir", MakeTempDir("sb-data")}),
                     1, "cannot bind " + first.live() + ": Address already in use");
  std::string metrics_address = first.metrics_url().substr(std::string("http://").size());
  ExpectOneLineError(RunToCompletion("signalbus-broker", {"--groups", "tcp://127.0.0.1:*", "--ingest", "tcp://127.0.0.1:*", "--live",
                                                          "tcp://127.0.0.1:*", "--metrics", metrics_address,
                                                          "--data-dir", MakeTempDir("sb-data")}),
                     1, "cannot bind " + first.metrics_url() + " for metrics: Address already in use");
  EXPECT_TRUE(first.process().Running());
}

}  // namespace
}  // namespace signalbus::testing
