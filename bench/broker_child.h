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
  // Starts it on an existing (or new) `data_dir`, which is kept when it stops; its log
  // goes to <base_dir>/broker.log. Loopback TCP, ephemeral ports.
  static std::unique_ptr<BrokerChild> StartOn(const std::string& broker_path, const std::string& data_dir,
                                              const std::string& base_dir, const std::string& fsync,
                                              std::string* error);
  ~BrokerChild();  // SIGTERM (a clean stop), then removes the data directory (not StartOn's)

  const std::string& ingest() const { return ingest_; }
  const std::string& live() const { return live_; }
  const std::string& groups() const { return groups_; }
  // CPU seconds the broker process has used so far.
  double CpuSeconds() const { return process_->CpuSeconds(); }
  // Resident and peak resident memory of the broker process now, KiB.
  long RssKib() const { return process_->StatusKib("VmRSS"); }
  long PeakRssKib() const { return process_->StatusKib("VmHWM"); }
  // Seconds from spawning it to its ready line.
  double ready_seconds() const { return ready_seconds_; }
  // SIGKILL: a crash; the next start recovers the log.
  void Kill() { process_->Kill(); }

 private:
  BrokerChild() = default;
  // Spawns the broker on data_dir_ and waits for its ready line.
  bool Launch(const std::string& broker_path, const std::string& base_dir, const std::string& fsync, bool ipc,
              std::string* error);

  std::unique_ptr<ChildProcess> process_;
  std::string data_dir_;
  bool keep_data_ = false;
  double ready_seconds_ = 0;
  std::string ingest_;
  std::string live_;
  std::string groups_;
};

}  // namespace signalbus::bench
