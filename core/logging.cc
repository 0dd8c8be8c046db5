// spdlog set-up and the helpers for logging untrusted bytes.
#include "signalbus/core/logging.h"

#include <algorithm>
#include <cstdio>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace signalbus {

Status InitLogging(std::string_view program, std::string_view level) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidArgument("log level '" + Printable(level) + "' is not one of trace, debug, info, warn, error, off");
  }
  auto logger = spdlog::stderr_logger_mt(std::string(program) + "-log");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ [" + std::string(program) + "] %l: %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

std::string Printable(std::string_view bytes, std::size_t max_bytes) {
  std::string out;
  std::size_t shown = std::min(bytes.size(), max_bytes);
  out.reserve(shown + 16);
  for (std::size_t i = 0; i < shown; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (shown < bytes.size()) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

RateLimiter::RateLimiter(double per_second, double burst)
    : per_second_(per_second), burst_(burst), tokens_(burst), last_(std::chrono::steady_clock::now()) {}

bool RateLimiter::Allow(std::chrono::steady_clock::time_point now) {
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
    last_ = now;
  }
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  ++suppressed_;
  return false;
}

std::uint64_t RateLimiter::TakeSuppressed() {
  std::uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

}  // namespace signalbus
