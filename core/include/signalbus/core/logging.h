// Logging for every signalbus program: spdlog to stderr, plus what is needed to log
// bytes a peer sent (truncated and made printable) without letting a flood of bad
// input flood the log (a rate limiter).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "signalbus/core/status.h"

namespace signalbus {

// Sets the default spdlog logger: stderr, "[program] level message".
// level: trace, debug, info, warn, error, off.
Status InitLogging(std::string_view program, std::string_view level);

// At most max_bytes of input; non-printable bytes as \xNN; a note of how much was cut.
std::string Printable(std::string_view bytes, std::size_t max_bytes = 64);

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
