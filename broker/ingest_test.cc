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
#include "signalbus/v1/publish.pb.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::Eventually;
using ::signalbus::testing::UserCreated;
using namespace std::chrono_literals;

struct Recorder : IngestHandler {
  void OnProbe(std::string_view peer) override { probes.emplace_back(peer); }
  void OnHello(std::string_view peer, std::string_view hello, const Peer&) override {
    hellos.emplace_back(hello);
    peers.emplace_back(peer);
  }
  void OnEvent(std::string_view peer, AcceptedEvent& event) override {
    topics.emplace_back(event.topic_view());
    fields.push_back(event.fields);
    peers.emplace_back(peer);
  }
  void OnBatch(std::string_view, bool atomic, std::vector<BatchItem>& items) override {
    batches.emplace_back();
    batch_atomic.push_back(atomic);
    for (BatchItem& item : items) {
      batches.back().push_back(item.rejection ? std::string(RejectReasonName(item.rejection->reason))
                                              : "ok:" + std::to_string(item.event.fields.sequence));
    }
  }
  void OnRejected(std::string_view peer, const Rejection& r, std::string_view topic, std::string_view) override {
    rejected.push_back(r.reason);
    rejected_topics.emplace_back(topic);
  }
  std::vector<std::string> probes, hellos, topics, peers, rejected_topics;
  std::vector<EventFields> fields;
  std::vector<RejectReason> rejected;
  std::vector<std::vector<std::string>> batches;  // per item: "ok:<sequence>" or its reason
  std::vector<bool> batch_atomic;
};

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ingest_ = std::make_unique<Ingest>(SharedContext(), IngestOptions{.endpoint = "tcp://127.0.0.1:*",
                                                                      .max_event_bytes = 4096},
                                       metrics_, access_, recorder_);
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

  // ["$batch", header, topic, event, ...] of events sequenced `sequences` (0: invalid).
  static std::vector<std::string> BatchFrames(const std::vector<std::uint64_t>& sequences, bool atomic,
                                              int count = -1) {
    v1::BatchHeader header;
    header.set_count(count < 0 ? static_cast<std::uint32_t>(sequences.size()) : static_cast<std::uint32_t>(count));
    header.set_atomic(atomic);
    std::vector<std::string> frames{std::string(kBatchKind), header.SerializeAsString()};
    for (std::uint64_t sequence : sequences) {
      v1::Event event = UserCreated(std::to_string(sequence));
      event.set_publisher_id("p-1");
      event.set_sequence(sequence);
      frames.push_back(TopicOf(event));
      frames.push_back(sequence == 0 ? std::string("not protobuf") : EncodeEvent(event));
    }
    return frames;
  }

  Metrics metrics_;
  AccessControl access_{metrics_};
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

TEST_F(IngestTest, ABatchComesAsItsEventsInOrderEachJudgedAlone) {
  zmq::socket_t pub = ConnectPublisher();
  SendFrames(pub, BatchFrames({5, 6, 0, 8}, /*atomic=*/false));
  ASSERT_TRUE(DrainUntil([&] { return !recorder_.batches.empty(); }));
  EXPECT_EQ(recorder_.batches[0], (std::vector<std::string>{"ok:5", "ok:6", "undecodable", "ok:8"}));
  EXPECT_FALSE(recorder_.batch_atomic[0]);
  MetricsSnapshot m = metrics_.Snapshot();
  EXPECT_EQ(m.accepted, 3u);
  EXPECT_EQ(m.rejected[RejectReasonIndex(RejectReason::kUndecodable)], 1u);
}

TEST_F(IngestTest, AnAtomicBatchWithOneInvalidEventIsRejectedWhole) {
  zmq::socket_t pub = ConnectPublisher();
  SendFrames(pub, BatchFrames({5, 6, 7}, /*atomic=*/true));
  SendFrames(pub, BatchFrames({8, 0, 10}, /*atomic=*/true));
  ASSERT_TRUE(DrainUntil([&] { return recorder_.batches.size() == 2; }));
  EXPECT_EQ(recorder_.batches[0], (std::vector<std::string>{"ok:5", "ok:6", "ok:7"}));
  EXPECT_EQ(recorder_.batches[1], (std::vector<std::string>{"atomic_batch", "undecodable", "atomic_batch"}));
  EXPECT_EQ(metrics_.Snapshot().rejected[RejectReasonIndex(RejectReason::kAtomicBatch)], 2u);
}

TEST_F(IngestTest, AnAtomicBatchMustBeConsecutiveSequencesOfOnePublisher) {
  zmq::socket_t pub = ConnectPublisher();
  SendFrames(pub, BatchFrames({5, 7}, /*atomic=*/true));
  ASSERT_TRUE(DrainUntil([&] { return !recorder_.batches.empty(); }));
  EXPECT_EQ(recorder_.batches[0], (std::vector<std::string>{"bad_batch", "bad_batch"}));
}

TEST_F(IngestTest, BrokenBatchesAreRefusedWholeAndTheConnectionGoesOn) {
  std::string peer;
  zmq::socket_t pub = ConnectPublisher(&peer);
  SendFrames(pub, {std::string(kBatchKind)});                        // no header
  SendFrames(pub, {std::string(kBatchKind), "\xff\xff"});            // undecodable header
  SendFrames(pub, BatchFrames({1, 2}, false, /*count=*/3));          // count mismatch
  std::vector<std::string> unpaired = BatchFrames({1}, false);
  unpaired.push_back("auth.User/post_save");                         // a topic without its event
  SendFrames(pub, unpaired);
  ASSERT_TRUE(DrainUntilHandled(5));
  EXPECT_TRUE(recorder_.batches.empty());
  EXPECT_EQ(metrics_.Snapshot().rejected[RejectReasonIndex(RejectReason::kBadBatch)], 2u + 2u + 1u);
  SendFrames(pub, BatchFrames({1}, false));
  ASSERT_TRUE(DrainUntil([&] { return !recorder_.batches.empty(); }));
  EXPECT_EQ(recorder_.batches[0], (std::vector<std::string>{"ok:1"}));
}

TEST_F(IngestTest, ABatchOverItsLimitsIsRefusedHoldingNoMoreThanTheLimit) {
  ingest_->Close();
  ingest_ = std::make_unique<Ingest>(SharedContext(),
                                     IngestOptions{.endpoint = "tcp://127.0.0.1:*", .max_event_bytes = 4096,
                                                   .max_batch_events = 3},
                                     metrics_, access_, recorder_);
  ASSERT_TRUE(ingest_->Bind().ok());
  zmq::socket_t pub = ConnectPublisher();
  SendFrames(pub, BatchFrames({1, 2, 3, 4, 5}, false));
  ASSERT_TRUE(DrainUntil([&] { return recorder_.rejected.size() == 3; }));
  EXPECT_TRUE(recorder_.batches.empty());
  for (RejectReason r : recorder_.rejected) EXPECT_EQ(r, RejectReason::kBadBatch);
}

}  // namespace
}  // namespace signalbus::broker
