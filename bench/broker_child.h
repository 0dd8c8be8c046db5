// The real signalbus-broker as a child of a benchmark: a fresh --data-dir, ephemeral
// loopback ports read back from its ready line, stopped by pid and its directory
// removed at the end.
#pragma once

#include <memory>
#include <string>

#include "child_process.h"

namespace signalbus::bench {

class BrokerChild {
 public:
  // Starts `broker_path` with --fsync `fsync` and a new data directory under
  // `base_dir`, its sockets on ephemeral loopback TCP ports or (`ipc`) as ipc://
  // sockets in that directory; its log (stderr) goes to <base_dir>/broker.log. nullptr,
  // with *error set, if it did not print its ready line.
  static std::unique_ptr<BrokerChild> Start(const std::string& broker_path, const std::string& base_dir,
                                            const std::string& fsync, bool ipc, std::string* error);
  ~BrokerChild();  // SIGTERM (a clean stop), then removes the data directory

  const std::string& ingest() const { return ingest_; }
  const std::string& groups() const { return groups_; }
  // CPU seconds the broker process has used so far.
  double CpuSeconds() const { return process_->CpuSeconds(); }

 private:
  BrokerChild() = default;

  std::unique_ptr<ChildProcess> process_;
  std::string data_dir_;
  std::string ingest_;
  std::string groups_;
};

}  // namespace signalbus::bench
