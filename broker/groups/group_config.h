// A group's settings: the name rule, the defaults behind the zeros of v1::GroupConfig,
// the parsed subscriptions, and the retry backoff. Fixed when a group is created (by its
// first Join, or loaded from its state file).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/core/topic.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::groups {

inline constexpr std::uint32_t kDefaultAckTimeoutMs = 30'000;
inline constexpr std::uint32_t kDefaultMaxDeliver = 5;
inline constexpr std::uint32_t kDefaultBackoffInitialMs = 100;
inline constexpr std::uint32_t kDefaultBackoffMaxMs = 30'000;
inline constexpr std::uint32_t kDefaultHeartbeatMs = 1'000;
// A member is gone after this many heartbeat intervals without a message from it.
inline constexpr std::uint32_t kMissedHeartbeats = 3;
inline constexpr std::size_t kMaxGroupNameBytes = 100;

// [A-Za-z0-9_.-]{1,100}: a group's name is also the stem of its state file names.
Status ValidateGroupName(std::string_view name);

struct GroupSettings {
  // The config as first given (zeros kept): what the state file stores.
  v1::GroupConfig config;
  std::vector<TopicPattern> patterns;
  // Canonical pattern texts, sorted and deduplicated: what two Joins compare.
  std::vector<std::string> subscriptions;
  std::chrono::milliseconds ack_timeout{kDefaultAckTimeoutMs};
  std::uint32_t max_deliver = kDefaultMaxDeliver;
  std::chrono::milliseconds backoff_initial{kDefaultBackoffInitialMs};
  std::chrono::milliseconds backoff_max{kDefaultBackoffMaxMs};

  bool Matches(std::string_view topic) const;
  // Delay before retry after a nack of `attempt` (1-based):
  // min(backoff_initial * 2^(attempt-1), backoff_max).
  std::chrono::milliseconds Backoff(std::uint32_t attempt) const;
};

// Applies the defaults; InvalidArgument for no subscriptions or a bad pattern.
Result<GroupSettings> ResolveSettings(const v1::GroupConfig& config);

// "auth.User/post_save, */post_delete" for error messages.
std::string JoinSubscriptions(const std::vector<std::string>& subscriptions);

}  // namespace signalbus::groups
