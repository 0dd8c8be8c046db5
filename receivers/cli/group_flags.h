// The command-line flags every receiver program shares for consumer-group membership
// (--groups, --credits, --window-bytes, --heartbeat, --join-timeout and the group's
// configuration) and for CURVE (--curve-server-key, --curve-key-file), so
// signalbus-listen, signalbus-profile-creator and signalbus-audit spell them alike.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "signalbus/core/curve_config.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/status.h"
#include "signalbus/receivers/receiver.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::cli {

struct GroupFlags {
  std::string groups = std::string(kDefaultGroupsEndpoint);
  // Signed: CLI11 would wrap "-1" into a huge unsigned.
  std::int64_t credits = 64;
  std::int64_t window_bytes = 0;  // 0: the broker's default
  std::string heartbeat = "1s";
  std::string join_timeout = "0";  // for ever
  // Empty: the broker's default.
  std::string start;
  std::string ack_timeout;
  std::int64_t max_deliver = 0;
  std::string backoff;
  std::string backoff_max;
  // CURVE, for live listeners too (docs/security.md).
  CurveClientSettings curve;

  // Adds the flags to `app` (the group's own name is each program's --group).
  void AddTo(CLI::App& app);
  // Checks the values and sets options->groups_endpoint, options->group and
  // options->curve. An error
  // names the flag: "--heartbeat: duration 'x' is not like 250ms, 5s, 2m or 1h".
  Status ApplyTo(ReceiverOptions* options) const;
};

// "earliest", "latest", an offset ("1200") or an RFC 3339 time
// ("2024-05-01T12:00:00Z").
Result<v1::StartPosition> ParseStartPosition(std::string_view text);

}  // namespace signalbus::cli
