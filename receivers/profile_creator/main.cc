// signalbus-profile-creator: flags, signals and exit codes around ProfileCreator, which
// keeps one profile row per auth.User in a SQLite file.
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

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

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Creates a profile for every new auth.User and deletes it with the user.", kProgram);
  std::string db_path = kDefaultProfileDb;
  std::string live(signalbus::kDefaultLiveEndpoint);
  std::string log_level = "info";
  app.add_option("--db", db_path, "SQLite file (its directory is created)")
      ->envname(kProfileDbEnv)
      ->capture_default_str();
  app.add_option("--live", live, "The broker's live endpoint")->envname(signalbus::kLiveEnv)->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return signalbus::ReportParseError(app, e);
  }
  if (db_path.empty()) return Fail(signalbus::kExitUsage, "--db: path is empty");
  if (signalbus::Status s = signalbus::ValidateEndpoint(live); !s.ok()) {
    return Fail(signalbus::kExitUsage, "--live: " + s.message());
  }
  if (signalbus::Status s = signalbus::InitLogging(kProgram, log_level); !s.ok()) {
    return Fail(signalbus::kExitUsage, "--log-level: " + s.message());
  }
  signalbus::InstallShutdownHandlers();

  auto store = signalbus::profile_creator::ProfileStore::Open(db_path);
  if (!store.ok()) return Fail(signalbus::kExitFailure, store.status().message());
  signalbus::profile_creator::ProfileCreator creator(*store);
  signalbus::Receiver receiver({.name = "profile-creator", .live_endpoint = live});
  creator.Register(receiver);
  if (signalbus::Status s = receiver.Connect(); !s.ok()) return Fail(signalbus::kExitFailure, s.message());

  std::printf("%s ready db=%s live=%s\n", kProgram, db_path.c_str(), live.c_str());
  std::fflush(stdout);

  signalbus::Status run = receiver.Run();
  const signalbus::ReceiverStats rs = receiver.stats();
  const signalbus::profile_creator::ProfileCreatorStats& ps = creator.stats();
  spdlog::info(
      "stopped: received={} handled={} handler_failures={} malformed={} profiles created={} deleted={} "
      "unchanged={} duplicates={} ignored={}",
      rs.received, rs.handled, rs.handler_failures, rs.malformed, ps.created, ps.deleted, ps.unchanged, ps.duplicates,
      ps.ignored);
  if (!run.ok()) return Fail(signalbus::kExitFailure, run.message());
  return 0;
}
