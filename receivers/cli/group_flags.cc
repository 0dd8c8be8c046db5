// Parsing and checking of the shared consumer-group flags.
#include "cli/group_flags.h"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>

#include <google/protobuf/util/time_util.h>

#include "signalbus/core/duration.h"
#include "signalbus/core/group_rules.h"
#include "signalbus/core/logging.h"

namespace signalbus::cli {
namespace {

constexpr std::int64_t kMaxCredits = 100'000;

// Empty text keeps the default (zero: the broker's).
Status ParseOptionalDuration(const std::string& flag, const std::string& text, std::chrono::milliseconds* out) {
  if (text.empty()) return Status::Ok();
  Result<std::chrono::milliseconds> d = ParseDuration(text);
  if (!d.ok()) return InvalidArgument(flag + ": " + d.status().message());
  *out = *d;
  return Status::Ok();
}

}  // namespace

void GroupFlags::AddTo(CLI::App& app) {
  AddCurveClientFlags(app, &curve);
  app.add_option("--groups", groups, "The broker's consumer-group endpoint")->envname(kGroupsEnv)->capture_default_str();
  app.add_option("--credits", credits, "Deliveries held unacknowledged at once")->capture_default_str();
  app.add_option("--window-bytes", window_bytes,
                 "Bytes of events held unacknowledged at once (0: the broker's default; it caps the value)")
      ->capture_default_str();
  app.add_option("--heartbeat", heartbeat, "Heartbeat interval, 10ms to 60s; the broker drops a member after 3 missed")
      ->capture_default_str();
  app.add_option("--join-timeout", join_timeout,
                 "How long to wait for the broker to accept the join (0: for ever, so start order does not matter)")
      ->capture_default_str();
  app.add_option("--start", start,
                 "Where a new group starts: earliest, latest, an offset or an RFC 3339 time (default: latest)");
  app.add_option("--ack-timeout", ack_timeout, "A new group's ack timeout before redelivery (default: 30s)");
  app.add_option("--max-deliver", max_deliver,
                 "A new group's attempts before an event is dead-lettered (default: 5)");
  app.add_option("--backoff", backoff, "A new group's first retry delay after a failure, doubling (default: 100ms)");
  app.add_option("--backoff-max", backoff_max, "A new group's longest retry delay (default: 30s)");
}

Status GroupFlags::ApplyTo(ReceiverOptions* options) const {
  if (Status s = ValidateEndpoint(groups); !s.ok()) return InvalidArgument("--groups: " + s.message());
  options->groups_endpoint = groups;
  options->curve = curve;
  GroupOptions& g = options->group;
  if (credits < 1 || credits > kMaxCredits) {
    return InvalidArgument("--credits: must be between 1 and " + std::to_string(kMaxCredits));
  }
  g.credits = static_cast<std::uint32_t>(credits);
  if (window_bytes < 0) return InvalidArgument("--window-bytes: must be 0 (the broker's default) or more");
  g.window_bytes = static_cast<std::uint64_t>(window_bytes);
  if (Status s = ParseOptionalDuration("--heartbeat", heartbeat, &g.heartbeat); !s.ok()) return s;
  if (Status s = ValidateHeartbeat(g.heartbeat); !s.ok()) return InvalidArgument("--heartbeat: " + s.message());
  if (Status s = ParseOptionalDuration("--join-timeout", join_timeout, &g.join_timeout); !s.ok()) return s;
  if (!start.empty()) {
    Result<v1::StartPosition> position = ParseStartPosition(start);
    if (!position.ok()) return InvalidArgument("--start: " + position.status().message());
    g.start = *position;
  }
  if (Status s = ParseOptionalDuration("--ack-timeout", ack_timeout, &g.ack_timeout); !s.ok()) return s;
  if (max_deliver < 0 || max_deliver > UINT32_MAX) return InvalidArgument("--max-deliver: must be 0 (default) or more");
  g.max_deliver = static_cast<std::uint32_t>(max_deliver);
  if (Status s = ParseOptionalDuration("--backoff", backoff, &g.backoff_initial); !s.ok()) return s;
  if (Status s = ParseOptionalDuration("--backoff-max", backoff_max, &g.backoff_max); !s.ok()) return s;
  return Status::Ok();
}

Result<v1::StartPosition> ParseStartPosition(std::string_view text) {
  v1::StartPosition position;
  if (text == "earliest") {
    position.set_earliest(true);
    return position;
  }
  if (text == "latest") {
    position.set_latest(true);
    return position;
  }
  std::uint64_t offset = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), offset);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
    position.set_offset(offset);
    return position;
  }
  if (google::protobuf::util::TimeUtil::FromString(std::string(text), position.mutable_time())) return position;
  return InvalidArgument("'" + Printable(text) +
                         "' is not earliest, latest, an offset or an RFC 3339 time such as 2024-05-01T12:00:00Z");
}

}  // namespace signalbus::cli
