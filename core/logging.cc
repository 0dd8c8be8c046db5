// spdlog set-up, libprotobuf's log handler, and the helpers for logging untrusted bytes.
#include "signalbus/core/logging.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include <google/protobuf/stubs/logging.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace signalbus {
namespace {

// protobuf's messages can quote what it was given (a field name, a JSON snippet).
constexpr std::size_t kMaxProtobufMessageBytes = 200;

thread_local ProtobufLogCapture* current_capture = nullptr;

spdlog::level::level_enum SpdlogLevel(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO: return spdlog::level::info;
    case google::protobuf::LOGLEVEL_WARNING: return spdlog::level::warn;
    case google::protobuf::LOGLEVEL_ERROR: return spdlog::level::err;
    case google::protobuf::LOGLEVEL_FATAL: return spdlog::level::critical;
  }
  return spdlog::level::err;
}

// protobuf ends its messages with a space or a newline.
std::string_view Trimmed(std::string_view message) {
  while (!message.empty() && (message.back() == ' ' || message.back() == '\n')) message.remove_suffix(1);
  return message;
}

// Called by protobuf, on any thread. FATAL is always logged: protobuf aborts after it.
void ProtobufLogHandler(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  if (level != google::protobuf::LOGLEVEL_FATAL) {
    if (ProtobufLogCapture* capture = ProtobufLogCapture::Current(); capture != nullptr) {
      capture->Keep(message);
      return;
    }
  }
  static std::mutex mutex;
  static RateLimiter limiter(1.0, kProtobufLogBurst);
  std::uint64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (level != google::protobuf::LOGLEVEL_FATAL && !limiter.Allow()) return;
    suppressed = limiter.TakeSuppressed();
  }
  std::string_view file(filename != nullptr ? filename : "?");
  if (std::size_t slash = file.rfind('/'); slash != std::string_view::npos) file.remove_prefix(slash + 1);
  std::string text = Printable(Trimmed(message), kMaxProtobufMessageBytes);
  if (suppressed > 0) {
    spdlog::log(SpdlogLevel(level), "libprotobuf ({}:{}): {} ({} earlier libprotobuf messages suppressed)", file,
                line, text, suppressed);
  } else {
    spdlog::log(SpdlogLevel(level), "libprotobuf ({}:{}): {}", file, line, text);
  }
}

}  // namespace

void InstallProtobufLogHandler() { google::protobuf::SetLogHandler(&ProtobufLogHandler); }

ProtobufLogCapture::ProtobufLogCapture() : outer_(current_capture) { current_capture = this; }

ProtobufLogCapture::~ProtobufLogCapture() { current_capture = outer_; }

ProtobufLogCapture* ProtobufLogCapture::Current() { return current_capture; }

void ProtobufLogCapture::Keep(std::string_view message) {
  if (first_.empty()) first_ = Printable(Trimmed(message), kMaxProtobufMessageBytes);
}

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
  InstallProtobufLogHandler();
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

std::string TruncateUtf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
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
