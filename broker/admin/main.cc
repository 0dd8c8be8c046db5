// signalbus-admin: inspect and steer the broker's consumer groups.
//   signalbus-admin groups [--json]
//   signalbus-admin dlq list GROUP [--limit N]
//   signalbus-admin dlq replay GROUP [--offset N ...]
//   signalbus-admin dlq purge GROUP [--offset N ...]
//   signalbus-admin seek GROUP (--earliest | --latest | --offset N | --time RFC3339)
//   signalbus-admin delete-group GROUP
// Flags, dispatch and exit codes: 0 done, 1 the broker failed or refused, 2 a flag mistake.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <google/protobuf/util/time_util.h>
#include <CLI/CLI.hpp>

#include "admin_output.h"
#include "signalbus/admin/admin_client.h"
#include "signalbus/core/cli.h"
#include "signalbus/core/duration.h"
#include "signalbus/core/endpoints.h"

namespace {

constexpr const char* kProgram = "signalbus-admin";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  return code;
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// Offsets are read signed, so that "-1" is an error rather than a huge offset.
bool ToOffsets(const std::vector<std::int64_t>& in, std::vector<std::uint64_t>* out) {
  for (std::int64_t v : in) {
    if (v < 0) return false;
    out->push_back(static_cast<std::uint64_t>(v));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Inspects and steers the broker's consumer groups and their dead-letter queues.", kProgram);
  app.fallthrough();  // --broker and --timeout may follow the subcommand
  // No require_subcommand(): CLI11 would report a missing subcommand before an unknown
  // flag, hiding the real mistake. Checked after parsing instead.
  std::string broker(signalbus::kDefaultGroupsEndpoint);
  std::string timeout_text = "5s";
  app.add_option("--broker", broker, "The broker's consumer-group endpoint")
      ->envname(signalbus::kGroupsEnv)
      ->capture_default_str();
  app.add_option("--timeout", timeout_text, "How long to wait for the broker's answer")->capture_default_str();

  CLI::App* groups_cmd = app.add_subcommand("groups", "Lists the consumer groups and their progress");
  bool json = false;
  groups_cmd->add_flag("--json", json, "One JSON object per line instead of a table");

  CLI::App* dlq_cmd = app.add_subcommand("dlq", "The dead-letter queue of a group");
  std::string group;
  std::int64_t limit = 100;
  std::vector<std::int64_t> offsets;
  CLI::App* list_cmd = dlq_cmd->add_subcommand("list", "Prints dead-lettered events as NDJSON");
  list_cmd->add_option("group", group, "The consumer group")->required();
  list_cmd->add_option("--limit", limit, "At most N events")->capture_default_str();
  CLI::App* replay_cmd = dlq_cmd->add_subcommand("replay", "Delivers dead-lettered events to the group again");
  replay_cmd->add_option("group", group, "The consumer group")->required();
  replay_cmd->add_option("--offset", offsets, "Only these offsets (repeatable; default: all)");
  CLI::App* purge_cmd = dlq_cmd->add_subcommand("purge", "Drops dead-lettered events for good");
  purge_cmd->add_option("group", group, "The consumer group")->required();
  purge_cmd->add_option("--offset", offsets, "Only these offsets (repeatable; default: all)");

  CLI::App* seek_cmd = app.add_subcommand("seek", "Moves a group to a position; its pending deliveries are abandoned");
  seek_cmd->add_option("group", group, "The consumer group")->required();
  bool earliest = false;
  bool latest = false;
  std::int64_t offset = 0;
  std::string time_text;
  CLI::Option_group* position = seek_cmd->add_option_group("position", "Where the group resumes");
  position->add_flag("--earliest", earliest, "The oldest event in the log");
  position->add_flag("--latest", latest, "Only events published from now on");
  CLI::Option* offset_option = position->add_option("--offset", offset, "This offset");
  position->add_option("--time", time_text, "The first event stored at or after this RFC 3339 time");
  position->require_option(1);

  CLI::App* delete_cmd = app.add_subcommand(
      "delete-group", "Forgets a group with no members connected: its position and its dead letters");
  delete_cmd->add_option("group", group, "The consumer group")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return signalbus::ReportParseError(app, e);
  }
  if (dlq_cmd->parsed() && !list_cmd->parsed() && !replay_cmd->parsed() && !purge_cmd->parsed()) {
    return Fail(signalbus::kExitUsage, "dlq: choose list, replay or purge (see --help)");
  }
  if (!groups_cmd->parsed() && !dlq_cmd->parsed() && !seek_cmd->parsed() && !delete_cmd->parsed()) {
    return Fail(signalbus::kExitUsage, "choose a command: groups, dlq, seek or delete-group (see --help)");
  }
  if (signalbus::Status s = signalbus::ValidateEndpoint(broker); !s.ok()) {
    return Fail(signalbus::kExitUsage, "--broker: " + s.message());
  }
  auto timeout = signalbus::ParseDuration(timeout_text);
  if (!timeout.ok()) return Fail(signalbus::kExitUsage, "--timeout: " + timeout.status().message());
  if (timeout->count() == 0) return Fail(signalbus::kExitUsage, "--timeout: must be more than 0");
  signalbus::admin::AdminClient client(broker, *timeout);

  if (groups_cmd->parsed()) {
    auto groups = client.ListGroups();
    if (!groups.ok()) return Fail(signalbus::kExitFailure, groups.status().message());
    if (json) {
      std::string out;
      for (const auto& g : *groups) out += signalbus::admin::GroupJson(g) + "\n";
      Print(out);
    } else {
      Print(signalbus::admin::GroupsTable(*groups));
    }
    return 0;
  }

  if (list_cmd->parsed()) {
    if (limit < 1 || limit > UINT32_MAX) return Fail(signalbus::kExitUsage, "--limit: must be at least 1");
    auto letters = client.ListDeadLetters(group, static_cast<std::uint32_t>(limit));
    if (!letters.ok()) return Fail(signalbus::kExitFailure, letters.status().message());
    std::string out;
    for (const auto& d : *letters) out += signalbus::admin::DeadLetterJson(d) + "\n";
    Print(out);
    return 0;
  }

  if (replay_cmd->parsed() || purge_cmd->parsed()) {
    std::vector<std::uint64_t> chosen;
    if (!ToOffsets(offsets, &chosen)) return Fail(signalbus::kExitUsage, "--offset: must not be negative");
    const bool replay = replay_cmd->parsed();
    auto affected = replay ? client.ReplayDeadLetters(group, chosen) : client.PurgeDeadLetters(group, chosen);
    if (!affected.ok()) return Fail(signalbus::kExitFailure, affected.status().message());
    Print(std::string(replay ? "replayed " : "purged ") + std::to_string(*affected) +
          " dead-lettered events of group " + group + "\n");
    return 0;
  }

  if (seek_cmd->parsed()) {
    signalbus::v1::StartPosition target;
    if (earliest) {
      target.set_earliest(true);
    } else if (latest) {
      target.set_latest(true);
    } else if (offset_option->count() > 0) {
      if (offset < 0) return Fail(signalbus::kExitUsage, "--offset: must not be negative");
      target.set_offset(static_cast<std::uint64_t>(offset));
    } else if (!google::protobuf::util::TimeUtil::FromString(time_text, target.mutable_time())) {
      return Fail(signalbus::kExitUsage, "--time: '" + time_text + "' is not an RFC 3339 time such as 2024-05-01T12:00:00Z");
    }
    if (signalbus::Status s = client.Seek(group, target); !s.ok()) return Fail(signalbus::kExitFailure, s.message());
    Print("group " + group + " resumes from " + signalbus::admin::DescribePosition(target) + "\n");
    return 0;
  }

  if (delete_cmd->parsed()) {
    if (signalbus::Status s = client.DeleteGroup(group); !s.ok()) return Fail(signalbus::kExitFailure, s.message());
    Print("group " + group + " deleted\n");
    return 0;
  }
  return Fail(signalbus::kExitFailure, "internal error: unhandled command");
}
