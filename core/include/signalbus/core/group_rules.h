// The consumer-group protocol's rules that members and the broker share: the group-name
// grammar, the bounds of a member's heartbeat interval and the longest names the broker
// keeps, and how a member writes its acks as ranges. One definition for the broker (broker/groups) and the C++ member
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
#include "signalbus/v1/groups.pb.h"

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
// The most deliveries one Ack may name, its refs and ranges together (a member never
// holds more: credits are capped at this too).
inline constexpr std::uint64_t kMaxAckRefs = 1 << 20;

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

// Writes `refs` into `ack` as ranges for a broker whose Joined says ack_ranges: each
// run of consecutive offsets with one attempt, in the order given, becomes one
// AckRange. (5,1) (6,1) (7,2) (9,2) -> (5, 2, 1) (7, 1, 2) (9, 1, 2).
template <typename Refs>
void AddAckRanges(const Refs& refs, v1::Ack* ack) {
  v1::AckRange* run = nullptr;
  for (const v1::DeliveryRef& ref : refs) {
    if (run != nullptr && run->attempt() == ref.attempt() && ref.offset() == run->first() + run->count()) {
      run->set_count(run->count() + 1);
      continue;
    }
    run = ack->add_ranges();
    run->set_first(ref.offset());
    run->set_count(1);
    run->set_attempt(ref.attempt());
  }
}

}  // namespace signalbus
