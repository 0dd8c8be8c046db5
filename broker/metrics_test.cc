// Metrics: counting, and the Prometheus text a scraper reads.
#include "signalbus/broker/metrics.h"

#include <gtest/gtest.h>

#include "process.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::MetricValue;

v1::GroupInfo Group(const std::string& name, std::uint32_t members, std::uint64_t lag, std::uint64_t pending,
                    std::uint64_t dead_lettered, std::uint64_t ack_floor) {
  v1::GroupInfo g;
  g.set_name(name);
  g.set_members(members);
  g.set_lag(lag);
  g.set_pending(pending);
  g.set_dead_lettered(dead_lettered);
  g.set_ack_floor(ack_floor);
  return g;
}

TEST(MetricsTest, RendersEveryCounterWithItsValue) {
  Metrics metrics;
  metrics.CountAccepted();
  metrics.CountAccepted();
  metrics.CountRejected(RejectReason::kBadTopic);
  metrics.CountRejected(RejectReason::kTopicMismatch);
  metrics.CountRejected(RejectReason::kTopicMismatch);
  metrics.AddIngestBytes(1234);
  metrics.live().CountForwarded();
  metrics.live().CountDropped();
  metrics.live().CountRefused(LiveRefusal::kTooManyPatterns, 5);
  metrics.live().SetGauges(/*listeners=*/2, /*subscriptions=*/3, /*unread_bytes=*/700, /*reserved_bytes=*/9000);

  std::string page = metrics.RenderPrometheus();
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_accepted_total"), 2);
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_rejected_total{reason=\"bad_topic\"}"), 1);
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_rejected_total{reason=\"topic_mismatch\"}"), 2);
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_rejected_total{reason=\"frame_count\"}"), 0);
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_bytes_total"), 1234);
  EXPECT_EQ(MetricValue(page, "signalbus_live_forwarded_total"), 1);
  EXPECT_EQ(MetricValue(page, "signalbus_live_dropped_total"), 1);
  EXPECT_EQ(MetricValue(page, "signalbus_live_refused_total{reason=\"too_many_patterns\"}"), 5);
  EXPECT_EQ(MetricValue(page, "signalbus_live_refused_total{reason=\"not_subscribed\"}"), 0);
  EXPECT_EQ(MetricValue(page, "signalbus_live_listeners"), 2);
  EXPECT_EQ(MetricValue(page, "signalbus_live_subscriptions"), 3);
  EXPECT_EQ(MetricValue(page, "signalbus_live_unread_bytes"), 700);
  EXPECT_EQ(MetricValue(page, "signalbus_live_reserved_bytes"), 9000);
  EXPECT_EQ(metrics.Snapshot().rejected_total(), 3u);
}

TEST(MetricsTest, ShowsEveryRejectReasonEvenAtZero) {
  std::string page = Metrics().RenderPrometheus();
  for (RejectReason reason : kAllRejectReasons) {
    EXPECT_EQ(MetricValue(page, std::string(kRejectedMetric) + "{reason=\"" + RejectReasonName(reason) + "\"}"), 0)
        << RejectReasonName(reason);
  }
}

TEST(MetricsTest, DeclaresTypeOfEachMetricOnce) {
  std::string page = Metrics().RenderPrometheus();
  for (const char* line : {"# TYPE signalbus_ingest_accepted_total counter\n",
                           "# TYPE signalbus_ingest_rejected_total counter\n",
                           "# TYPE signalbus_ingest_bytes_total counter\n",
                           "# TYPE signalbus_live_forwarded_total counter\n",
                           "# TYPE signalbus_live_dropped_total counter\n",
                           "# TYPE signalbus_live_refused_total counter\n",
                           "# TYPE signalbus_live_subscriptions gauge\n"}) {
    std::size_t at = page.find(line);
    ASSERT_NE(at, std::string::npos) << line;
    EXPECT_EQ(page.find(line, at + 1), std::string::npos) << line;
  }
  EXPECT_EQ(page.back(), '\n');
}

TEST(MetricsTest, RendersEachGroupsGaugesUnderItsLabel) {
  Metrics metrics;
  v1::GroupInfo creator = Group("profile-creator", 3, 120, 20, 1, 880);
  v1::GroupInfo audit = Group("audit", 0, 1000, 0, 0, 0);
  audit.set_read_error("cannot read the log at offset 1: data_loss: checksum mismatch");
  metrics.SetGroups({creator, audit});
  std::string page = metrics.RenderPrometheus();
  EXPECT_EQ(MetricValue(page, "signalbus_group_members{group=\"profile-creator\"}"), 3);
  EXPECT_EQ(MetricValue(page, "signalbus_group_lag{group=\"profile-creator\"}"), 120);
  EXPECT_EQ(MetricValue(page, "signalbus_group_pending{group=\"profile-creator\"}"), 20);
  EXPECT_EQ(MetricValue(page, "signalbus_group_dead_letters{group=\"profile-creator\"}"), 1);
  EXPECT_EQ(MetricValue(page, "signalbus_group_ack_floor{group=\"profile-creator\"}"), 880);
  EXPECT_EQ(MetricValue(page, "signalbus_group_stalled{group=\"profile-creator\"}"), 0);
  EXPECT_EQ(MetricValue(page, "signalbus_group_members{group=\"audit\"}"), 0);
  EXPECT_EQ(MetricValue(page, "signalbus_group_lag{group=\"audit\"}"), 1000);
  EXPECT_EQ(MetricValue(page, "signalbus_group_stalled{group=\"audit\"}"), 1);
  EXPECT_NE(page.find("# TYPE signalbus_group_lag gauge\n"), std::string::npos);

  metrics.SetGroups({});  // a group that is gone leaves no sample behind
  EXPECT_EQ(MetricValue(metrics.RenderPrometheus(), "signalbus_group_lag{group=\"audit\"}"), -1);
}

TEST(MetricsTest, EscapesQuotesBackslashesAndNewlinesInGroupLabels) {
  Metrics metrics;
  metrics.SetGroups({Group("a\"b\\c\nd", 0, 7, 0, 0, 0)});
  EXPECT_EQ(MetricValue(metrics.RenderPrometheus(), "signalbus_group_lag{group=\"a\\\"b\\\\c\\nd\"}"), 7);
}

}  // namespace
}  // namespace signalbus::broker
