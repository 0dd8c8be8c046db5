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
#include <optional>
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
  signalbus::CurveClientSettings curve;
  signalbus::AddCurveClientFlags(app, &curve);

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

  CLI::App* group_cmd = app.add_subcommand("group", "One group as JSON: its subscriptions, members, lag and settings");
  group_cmd->add_option("group", group, "The consumer group")->required();

  CLI::App* set_cmd = app.add_subcommand(
      "set-group", "Changes a group's settings in force (a Join's settings apply only when it creates the group)");
  set_cmd->add_option("group", group, "The consumer group")->required();
  std::string set_ack_timeout, set_backoff, set_backoff_max;
  std::int64_t set_max_deliver = 0;
  set_cmd->add_option("--ack-timeout", set_ack_timeout, "Redelivery after this long without an ack, e.g. 30s");
  set_cmd->add_option("--max-deliver", set_max_deliver, "Attempts before an event is dead-lettered");
  set_cmd->add_option("--backoff", set_backoff, "The first retry delay after a failure, doubling, e.g. 100ms");
  set_cmd->add_option("--backoff-max", set_backoff_max, "The longest retry delay, e.g. 30s");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return signalbus::ReportParseError(app, e);
  }
  if (dlq_cmd->parsed() && !list_cmd->parsed() && !replay_cmd->parsed() && !purge_cmd->parsed()) {
    return Fail(signalbus::kExitUsage, "dlq: choose list, replay or purge (see --help)");
  }
  if (!groups_cmd->parsed() && !dlq_cmd->parsed() && !seek_cmd->parsed() && !delete_cmd->parsed() &&
      !group_cmd->parsed() && !set_cmd->parsed()) {
    return Fail(signalbus::kExitUsage,
                "choose a command: groups, group, set-group, dlq, seek or delete-group (see --help)");
  }
  signalbus::v1::SetGroupSettings change;
  if (set_cmd->parsed()) {
    auto millis = [&](const char* flag, const std::string& text, void (signalbus::v1::SetGroupSettings::*set)(
                                                                    std::uint32_t)) -> std::optional<std::string> {
      if (text.empty()) return std::nullopt;
      auto d = signalbus::ParseDuration(text);
      if (!d.ok()) return std::string(flag) + ": " + d.status().message();
      if (d->count() < 1 || d->count() > UINT32_MAX) return std::string(flag) + ": must be at least 1ms";
      (change.*set)(static_cast<std::uint32_t>(d->count()));
      return std::nullopt;
    };
    for (auto error : {millis("--ack-timeout", set_ack_timeout, &signalbus::v1::SetGroupSettings::set_ack_timeout_ms),
                       millis("--backoff", set_backoff, &signalbus::v1::SetGroupSettings::set_backoff_initial_ms),
                       millis("--backoff-max", set_backoff_max, &signalbus::v1::SetGroupSettings::set_backoff_max_ms)}) {
      if (error) return Fail(signalbus::kExitUsage, *error);
    }
    if (set_max_deliver < 0 || set_max_deliver > UINT32_MAX) {
      return Fail(signalbus::kExitUsage, "--max-deliver: must be at least 1");
    }
    change.set_max_deliver(static_cast<std::uint32_t>(set_max_deliver));
    if (change.ByteSizeLong() == 0) {
      return Fail(signalbus::kExitUsage, "set-group: give at least one of --ack-timeout, --max-deliver, --backoff, "
                                         "--backoff-max");
    }
  }
  if (signalbus::Status s = signalbus::ValidateEndpoint(broker); !s.ok()) {
    return Fail(signalbus::kExitUsage, "--broker: " + s.message());
  }
  auto timeout = signalbus::ParseDuration(timeout_text);
  if (!timeout.ok()) return Fail(signalbus::kExitUsage, "--timeout: " + timeout.status().message());
  if (timeout->count() == 0) return Fail(signalbus::kExitUsage, "--timeout: must be more than 0");
  signalbus::admin::AdminClient client(broker, *timeout, curve);

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

  if (group_cmd->parsed()) {
    auto groups = client.ListGroups();
    if (!groups.ok()) return Fail(signalbus::kExitFailure, groups.status().message());
    for (const auto& g : *groups) {
      if (g.name() == group) {
        Print(signalbus::admin::GroupJson(g) + "\n");
        return 0;
      }
    }
    return Fail(signalbus::kExitFailure, "no group named \"" + group + "\"");
  }

  if (set_cmd->parsed()) {
    if (signalbus::Status s = client.SetGroupSettings(group, change); !s.ok()) {
      return Fail(signalbus::kExitFailure, s.message());
    }
    Print("group " + group + ": settings changed\n");
    return 0;
  }

  if (delete_cmd->parsed()) {
    if (signalbus::Status s = client.DeleteGroup(group); !s.ok()) return Fail(signalbus::kExitFailure, s.message());
    Print("group " + group + " deleted\n");
    return 0;
  }
  return Fail(signalbus::kExitFailure, "internal error: unhandled command");
}
