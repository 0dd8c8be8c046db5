// Ingest over a real loopback socket: it reads whole messages however many frames they
// have, tells probes, hellos and events apart, names the connection each came on, and
// answers one connection only.
#include "signalbus/broker/ingest.h"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/ingest_protocol.h"
#include "signalbus/core/sockets.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::Eventually;
using ::signalbus::testing::UserCreated;
using namespace std::chrono_literals;

struct Recorder : IngestHandler {
  void OnProbe(std::string_view peer) override { probes.emplace_back(peer); }
  void OnHello(std::string_view peer, std::string_view hello) override {
    hellos.emplace_back(hello);
    peers.emplace_back(peer);
  }
  void OnEvent(std::string_view peer, AcceptedEvent& event) override {
    topics.emplace_back(event.topic_view());
    fields.push_back(event.fields);
    peers.emplace_back(peer);
  }
  void OnRejected(std::string_view peer, const Rejection& r, std::string_view topic, std::string_view) override {
    rejected.push_back(r.reason);
    rejected_topics.emplace_back(topic);
  }
  std::vector<std::string> probes, hellos, topics, peers, rejected_topics;
  std::vector<EventFields> fields;
  std::vector<RejectReason> rejected;
};

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ingest_ = std::make_unique<Ingest>(SharedContext(), IngestOptions{.endpoint = "tcp://127.0.0.1:*",
                                                                      .max_event_bytes = 4096},
                                       metrics_, recorder_);
    ASSERT_TRUE(ingest_->Bind().ok());
  }

  // A raw publisher: a DEALER that announces its connection (as signalbus's do), so the
  // test knows its routing id once the probe is read.
  zmq::socket_t ConnectPublisher(std::string* peer = nullptr) {
    zmq::socket_t dealer = MakeSocket(SharedContext(), zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::probe_router, 1);
    EXPECT_TRUE(Connect(dealer, ingest_->endpoint()).ok());
    std::size_t before = recorder_.probes.size();
    EXPECT_TRUE(DrainUntil([&] { return recorder_.probes.size() > before; }));
    if (peer != nullptr && recorder_.probes.size() > before) *peer = recorder_.probes.back();
    return dealer;
  }

  static void SendFrames(zmq::socket_t& socket, const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      ASSERT_TRUE(socket.send(zmq::buffer(frames[i]), flags));
    }
  }

  bool DrainUntil(const std::function<bool()>& done) {
    return Eventually(
        [&] {
          handled_ += ingest_->Drain(1000);
          return done();
        },
        5s);
  }
  bool DrainUntilHandled(std::size_t n) {
    return DrainUntil([&] { return handled_ >= n; });
  }

  void TearDown() override { ingest_->Close(); }

  Metrics metrics_;
  Recorder recorder_;
  std::unique_ptr<Ingest> ingest_;
  std::size_t handled_ = 0;
};

TEST_F(IngestTest, PassesAValidEventToTheHandlerWithItsConnectionAndCountsIt) {
  std::string peer;
  zmq::socket_t pub = ConnectPublisher(&peer);
  v1::Event event = UserCreated("42");
  std::string bytes = EncodeEvent(event);
  SendFrames(pub, {TopicOf(event), bytes});
  ASSERT_TRUE(DrainUntil([&] { return !recorder_.topics.empty(); }));
  EXPECT_EQ(recorder_.topics[0], "auth.User/post_save");
  EXPECT_EQ(recorder_.peers[0], peer);
  EXPECT_EQ(recorder_.fields[0].event_id, event.event_id());
  EXPECT_EQ(recorder_.fields[0].ordering_key, "auth.User:42");
  MetricsSnapshot s = metrics_.Snapshot();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.rejected_total(), 0u);
  EXPECT_EQ(s.ingest_bytes, TopicOf(event).size() + bytes.size());
}

TEST_F(IngestTest, TellsAHelloFromAnEventAndAnswersOnlyTheConnectionItCameOn) {
  std::string a_peer, b_peer;
  zmq::socket_t a = ConnectPublisher(&a_peer);
  zmq::socket_t b = ConnectPublisher(&b_peer);
  ASSERT_NE(a_peer, b_peer);
  SendFrames(a, {std::string(kHelloKind), "hello-bytes"});
  ASSERT_TRUE(DrainUntil([&] { return !recorder_.hellos.empty(); }));
  EXPECT_EQ(recorder_.hellos[0], "hello-bytes");
  EXPECT_EQ(recorder_.peers[0], a_peer);
  ingest_->Send(a_peer, kSessionKind, "for a");
  zmq::message_t kind, body;
  ASSERT_TRUE(Eventually([&] { return a.recv(kind, zmq::recv_flags::dontwait).has_value(); }, 5s));
  ASSERT_TRUE(a.recv(body, zmq::recv_flags::dontwait).has_value());
  EXPECT_EQ(kind.to_string(), kSessionKind);
  EXPECT_EQ(body.to_string(), "for a");
  EXPECT_FALSE(b.recv(kind, zmq::recv_flags::dontwait).has_value()) << "another connection got it";
  // A connection that is gone costs nothing.
  ingest_->Send("no such peer", kConfirmKind, "x");
}

TEST_F(IngestTest, ReadsAManyFrameMessageWholeAndRejectsIt) {
  zmq::socket_t pub = ConnectPublisher();
  std::vector<std::string> frames(1000, std::string(10, 'x'));
  frames[0] = "first";
  SendFrames(pub, frames);
  v1::Event event = UserCreated("1");
  SendFrames(pub, {TopicOf(event), EncodeEvent(event)});
  ASSERT_TRUE(DrainUntil([&] { return !recorder_.topics.empty(); }));
  // The next message starts cleanly after all 1000 frames of the bad one.
  EXPECT_EQ(recorder_.rejected, std::vector<RejectReason>{RejectReason::kFrameCount});
  EXPECT_EQ(recorder_.rejected_topics, std::vector<std::string>{"first"});
  EXPECT_EQ(recorder_.topics, std::vector<std::string>{"auth.User/post_save"});
  EXPECT_EQ(metrics_.Snapshot().rejected[RejectReasonIndex(RejectReason::kFrameCount)], 1u);
}

TEST_F(IngestTest, RejectsSingleFrameAndOversizedMessages) {
  zmq::socket_t pub = ConnectPublisher();
  SendFrames(pub, {"lonely"});
  SendFrames(pub, {"auth.User/post_save", std::string(4097, 'x')});
  ASSERT_TRUE(DrainUntil([&] { return recorder_.rejected.size() == 2; }));
  EXPECT_EQ(recorder_.rejected, (std::vector<RejectReason>{RejectReason::kFrameCount, RejectReason::kOversized}));
  EXPECT_TRUE(recorder_.topics.empty());
}

TEST_F(IngestTest, CapsFramesAboveTheEventLimit) {
  EXPECT_GT(IngestFrameCap(4096), 4096);
  EXPECT_LE(IngestFrameCap(kDefaultMaxEventBytes), static_cast<std::int64_t>(kDefaultMaxEventBytes) + 65536);
}

TEST_F(IngestTest, AGiganticFrameCostsOnlyThatConnection) {
  zmq::socket_t bad = ConnectPublisher();
  SendFrames(bad, {"auth.User/post_save", std::string(static_cast<std::size_t>(IngestFrameCap(4096)) + 1, 'x')});
  // ZeroMQ drops the connection; a well-behaved publisher is still served.
  zmq::socket_t good = ConnectPublisher();
  v1::Event event = UserCreated("7");
  SendFrames(good, {TopicOf(event), EncodeEvent(event)});
  ASSERT_TRUE(DrainUntil([&] { return !recorder_.topics.empty(); }));
  EXPECT_EQ(recorder_.topics, std::vector<std::string>{"auth.User/post_save"});
  EXPECT_TRUE(recorder_.rejected.empty());
}

}  // namespace
}  // namespace signalbus::broker
