// The consumer-group protocol's rules that members and the broker share: the group-name
// grammar, the bounds of a member's heartbeat interval and the longest names the broker
// keeps. One definition for the broker (broker/groups) and the C++ member
// (receivers/group_source); the Python member (clients/python/signalbus/group_member.py)
// mirrors it, and both languages are tested against proto/testdata/group_rules.json.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "signalbus/core/duration.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/status.h"

namespace signalbus {

// A group's name is also the stem of its state files: [A-Za-z0-9_.-]{1,100}.
inline constexpr std::size_t kMaxGroupNameBytes = 100;
// Join.member_name (logs and admin output) and Nack.error (kept with a dead letter).
inline constexpr std::size_t kMaxMemberNameBytes = 256;
inline constexpr std::size_t kMaxNackErrorBytes = 1000;
// A member's heartbeat interval. Either side presumes the other gone after
// kMissedHeartbeats silent intervals, so the maximum bounds how long a member that
// vanished without a word stays a member: 3 minutes.
inline constexpr std::chrono::milliseconds kMinHeartbeat{10};
inline constexpr std::chrono::milliseconds kMaxHeartbeat{60'000};
inline constexpr std::chrono::milliseconds kDefaultHeartbeat{1'000};
inline constexpr int kMissedHeartbeats = 3;

inline Status ValidateGroupName(std::string_view group) {
  if (group.empty()) return InvalidArgument("consumer group name is empty");
  if (group.size() > kMaxGroupNameBytes) {
    return InvalidArgument("consumer group name '" + Printable(group) + "' is longer than " +
                           std::to_string(kMaxGroupNameBytes) + " bytes");
  }
  for (char c : group) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) {
      return InvalidArgument("consumer group name '" + Printable(group) +
                             "' may only hold letters, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

inline Status ValidateHeartbeat(std::chrono::milliseconds heartbeat) {
  if (heartbeat < kMinHeartbeat || heartbeat > kMaxHeartbeat) {
    return InvalidArgument("heartbeat interval " + FormatDuration(heartbeat) + " is outside " +
                           FormatDuration(kMinHeartbeat) + " to " + FormatDuration(kMaxHeartbeat));
  }
  return Status::Ok();
}

}  // namespace signalbus
