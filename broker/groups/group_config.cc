// Group settings: defaults, subscription canonicalisation, backoff.
#include "group_config.h"

#include <algorithm>

namespace signalbus::groups {

Status ValidateGroupName(std::string_view name) {
  if (name.empty() || name.size() > kMaxGroupNameBytes) {
    return InvalidArgument("group name must be 1 to 100 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-';
    if (!ok) return InvalidArgument("group name may only use A-Z a-z 0-9 _ . -");
  }
  return Status::Ok();
}

bool GroupSettings::Matches(std::string_view topic) const {
  for (const TopicPattern& p : patterns) {
    if (p.Matches(topic)) return true;
  }
  return false;
}

std::chrono::milliseconds GroupSettings::Backoff(std::uint32_t attempt) const {
  // Double until past the cap; the loop bound keeps the shift from overflowing.
  std::chrono::milliseconds delay = backoff_initial;
  for (std::uint32_t i = 1; i < attempt && delay < backoff_max; ++i) delay *= 2;
  return std::min(delay, backoff_max);
}

Result<GroupSettings> ResolveSettings(const v1::GroupConfig& config) {
  GroupSettings s;
  s.config = config;
  if (config.subscriptions().empty()) return InvalidArgument("a group needs at least one subscription");
  for (const std::string& text : config.subscriptions()) {
    Result<TopicPattern> pattern = TopicPattern::Parse(text);
    if (!pattern.ok()) {
      return InvalidArgument("subscription \"" + text + "\": " + pattern.status().message());
    }
    s.subscriptions.push_back(pattern->ToString());
    s.patterns.push_back(std::move(*pattern));
  }
  std::sort(s.subscriptions.begin(), s.subscriptions.end());
  s.subscriptions.erase(std::unique(s.subscriptions.begin(), s.subscriptions.end()), s.subscriptions.end());
  if (config.ack_timeout_ms() > 0) s.ack_timeout = std::chrono::milliseconds(config.ack_timeout_ms());
  if (config.max_deliver() > 0) s.max_deliver = config.max_deliver();
  if (config.backoff_initial_ms() > 0) s.backoff_initial = std::chrono::milliseconds(config.backoff_initial_ms());
  if (config.backoff_max_ms() > 0) s.backoff_max = std::chrono::milliseconds(config.backoff_max_ms());
  if (s.backoff_max < s.backoff_initial) s.backoff_max = s.backoff_initial;
  return s;
}

std::string JoinSubscriptions(const std::vector<std::string>& subscriptions) {
  std::string out;
  for (const std::string& s : subscriptions) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

}  // namespace signalbus::groups
