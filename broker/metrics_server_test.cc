// MetricsServer: address parsing, the two endpoints, and a clear error for a busy port.
#include "signalbus/broker/metrics_server.h"

#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include "process.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::HttpGet;
using ::signalbus::testing::MetricValue;

TEST(MetricsAddressTest, ParsesHostAndPort) {
  Result<MetricsAddress> a = ParseMetricsAddress("127.0.0.1:5558");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5558);
  Result<MetricsAddress> any = ParseMetricsAddress("0.0.0.0:0");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->port, 0);
  Result<MetricsAddress> v6 = ParseMetricsAddress("[::1]:9100");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
}

TEST(MetricsAddressTest, RejectsAddressesWithoutAUsablePort) {
  for (const char* text : {"", "localhost", ":5558", "localhost:", "localhost:http", "localhost:65536",
                           "localhost:123456", "off"}) {
    Result<MetricsAddress> a = ParseMetricsAddress(text);
    EXPECT_FALSE(a.ok()) << text;
    if (!a.ok()) {
      EXPECT_NE(a.status().message().find("host:port"), std::string::npos);
    }
  }
}

class MetricsServerTest : public ::testing::Test {
 protected:
  Metrics metrics_;
  MetricsServer server_{metrics_};
};

TEST_F(MetricsServerTest, ServesPrometheusTextOnAnEphemeralPort) {
  ASSERT_TRUE(server_.Start({"127.0.0.1", 0}).ok());
  ASSERT_GT(server_.port(), 0);
  EXPECT_EQ(server_.url(), "http://127.0.0.1:" + std::to_string(server_.port()));
  metrics_.CountAccepted();
  httplib::Client client(server_.url());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(MetricValue(response->body, kAcceptedMetric), 1);
}

TEST_F(MetricsServerTest, AnswersHealthCheck) {
  ASSERT_TRUE(server_.Start({"127.0.0.1", 0}).ok());
  EXPECT_EQ(HttpGet(server_.url(), "/healthz"), "ok\n");
  EXPECT_EQ(HttpGet(server_.url(), "/nothing-here"), std::nullopt);
}

TEST_F(MetricsServerTest, ReportsPortInUse) {
  ASSERT_TRUE(server_.Start({"127.0.0.1", 0}).ok());
  Metrics other_metrics;
  MetricsServer other(other_metrics);
  Status s = other.Start({"127.0.0.1", server_.port()});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot bind http://127.0.0.1:" + std::to_string(server_.port())), std::string::npos)
      << s.message();
}

TEST_F(MetricsServerTest, StopsPromptlyAndTwice) {
  ASSERT_TRUE(server_.Start({"127.0.0.1", 0}).ok());
  std::string url = server_.url();
  server_.Stop();
  server_.Stop();
  EXPECT_EQ(HttpGet(url, "/healthz"), std::nullopt);
}

}  // namespace
}  // namespace signalbus::broker
