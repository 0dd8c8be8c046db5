// A group's settings: the defaults behind the zeros of v1::GroupConfig, the parsed
// subscriptions (matched through a PatternSet: four lookups per topic however many),
// and the retry backoff. Set when a group is created (by its first Join, or loaded from
// its state file); the subscriptions then follow the members' (Group::UpdateSubscriptions)
// and the settings change by SetGroupSettings. The rules members share (group names, heartbeats) are in
// signalbus/core/group_rules.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/pattern_index.h"
#include "signalbus/core/status.h"
#include "signalbus/core/topic.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::groups {

inline constexpr std::uint32_t kDefaultAckTimeoutMs = 30'000;
inline constexpr std::uint32_t kDefaultMaxDeliver = 5;
inline constexpr std::uint32_t kDefaultBackoffInitialMs = 100;
inline constexpr std::uint32_t kDefaultBackoffMaxMs = 30'000;

struct GroupSettings {
  // The config as first given (zeros kept): what the state file stores.
  v1::GroupConfig config;
  PatternSet patterns;
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

// A subscription pattern's text is at most a topic's length.
inline constexpr std::size_t kMaxPatternBytes = kMaxTopicBytes;

// Applies the defaults. InvalidArgument for no subscriptions, a pattern longer than
// kMaxPatternBytes or one that does not parse. (How many a new Join may bring is the
// Coordinator's limit, checked before this.)
Result<GroupSettings> ResolveSettings(const v1::GroupConfig& config);

// "auth.User/post_save, */post_delete" for error messages.
std::string JoinSubscriptions(const std::vector<std::string>& subscriptions);

}  // namespace signalbus::groups
