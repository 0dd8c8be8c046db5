// What one ingest peer can make the real broker hold, while a real publisher
// (signalbus-publish) and a real consumer group (signalbus-audit) are served beside it:
// events with 900 KB publisher ids are refused and leave nothing behind; hellos for ever
// new publisher ids stop at --max-publishers; a message of many frames is counted and
// costs what ZeroMQ buffered of it, no more. Each figure is printed for the record.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "ndjson_events.h"
#include "proc_stats.h"
#include "process.h"
#include "raw_publisher.h"
#include "sample_events.h"
#include "signalbus/core/event_id.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

class IngestLimitsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args) {
    broker_ = std::make_unique<BrokerProcess>(std::move(args));
    ASSERT_TRUE(broker_->ready());
    audit_ = std::make_unique<Process>("signalbus-audit", std::vector<std::string>{
                                                              "--file", dir_ + "/audit.ndjson", "--groups",
                                                              broker_->groups(), "--start", "earliest"});
    ASSERT_TRUE(broker_->WaitForMetric("signalbus_group_members{group=\"audit\"}", 1, 20s)) << audit_->Stderr();
    // Warm every path an event takes before the baseline.
    Publish(1, 200);
    baseline_ = Rss();
  }
  std::uint64_t Rss() { return ResidentBytes(broker_->process().pid()).value_or(0); }
  // A real publisher's users [first, first + count), all confirmed, and all seen by the group.
  void Publish(int first, int count) {
    std::string file = WriteUsersCreated(dir_ + "/users-" + std::to_string(first) + ".ndjson", first, count);
    RunResult r = RunToCompletion("signalbus-publish", {"--broker", broker_->ingest(), "--ndjson", file});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    published_ += count;
    ASSERT_TRUE(broker_->WaitForMetric("signalbus_group_acked_total", published_, 20s)) << audit_->Stderr();
  }
  void Report(const char* what, std::uint64_t peak, std::uint64_t bound) {
    std::printf("%s: broker RSS baseline %.1f MiB, peak %.1f MiB, bound %.1f MiB\n", what,
                static_cast<double>(baseline_) / kMiB, static_cast<double>(peak) / kMiB,
                static_cast<double>(bound) / kMiB);
  }

  std::string dir_ = MakeTempDir("sb-ingest-limits");
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<Process> audit_;
  std::uint64_t baseline_ = 0;
  double published_ = 0;
};

TEST_F(IngestLimitsTest, EventsWithHugePublisherIdsAreRefusedAndLeaveNothingBehind) {
  Start({});
  RawPublisher raw(broker_->ingest());
  std::uint64_t peak = baseline_;
  for (int i = 0; i < 300; ++i) {
    v1::Event e = UserCreated(std::to_string(i));
    e.set_publisher_id(std::string(900 * 1024, 'p'));
    e.set_sequence(1);
    raw.Send(e);
    if (i % 50 == 49) peak = std::max(peak, Rss());
  }
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_ingest_rejected_total{reason=\"invalid_event\"}", 300, 30s));
  Publish(1000, 200);
  peak = std::max(peak, Rss());
  EXPECT_EQ(broker_->Metric("signalbus_publishers"), 2);  // the two signalbus-publish runs only
  // What ZeroMQ reads ahead of the broker (its queue, 1,000 messages by default) is the
  // most those 270 MB can hold at once; the broker keeps nothing of them.
  const std::uint64_t bound = baseline_ + 64 * kMiB;
  Report("300 events with 900 KB publisher ids", peak, bound);
  EXPECT_LE(peak, bound);
}

TEST_F(IngestLimitsTest, HellosForEverNewPublisherIdsStopAtMaxPublishers) {
  Start({"--max-publishers", "1000"});
  std::uint64_t peak = baseline_;
  int opened = 0, refused = 0;
  // A new connection for each id, gone right after its hello (the broker is not told).
  for (int i = 0; i < 1200; ++i) {
    RawPublisher raw(broker_->ingest());
    auto reply = raw.Hello("flood-" + std::to_string(i) + "-" + std::string(100, 'x'), 1, 1);
    ASSERT_TRUE(reply);
    opened += reply->state() == v1::SessionReply::OPEN;
    refused += reply->state() == v1::SessionReply::REFUSED && reply->reason() == "too_many_publishers";
    if (i % 200 == 199) peak = std::max(peak, Rss());
  }
  // One publisher id is the warm-up run's.
  EXPECT_EQ(opened, 999);
  EXPECT_EQ(refused, 201);
  EXPECT_EQ(broker_->Metric("signalbus_publishers"), 1000);
  EXPECT_EQ(broker_->Metric("signalbus_ingest_refused_total{reason=\"too_many_publishers\"}"), 201);
  const std::uint64_t bound = baseline_ + 16 * kMiB;
  Report("1,200 hellos for new publisher ids (--max-publishers 1000)", peak, bound);
  EXPECT_LE(peak, bound);
}

TEST_F(IngestLimitsTest, PublisherIdsBeyondTheCapAreRefusedWhileTheTableIsFull) {
  Start({"--max-publishers", "3"});  // the warm-up run holds one
  std::vector<std::unique_ptr<RawPublisher>> connections;
  std::vector<v1::SessionReply::State> states;
  for (int i = 0; i < 4; ++i) {
    connections.push_back(std::make_unique<RawPublisher>(broker_->ingest()));
    auto reply = connections.back()->Hello("capped-" + std::to_string(i), 1, 1);
    ASSERT_TRUE(reply);
    states.push_back(reply->state());
  }
  EXPECT_EQ(states, (std::vector<v1::SessionReply::State>{v1::SessionReply::OPEN, v1::SessionReply::OPEN,
                                                          v1::SessionReply::REFUSED, v1::SessionReply::REFUSED}));
  EXPECT_EQ(broker_->Metric("signalbus_ingest_refused_total{reason=\"too_many_publishers\"}"), 2);
  // A real publisher is refused clearly too: signalbus-publish exits 1 naming the limit.
  RunResult r = RunToCompletion("signalbus-publish",
                                {"--broker", broker_->ingest(), "post_save", "auth.User", "--pk", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("too_many_publishers"), std::string::npos) << r.err;
}

TEST_F(IngestLimitsTest, AMessageOfManyFramesIsCountedAndCostsOnlyWhatZeroMqBufferedOfIt) {
  Start({});
  constexpr int kFrames = 200'000;
  RawPublisher raw(broker_->ingest());
  std::vector<std::string> frames(kFrames, std::string(16, 'f'));
  frames[0] = "auth.User/post_save";
  raw.SendFrames(frames);
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_ingest_rejected_total{reason=\"frame_count\"}", 1, 30s));
  const std::uint64_t peak = PeakResidentBytes(broker_->process().pid()).value_or(0);
  Publish(1000, 200);
  // ZeroMQ holds a multipart message whole before the broker sees a frame (~64 bytes a
  // frame besides its bytes); the broker releases them one at a time. Nothing the broker
  // can set bounds the frames of one message (docs/wire-protocol.md).
  const std::uint64_t bound = baseline_ + kFrames * 256ULL + 32 * kMiB;
  Report("one message of 200,000 frames", peak, bound);
  EXPECT_LE(peak, bound);
  EXPECT_EQ(broker_->Metric("signalbus_ingest_rejected_total{reason=\"frame_count\"}"), 1);
}

}  // namespace
}  // namespace signalbus::testing
