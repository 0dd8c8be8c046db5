// Metrics: counting, and the Prometheus text a scraper reads.
#include "signalbus/broker/metrics.h"

#include <gtest/gtest.h>

#include "process.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::MetricValue;

TEST(MetricsTest, RendersEveryCounterWithItsValue) {
  Metrics metrics;
  metrics.CountAccepted();
  metrics.CountAccepted();
  metrics.CountRejected(RejectReason::kBadTopic);
  metrics.CountRejected(RejectReason::kTopicMismatch);
  metrics.CountRejected(RejectReason::kTopicMismatch);
  metrics.AddIngestBytes(1234);
  metrics.CountLiveForwarded();
  metrics.SetLiveSubscriptions(3);

  std::string page = metrics.RenderPrometheus();
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_accepted_total"), 2);
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_rejected_total{reason=\"bad_topic\"}"), 1);
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_rejected_total{reason=\"topic_mismatch\"}"), 2);
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_rejected_total{reason=\"frame_count\"}"), 0);
  EXPECT_EQ(MetricValue(page, "signalbus_ingest_bytes_total"), 1234);
  EXPECT_EQ(MetricValue(page, "signalbus_live_forwarded_total"), 1);
  EXPECT_EQ(MetricValue(page, "signalbus_live_subscriptions"), 3);
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
                           "# TYPE signalbus_live_subscriptions gauge\n"}) {
    std::size_t at = page.find(line);
    ASSERT_NE(at, std::string::npos) << line;
    EXPECT_EQ(page.find(line, at + 1), std::string::npos) << line;
  }
  EXPECT_EQ(page.back(), '\n');
}

TEST(MetricsTest, RendersEachGroupsGaugesUnderItsLabel) {
  Metrics metrics;
  metrics.SetGroupGauges({
      GroupGauges{.name = "profile-creator", .members = 3, .lag = 120, .pending = 20, .dead_letters = 1,
                  .ack_floor = 880, .stalled = false},
      GroupGauges{.name = "audit", .members = 0, .lag = 1000, .ack_floor = 0, .stalled = true},
  });
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

  metrics.SetGroupGauges({});  // a group that is gone leaves no sample behind
  EXPECT_EQ(MetricValue(metrics.RenderPrometheus(), "signalbus_group_lag{group=\"audit\"}"), -1);
}

TEST(MetricsTest, EscapesQuotesBackslashesAndNewlinesInGroupLabels) {
  Metrics metrics;
  metrics.SetGroupGauges({GroupGauges{.name = "a\"b\\c\nd", .lag = 7}});
  EXPECT_EQ(MetricValue(metrics.RenderPrometheus(), "signalbus_group_lag{group=\"a\\\"b\\\\c\\nd\"}"), 7);
}

}  // namespace
}  // namespace signalbus::broker
