// signalbus-profile-creator: flags, signals and exit codes around ProfileCreator, which
// keeps one profile row per auth.User in a SQLite file or a PostgreSQL database. By default a member of the
// consumer group "profile-creator" (run several: they share the events); --mode live
// takes the live fan-out instead (at-most-once: events published while it is down are
// missed).
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/group_flags.h"
#include "profile_creator/profile_creator.h"
#include "profile_creator/profile_store.h"
#include "signalbus/core/cli.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/shutdown.h"
#include "signalbus/receivers/receiver.h"

namespace {

constexpr const char* kProgram = "signalbus-profile-creator";
constexpr const char* kProfileDbEnv = "SIGNALBUS_PROFILE_DB";
constexpr const char* kDefaultProfileDb = "./var/profiles.sqlite3";
constexpr const char* kDefaultGroup = "profile-creator";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Creates a profile for every new auth.User and deletes it with the user.", kProgram);
  std::string db_path = kDefaultProfileDb;
  std::string mode = "group";
  std::string group = kDefaultGroup;
  signalbus::cli::GroupFlags group_flags;
  std::string live(signalbus::kDefaultLiveEndpoint);
  std::string log_level = "info";
  app.add_option("--db", db_path,
                 "SQLite file (its directory is created), or PostgreSQL: postgresql://user@host/db or "
                 "key=value conninfo")
      ->envname(kProfileDbEnv)
      ->capture_default_str();
  app.add_option("--mode", mode, "group: a consumer-group member, at-least-once; live: the live fan-out, at-most-once")
      ->check(CLI::IsMember({"group", "live"}))
      ->capture_default_str();
  app.add_option("--group", group, "The consumer group to join")->capture_default_str();
  group_flags.AddTo(app);
  app.add_option("--live", live, "The broker's live endpoint (--mode live)")
      ->envname(signalbus::kLiveEnv)
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return signalbus::ReportParseError(app, e);
  }
  if (db_path.empty()) return Fail(signalbus::kExitUsage, "--db: path is empty");
  namespace pc = signalbus::profile_creator;
  signalbus::ReceiverOptions options{.name = group};
  if (mode == "live") {
    if (signalbus::Status s = signalbus::ValidateEndpoint(live); !s.ok()) {
      return Fail(signalbus::kExitUsage, "--live: " + s.message());
    }
    options.mode = signalbus::ReceiveMode::kLive;
    options.live_endpoint = live;
    options.curve = group_flags.curve;
  } else {
    if (signalbus::Status s = signalbus::ValidateGroupName(group); !s.ok()) {
      return Fail(signalbus::kExitUsage, "--group: " + s.message());
    }
    if (signalbus::Status s = group_flags.ApplyTo(&options); !s.ok()) return Fail(signalbus::kExitUsage, s.message());
  }
  if (signalbus::Status s = signalbus::InitLogging(kProgram, log_level); !s.ok()) {
    return Fail(signalbus::kExitUsage, "--log-level: " + s.message());
  }
  signalbus::InstallShutdownHandlers();

  auto store = pc::OpenProfileStore(db_path);
  if (!store.ok()) {
    return Fail(store.status().code() == signalbus::StatusCode::kInvalidArgument ? signalbus::kExitUsage
                                                                                 : signalbus::kExitFailure,
                "--db: " + store.status().message());
  }
  const std::string db = (*store)->Describe();
  pc::ProfileCreator creator(**store);
  signalbus::Receiver receiver(std::move(options));
  creator.Register(receiver);
  // A group member is connected once the broker confirmed the join.
  if (signalbus::Status s = receiver.Connect(); !s.ok()) {
    if (signalbus::ShutdownRequested()) return 0;
    return Fail(signalbus::kExitFailure, s.message());
  }

  if (mode == "live") {
    std::printf("%s ready db=%s live=%s\n", kProgram, db.c_str(), live.c_str());
  } else {
    std::printf("%s ready db=%s group=%s groups=%s\n", kProgram, db.c_str(), group.c_str(),
                receiver.options().groups_endpoint.c_str());
  }
  std::fflush(stdout);

  signalbus::Status run = receiver.Run();
  const signalbus::ReceiverStats rs = receiver.stats();
  const pc::ProfileCreatorStats& ps = creator.stats();
  spdlog::info(
      "stopped: received={} handled={} handler_failures={} malformed={} profiles created={} deleted={} "
      "unchanged={} duplicates={} ignored={}",
      rs.received, rs.handled, rs.handler_failures, rs.malformed, ps.created, ps.deleted, ps.unchanged, ps.duplicates,
      ps.ignored);
  if (!run.ok()) return Fail(signalbus::kExitFailure, run.message());
  return 0;
}
