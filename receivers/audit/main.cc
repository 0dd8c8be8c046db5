// signalbus-audit --file PATH [--group audit] [TOPIC...]: a consumer-group member that
// appends every event it gets to PATH as one line of NDJSON, and fdatasyncs the file
// before it acks each batch. At-least-once: an event may be written twice (a redelivery
// after a crash or a lost ack); dedupe by event_id when reading.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "audit/audit_log.h"
#include "cli/group_flags.h"
#include "signalbus/core/cli.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/shutdown.h"
#include "signalbus/core/topic.h"
#include "signalbus/receivers/receiver.h"

namespace {

constexpr const char* kProgram = "signalbus-audit";
constexpr const char* kDefaultGroup = "audit";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Appends every event of its consumer group to a file as NDJSON, synced before each ack.", kProgram);
  std::string file;
  std::string group = kDefaultGroup;
  std::vector<std::string> topics;
  signalbus::cli::GroupFlags group_flags;
  std::string log_level = "info";
  app.add_option("topic", topics,
                 "Topic patterns: auth.User/post_save, auth.User (every signal), */post_save, * (default: all)");
  app.add_option("--file", file, "The NDJSON file to append to (its directory is created)")->required();
  app.add_option("--group", group, "The consumer group to join")->capture_default_str();
  group_flags.AddTo(app);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return signalbus::ReportParseError(app, e);
  }
  if (file.empty()) return Fail(signalbus::kExitUsage, "--file: path is empty");
  if (topics.empty()) topics.push_back("*");
  std::vector<signalbus::TopicPattern> patterns;
  for (const std::string& topic : topics) {
    auto pattern = signalbus::TopicPattern::Parse(topic);
    if (!pattern.ok()) return Fail(signalbus::kExitUsage, pattern.status().message());
    patterns.push_back(*pattern);
  }
  if (signalbus::Status s = signalbus::ValidateGroupName(group); !s.ok()) {
    return Fail(signalbus::kExitUsage, "--group: " + s.message());
  }
  signalbus::ReceiverOptions options{.name = group};
  if (signalbus::Status s = group_flags.ApplyTo(&options); !s.ok()) return Fail(signalbus::kExitUsage, s.message());
  if (signalbus::Status s = signalbus::InitLogging(kProgram, log_level); !s.ok()) {
    return Fail(signalbus::kExitUsage, "--log-level: " + s.message());
  }
  signalbus::InstallShutdownHandlers();

  auto log = signalbus::audit::AuditLog::Open(file);
  if (!log.ok()) return Fail(signalbus::kExitFailure, log.status().message());
  // The lines reach the disk before the broker hears that their events are done.
  options.group.before_ack = [&log] { return log->Sync(); };
  signalbus::Receiver receiver(std::move(options));
  receiver.on(std::move(patterns), [&log](const signalbus::v1::Event& event) {
    if (signalbus::Status s = log->Append(event); !s.ok()) throw std::runtime_error(s.message());
  });
  if (signalbus::Status s = receiver.Connect(); !s.ok()) {
    if (signalbus::ShutdownRequested()) return 0;
    return Fail(signalbus::kExitFailure, s.message());
  }
  std::printf("%s ready file=%s group=%s groups=%s\n", kProgram, file.c_str(), group.c_str(),
              receiver.options().groups_endpoint.c_str());
  std::fflush(stdout);

  signalbus::Status run = receiver.Run();
  const signalbus::ReceiverStats rs = receiver.stats();
  spdlog::info("stopped: received={} handled={} handler_failures={} malformed={}", rs.received, rs.handled,
               rs.handler_failures, rs.malformed);
  if (!run.ok()) return Fail(signalbus::kExitFailure, run.message());
  return 0;
}
