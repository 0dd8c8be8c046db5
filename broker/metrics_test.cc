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

}  // namespace
}  // namespace signalbus::broker
