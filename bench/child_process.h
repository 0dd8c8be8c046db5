// ChildProcess: a program the benchmarks start and stop themselves (the real
// signalbus-broker, the baseline proxy). Spawned with posix_spawn (safe from a process
// that already has threads), its stdout read through a pipe for one "ready" line, its
// stderr sent to a file, and stopped by its pid: SIGTERM, then SIGKILL after a grace.
// A bench that exits with children still running (a failure, std::exit) SIGKILLs them
// first (atexit), each by its pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace signalbus::bench {

// The directory this executable lives in (build/bin): where signalbus-broker is.
std::string SelfDir();
// This executable's own path, to run it again in another mode.
std::string SelfPath();
// User + system CPU seconds of this whole process so far.
double SelfCpuSeconds();

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`; stderr goes to `stderr_path` (appended). pid() < 0 if
  // it could not be spawned.
  ChildProcess(const std::vector<std::string>& argv, const std::string& stderr_path);
  ~ChildProcess();  // Stop()
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The first stdout line that starts with `prefix`, or nullopt after `timeout` or if the
  // child exits first.
  std::optional<std::string> WaitForLine(const std::string& prefix, std::chrono::milliseconds timeout);
  // User + system CPU time the child has used so far, from /proc (10 ms ticks); -1 if
  // unknown.
  double CpuSeconds() const;
  // A "Vm..." line of /proc/<pid>/status in KiB (field "VmRSS", "VmHWM"); -1 if unknown.
  long StatusKib(const std::string& field) const;
  // SIGTERM, up to `grace` for it to exit, then SIGKILL. Returns the wait status, or -1.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL at once (a crash), and reaps it.
  void Kill();

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;  // stdout bytes read but not yet a whole line
};

// "key=value" from a line of space-separated fields ("... ingest=tcp://... live=..."),
// or "" when absent.
std::string FieldOf(const std::string& line, const std::string& key);

}  // namespace signalbus::bench
