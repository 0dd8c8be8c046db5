// Group settings: defaults, subscription canonicalisation, backoff.
#include "group_config.h"

#include <algorithm>

#include "signalbus/core/logging.h"

namespace signalbus::groups {

bool GroupSettings::Matches(std::string_view topic) const { return patterns.Matches(topic); }

std::chrono::milliseconds GroupSettings::Backoff(std::uint32_t attempt) const {
  // Double until past the cap; the loop bound keeps the shift from overflowing.
  std::chrono::milliseconds delay = backoff_initial;
  for (std::uint32_t i = 1; i < attempt && delay < backoff_max; ++i) delay *= 2;
  return std::min(delay, backoff_max);
}

Result<GroupSettings> ResolveSettings(const v1::GroupConfig& config) {
  GroupSettings s;
  if (config.subscriptions().empty()) return InvalidArgument("a group needs at least one subscription");
  for (const std::string& text : config.subscriptions()) {
    if (text.size() > kMaxPatternBytes) {
      return InvalidArgument("subscription \"" + Printable(text, 32) + "\" is longer than " +
                             std::to_string(kMaxPatternBytes) + " bytes");
    }
    Result<TopicPattern> pattern = TopicPattern::Parse(text);
    if (!pattern.ok()) {
      return InvalidArgument("subscription \"" + Printable(text) + "\": " + pattern.status().message());
    }
    if (s.patterns.Add(*pattern)) s.subscriptions.push_back(pattern->ToString());
  }
  std::sort(s.subscriptions.begin(), s.subscriptions.end());
  s.config = config;
  if (config.ack_timeout_ms() > 0) s.ack_timeout = std::chrono::milliseconds(config.ack_timeout_ms());
  if (config.max_deliver() > 0) s.max_deliver = config.max_deliver();
  if (config.backoff_initial_ms() > 0) s.backoff_initial = std::chrono::milliseconds(config.backoff_initial_ms());
  if (config.backoff_max_ms() > 0) s.backoff_max = std::chrono::milliseconds(config.backoff_max_ms());
  if (s.backoff_max < s.backoff_initial) s.backoff_max = s.backoff_initial;
  return s;
}

std::string JoinSubscriptions(const std::vector<std::string>& subscriptions) {
  // Error messages name a few; a group may have a thousand.
  constexpr std::size_t kShown = 8;
  std::string out;
  for (std::size_t i = 0; i < subscriptions.size() && i < kShown; ++i) {
    if (!out.empty()) out += ", ";
    out += subscriptions[i];
  }
  if (subscriptions.size() > kShown) out += ", ... (" + std::to_string(subscriptions.size() - kShown) + " more)";
  return out;
}

}  // namespace signalbus::groups
