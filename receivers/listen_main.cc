// signalbus-listen [TOPIC...]: prints each matching event from the broker's live fan-out
// as one line of NDJSON on stdout, flushed per line (for tail -f and jq). Live is at most
// once: events the broker dropped because this listener fell behind its --window are
// reported on stderr. With --group NAME it is a member of that consumer group instead: it
// sees its share of the group's events, at least once, and acks each after printing it.
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "signalbus/core/cli.h"
#include "signalbus/core/duration.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/event_json.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/shutdown.h"
#include "signalbus/core/topic.h"
#include "cli/group_flags.h"
#include "signalbus/receivers/receiver.h"

namespace {

constexpr const char* kProgram = "signalbus-listen";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  return signalbus::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Prints events from the broker's live fan-out (or, with --group, as a consumer-group member) as "
                "NDJSON, one line per event.",
                kProgram);
  std::vector<std::string> topics;
  std::string live(signalbus::kDefaultLiveEndpoint);
  std::string group;
  signalbus::cli::GroupFlags group_flags;
  std::int64_t count = 0;  // signed: CLI11 would wrap "-1" into a huge unsigned
  std::int64_t window = static_cast<std::int64_t>(signalbus::LiveSourceOptions{}.window_bytes);
  std::string log_level = "info";
  app.add_option("topic", topics,
                 "Topic patterns: auth.User/post_save, auth.User (every signal), */post_save, * (default: all)");
  app.add_option("--live", live, "The broker's live endpoint")->envname(signalbus::kLiveEnv)->capture_default_str();
  app.add_option("--window", window,
                 "Live: bytes the broker may send ahead of what this listener has read; past it, events are "
                 "dropped for it and reported (the broker caps it)")
      ->capture_default_str();
  app.add_option("--group", group, "Consume as a member of this consumer group instead of the live fan-out");
  group_flags.AddTo(app);
  CLI::Option* count_option = app.add_option("--count", count, "Exit 0 after printing N events (N >= 1)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return signalbus::ReportParseError(app, e);
  }

  if (count_option->count() > 0 && count < 1) return UsageError("--count: must be at least 1");
  if (window < 1) return UsageError("--window: must be at least 1 byte");
  if (topics.empty()) topics.push_back("*");
  std::vector<signalbus::TopicPattern> patterns;
  for (const std::string& topic : topics) {
    auto pattern = signalbus::TopicPattern::Parse(topic);
    if (!pattern.ok()) return UsageError(pattern.status().message());
    patterns.push_back(*pattern);
  }
  if (signalbus::Status s = signalbus::ValidateEndpoint(live); !s.ok()) return UsageError("--live: " + s.message());
  if (signalbus::Status s = signalbus::InitLogging(kProgram, log_level); !s.ok()) {
    return UsageError("--log-level: " + s.message());
  }
  signalbus::ReceiverOptions options{.name = "listen", .mode = signalbus::ReceiveMode::kLive, .live_endpoint = live};
  options.live.window_bytes = static_cast<std::uint64_t>(window);
  options.curve = group_flags.curve;
  if (app.get_option("--group")->count() == 0) {
    // --heartbeat means the same to a live listener: the broker forgets it after 3 missed.
    auto heartbeat = signalbus::ParseDuration(group_flags.heartbeat);
    if (!heartbeat.ok()) return UsageError("--heartbeat: " + heartbeat.status().message());
    if (*heartbeat < std::chrono::milliseconds(100)) return UsageError("--heartbeat: must be at least 100ms");
    options.live.heartbeat = *heartbeat;
  } else {
    if (signalbus::Status s = signalbus::ValidateGroupName(group); !s.ok()) return UsageError("--group: " + s.message());
    options.name = group;
    options.mode = signalbus::ReceiveMode::kGroup;
    if (signalbus::Status s = group_flags.ApplyTo(&options); !s.ok()) return UsageError(s.message());
    // With --count, hold one delivery at a time: what is in hand when the count is
    // reached would still be printed (draining finishes it) past the count.
    if (count_option->count() > 0) options.group.credits = 1;
  }
  signalbus::InstallShutdownHandlers();

  signalbus::Receiver receiver(std::move(options));
  std::uint64_t printed = 0;
  int exit_code = 0;
  receiver.on(std::move(patterns), [&](const signalbus::v1::Event& event) {
    auto json = signalbus::EventToJson(event);
    if (!json.ok()) throw std::runtime_error(json.status().message());
    json->push_back('\n');
    if (std::fwrite(json->data(), 1, json->size(), stdout) != json->size() || std::fflush(stdout) != 0) {
      // A closed pipe (| head) is the reader's way of saying it has enough.
      int error = errno;
      if (error != EPIPE) {
        spdlog::error("cannot write to stdout: {}", std::strerror(error));
        exit_code = signalbus::kExitFailure;
      }
      receiver.Stop();
      // Not printed: a group member nacks it, so that the group delivers it again.
      if (!group.empty()) throw std::runtime_error(std::string("cannot write to stdout: ") + std::strerror(error));
      return;
    }
    if (++printed == static_cast<std::uint64_t>(count)) receiver.Stop();
  });

  signalbus::Status status = receiver.Run();
  if (std::uint64_t missed = receiver.stats().missed; missed > 0) {
    std::fprintf(stderr, "%s: the broker dropped %llu events for this listener: it fell behind its window (--window)\n",
                 kProgram, static_cast<unsigned long long>(missed));
  }
  if (!status.ok()) {
    if (signalbus::ShutdownRequested()) return exit_code;  // interrupted while joining
    std::fprintf(stderr, "%s: %s\n", kProgram, status.message().c_str());
    return signalbus::kExitFailure;
  }
  return exit_code;
}
