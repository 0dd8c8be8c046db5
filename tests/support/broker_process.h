// A real signalbus-broker on ephemeral loopback ports, for integration tests: started,
// its ready line parsed for the endpoints it bound, stopped by pid at the end.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "process.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus::testing {

class BrokerProcess {
 public:
  // Binds ephemeral loopback ports and uses a fresh temporary --data-dir, except for
  // the endpoints and directory that extra_args name (a restart on the same ones).
  explicit BrokerProcess(std::vector<std::string> extra_args = {});
  bool ready() const { return ready_; }
  const std::string& ingest() const { return ingest_; }
  // The plain-PUB endpoint when started with --ingest-pub; else empty.
  const std::string& ingest_pub() const { return ingest_pub_; }
  const std::string& live() const { return live_; }
  const std::string& groups() const { return groups_; }
  const std::string& metrics_url() const { return metrics_url_; }
  const std::string& data_dir() const { return data_dir_; }
  // Any key=value of the ready line (e.g. "ingest_next" while the broker key is rotated);
  // "" when absent.
  std::string ReadyField(const std::string& key) const;
  Process& process() { return *process_; }
  // A sample from /metrics, or -1 when it cannot be read.
  double Metric(const std::string& sample) const;
  // Waits until the metric is at least `value`.
  bool WaitForMetric(const std::string& sample, double value, std::chrono::milliseconds timeout) const;

 private:
  std::unique_ptr<Process> process_;
  bool ready_ = false;
  std::string ingest_;
  std::string ingest_pub_;
  std::string live_;
  std::string groups_;
  std::string metrics_url_;
  std::string ready_line_;
  std::string data_dir_;
};

// Every event in the broker's log, in log order: `count` of them, read by signalbus-listen
// in a consumer group of its own that starts at the earliest offset.
std::vector<v1::Event> ReadLog(const BrokerProcess& broker, int count);

}  // namespace signalbus::testing
