// Starting a broker and reading back the endpoints it chose.
#include "broker_process.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "signalbus/core/event_json.h"
#include "test_curve.h"

namespace signalbus::testing {
namespace {

std::string Field(const std::string& line, const std::string& key) {
  std::size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return "";
  at += key.size() + 2;
  return line.substr(at, line.find(' ', at) - at);
}

}  // namespace

BrokerProcess::BrokerProcess(std::vector<std::string> extra_args) {
  auto given = [&](const std::string& flag) { return std::find(extra_args.begin(), extra_args.end(), flag); };
  std::vector<std::string> args;
  for (const char* flag : {"--ingest", "--live", "--groups"}) {
    if (given(flag) == extra_args.end()) args.insert(args.end(), {flag, "tcp://127.0.0.1:*"});
  }
  if (given("--metrics") == extra_args.end()) args.insert(args.end(), {"--metrics", "127.0.0.1:0"});
  if (auto dir = given("--data-dir"); dir != extra_args.end() && dir + 1 != extra_args.end()) {
    data_dir_ = *(dir + 1);
  } else {
    data_dir_ = MakeTempDir("sb-broker-data");
    args.insert(args.end(), {"--data-dir", data_dir_});
  }
  if (given("--curve-key-file") == extra_args.end() && given("--allow-list") == extra_args.end()) {
    const std::vector<std::string> curve = SuiteCurveBrokerArgs();
    args.insert(args.end(), curve.begin(), curve.end());
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<Process>("signalbus-broker", args);
  auto line = process_->WaitForStdoutLine("signalbus-broker ready", std::chrono::seconds(20));
  if (!line) {
    ADD_FAILURE() << "broker did not become ready; stderr:\n" << process_->Stderr();
    return;
  }
  ready_line_ = *line;
  ingest_ = Field(*line, "ingest");
  ingest_pub_ = Field(*line, "ingest_pub");
  live_ = Field(*line, "live");
  groups_ = Field(*line, "groups");
  metrics_url_ = Field(*line, "metrics");
  ready_ = !ingest_.empty() && !live_.empty() && metrics_url_.rfind("http://", 0) == 0;
  EXPECT_TRUE(ready_) << "unexpected ready line: " << *line;
}

std::string BrokerProcess::ReadyField(const std::string& key) const { return Field(ready_line_, key); }

double BrokerProcess::Metric(const std::string& sample) const {
  auto page = HttpGet(metrics_url_, "/metrics");
  return page ? MetricValue(*page, sample) : -1;
}

bool BrokerProcess::WaitForMetric(const std::string& sample, double value, std::chrono::milliseconds timeout) const {
  return Eventually([&] { return Metric(sample) >= value; }, timeout);
}

std::vector<v1::Event> ReadLog(const BrokerProcess& broker, int count) {
  static int groups = 0;
  RunResult listed = RunToCompletion(
      "signalbus-listen", {"--groups", broker.groups(), "--group", "log-reader-" + std::to_string(++groups),
                           "--start", "earliest", "--count", std::to_string(count)},
      std::chrono::seconds(60));
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  std::vector<v1::Event> events;
  std::size_t start = 0;
  while (start < listed.out.size()) {
    std::size_t end = listed.out.find('\n', start);
    if (end == std::string::npos) end = listed.out.size();
    Result<v1::Event> event = EventFromJson(listed.out.substr(start, end - start));
    EXPECT_TRUE(event.ok()) << event.status().ToString();
    if (event.ok()) events.push_back(*event);
    start = end + 1;
  }
  return events;
}

}  // namespace signalbus::testing
