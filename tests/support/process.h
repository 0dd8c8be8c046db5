// Real child processes for integration tests: spawned with fork/exec, their stdout and
// stderr captured to files, waited for by line or by exit, and always stopped by pid
// (SIGTERM, then SIGKILL) when the handle is destroyed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace signalbus::testing {

// Directory holding the built programs (SIGNALBUS_BIN_DIR, set by CMake for tests).
std::string BinDir();
// A fresh temporary directory, removed by the caller (or left for post-mortem).
std::string MakeTempDir(const std::string& prefix);

struct SpawnOptions {
  std::map<std::string, std::string> env;  // added to the inherited environment
  std::optional<std::string> stdin_file;   // else /dev/null
};

class Process {
 public:
  // Starts program (a path, or a name under BinDir()) with args. Aborts the test on failure.
  Process(const std::string& program, std::vector<std::string> args, SpawnOptions options = {});
  ~Process();  // Stop() if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until a stdout line contains `needle`; returns that line, or nullopt on timeout
  // or exit.
  std::optional<std::string> WaitForStdoutLine(const std::string& needle, std::chrono::milliseconds timeout);
  // Waits for exit; returns the exit status (128+signal if killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  // Sends a signal without waiting.
  void Signal(int signo);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  std::string Stdout() const;
  std::string Stderr() const;
  // The file stdout goes to, for output too large to read whole at every check.
  const std::string& stdout_path() const { return stdout_path_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// Runs a program to completion (bounded by timeout, then killed) and returns its
// exit status with what it printed.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult RunToCompletion(const std::string& program, std::vector<std::string> args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30), SpawnOptions options = {});

// GET http://host:port/path; the body, or nullopt if it could not be fetched.
std::optional<std::string> HttpGet(const std::string& base_url, const std::string& path);
// A Prometheus sample's value ("name" or "name{label=\"x\"}") from a metrics page, or -1.
double MetricValue(const std::string& metrics_page, const std::string& sample);

// Polls `condition` every few milliseconds until true or timeout. Waiting for a
// condition, not sleeping for a guess.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace signalbus::testing
