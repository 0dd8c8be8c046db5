// Logging for every signalbus program: spdlog to stderr, plus what is needed to log
// bytes a peer sent (truncated and made printable) without letting a flood of bad
// input flood the log (a rate limiter). libprotobuf's own messages take the same path
// (InitLogging installs the handler), or are kept for the caller while a
// ProtobufLogCapture exists, so that parsing a peer's bytes never logs by itself.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "signalbus/core/status.h"

namespace signalbus {

// Sets the default spdlog logger: stderr, "[program] level message", and sends
// libprotobuf's messages to it (InstallProtobufLogHandler). Call once, at start-up,
// before other threads run. level: trace, debug, info, warn, error, off.
Status InitLogging(std::string_view program, std::string_view level);

// Sends what libprotobuf logs to the default spdlog logger as "libprotobuf: ...", made
// printable and rate-limited (a burst of kProtobufLogBurst lines, then one a second; a
// line after a gap says how many were suppressed). Call at start-up, before other
// threads run: protobuf's SetLogHandler() is not thread-safe. InitLogging() calls it.
void InstallProtobufLogHandler();
inline constexpr int kProtobufLogBurst = 10;

// While one exists, what libprotobuf logs on this thread (below FATAL) is kept here
// instead of being logged: protobuf's complaint about a peer's bytes becomes part of the
// caller's error. Needs InstallProtobufLogHandler(); without it protobuf logs to stderr
// as usual and nothing is kept. Not copyable; captures nest (the innermost keeps).
class ProtobufLogCapture {
 public:
  ProtobufLogCapture();
  ~ProtobufLogCapture();
  ProtobufLogCapture(const ProtobufLogCapture&) = delete;
  ProtobufLogCapture& operator=(const ProtobufLogCapture&) = delete;

  // The first message protobuf logged, made printable; empty if none.
  const std::string& first() const { return first_; }
  // The innermost capture of this thread, or nullptr. For the handler.
  static ProtobufLogCapture* Current();
  void Keep(std::string_view message);

 private:
  ProtobufLogCapture* outer_;
  std::string first_;
};

// At most max_bytes of input; non-printable bytes as \xNN; a note of how much was cut.
std::string Printable(std::string_view bytes, std::size_t max_bytes = 64);

// `text` cut to at most `max_bytes` on a UTF-8 character boundary (protobuf strings are
// valid UTF-8, and must stay so).
std::string TruncateUtf8(std::string_view text, std::size_t max_bytes);

// Allows `burst` events at once and then `per_second` on average. Not thread-safe.
class RateLimiter {
 public:
  RateLimiter(double per_second, double burst);
  // True if the event may be logged; otherwise it is counted in suppressed().
  bool Allow(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // Suppressed since the last call, and resets the count.
  std::uint64_t TakeSuppressed();

 private:
  double per_second_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
  std::uint64_t suppressed_ = 0;
};

}  // namespace signalbus
