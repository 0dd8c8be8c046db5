// Ingest over a real loopback socket: it subscribes publishers, reads whole messages
// however many frames they have, and routes each to the sink or the reject handler.
#include "signalbus/broker/ingest.h"

#include <chrono>
#include <string>
#include <vector>

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

struct RecordingSink : EventSink {
  void Accept(const AcceptedEvent& event) override {
    topics.emplace_back(event.topic_view());
    fields.push_back(event.fields);
  }
  std::vector<std::string> topics;
  std::vector<EventFields> fields;
};

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ingest_ = std::make_unique<Ingest>(
        SharedContext(), IngestOptions{"tcp://127.0.0.1:*", 4096}, metrics_, sink_,
        [this](const Rejection& r, std::string_view topic, std::string_view) {
          rejected_.push_back(r.reason);
          rejected_topics_.emplace_back(topic);
        });
    ASSERT_TRUE(ingest_->Bind().ok());
  }

  // A raw publisher: an XPUB, so the test can see ingest's subscription arrive.
  zmq::socket_t ConnectPublisher() {
    zmq::socket_t pub = MakeSocket(SharedContext(), zmq::socket_type::xpub);
    EXPECT_TRUE(Connect(pub, ingest_->endpoint()).ok());
    // The bind side attaches a new connection when its own thread next uses the
    // socket, as the broker's poll loop does; Drain() plays that part here.
    zmq::message_t subscription;
    EXPECT_TRUE(Eventually(
        [&] {
          handled_ += ingest_->Drain(1000);
          return pub.recv(subscription, zmq::recv_flags::dontwait).has_value();
        },
        5s));
    EXPECT_EQ(subscription.to_string(), std::string("\x01", 1));
    return pub;
  }

  static void SendFrames(zmq::socket_t& socket, const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      ASSERT_TRUE(socket.send(zmq::buffer(frames[i]), flags));
    }
  }

  bool DrainUntilHandled(std::size_t n) {
    return Eventually(
        [&] {
          handled_ += ingest_->Drain(1000);
          return handled_ >= n;
        },
        5s);
  }

  void TearDown() override { ingest_->Close(); }

  Metrics metrics_;
  RecordingSink sink_;
  std::unique_ptr<Ingest> ingest_;
  std::vector<RejectReason> rejected_;
  std::vector<std::string> rejected_topics_;
  std::size_t handled_ = 0;
};

TEST_F(IngestTest, SubscribesEveryPublisherToEverything) {
  zmq::socket_t first = ConnectPublisher();
  zmq::socket_t second = ConnectPublisher();  // connected after the subscription was sent
}

TEST_F(IngestTest, PassesValidEventToSinkAndCountsIt) {
  zmq::socket_t pub = ConnectPublisher();
  v1::Event event = UserCreated("42");
  std::string bytes = EncodeEvent(event);
  SendFrames(pub, {TopicOf(event), bytes});
  ASSERT_TRUE(DrainUntilHandled(1));
  ASSERT_EQ(sink_.topics.size(), 1u);
  EXPECT_EQ(sink_.topics[0], "auth.User/post_save");
  EXPECT_EQ(sink_.fields[0].event_id, event.event_id());
  EXPECT_EQ(sink_.fields[0].ordering_key, "auth.User:42");
  MetricsSnapshot s = metrics_.Snapshot();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.rejected_total(), 0u);
  EXPECT_EQ(s.ingest_bytes, TopicOf(event).size() + bytes.size());
}

TEST_F(IngestTest, ReadsManyFrameMessageWholeAndRejectsIt) {
  zmq::socket_t pub = ConnectPublisher();
  std::vector<std::string> frames(1000, std::string(10, 'x'));
  frames[0] = "first";
  SendFrames(pub, frames);
  v1::Event event = UserCreated("1");
  SendFrames(pub, {TopicOf(event), EncodeEvent(event)});
  ASSERT_TRUE(DrainUntilHandled(2));
  // The next message starts cleanly after all 1000 frames of the bad one.
  EXPECT_EQ(rejected_, std::vector<RejectReason>{RejectReason::kFrameCount});
  EXPECT_EQ(rejected_topics_, std::vector<std::string>{"first"});
  EXPECT_EQ(sink_.topics, std::vector<std::string>{"auth.User/post_save"});
  EXPECT_EQ(metrics_.Snapshot().rejected[RejectReasonIndex(RejectReason::kFrameCount)], 1u);
}

TEST_F(IngestTest, RejectsSingleFrameAndOversizedMessages) {
  zmq::socket_t pub = ConnectPublisher();
  SendFrames(pub, {"lonely"});
  SendFrames(pub, {"auth.User/post_save", std::string(4097, 'x')});
  ASSERT_TRUE(DrainUntilHandled(2));
  EXPECT_EQ(rejected_, (std::vector<RejectReason>{RejectReason::kFrameCount, RejectReason::kOversized}));
  EXPECT_TRUE(sink_.topics.empty());
}

TEST_F(IngestTest, CapsFramesFarAboveTheEventLimit) {
  EXPECT_GT(IngestFrameCap(4096), 2 * 4096);
  EXPECT_GT(IngestFrameCap(kDefaultMaxEventBytes), static_cast<std::int64_t>(2 * kDefaultMaxEventBytes));
}

TEST_F(IngestTest, GiganticFrameCostsOnlyThatConnection) {
  zmq::socket_t bad = ConnectPublisher();
  SendFrames(bad, {"auth.User/post_save", std::string(static_cast<std::size_t>(IngestFrameCap(4096)) + 1, 'x')});
  // ZeroMQ drops the connection; a well-behaved publisher is still served.
  zmq::socket_t good = ConnectPublisher();
  v1::Event event = UserCreated("7");
  SendFrames(good, {TopicOf(event), EncodeEvent(event)});
  ASSERT_TRUE(DrainUntilHandled(1));
  EXPECT_EQ(sink_.topics, std::vector<std::string>{"auth.User/post_save"});
  EXPECT_TRUE(rejected_.empty());
}

}  // namespace
}  // namespace signalbus::broker
