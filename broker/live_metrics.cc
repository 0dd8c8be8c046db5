// Names of the live fan-out's refusal reasons, and the metrics snapshot.
#include "signalbus/broker/live_metrics.h"

namespace signalbus::broker {

std::string_view LiveRefusalName(LiveRefusal refusal) {
  switch (refusal) {
    case LiveRefusal::kBadRequest: return "bad_request";
    case LiveRefusal::kUnknownListener: return "unknown_listener";
    case LiveRefusal::kTooManyListeners: return "too_many_listeners";
    case LiveRefusal::kNoWindowLeft: return "no_window_left";
    case LiveRefusal::kTooManyPatterns: return "too_many_patterns";
    case LiveRefusal::kBadPattern: return "bad_pattern";
    case LiveRefusal::kNotSubscribed: return "not_subscribed";
    case LiveRefusal::kBadCredit: return "bad_credit";
    case LiveRefusal::kForbidden: return "forbidden";
  }
  return "unknown";
}

LiveMetricsSnapshot LiveMetrics::Snapshot() const {
  LiveMetricsSnapshot s;
  s.forwarded = forwarded_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.expired = expired_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kLiveRefusalCount; ++i) s.refused[i] = refused_[i].load(std::memory_order_relaxed);
  s.listeners = listeners_.load(std::memory_order_relaxed);
  s.subscriptions = subscriptions_.load(std::memory_order_relaxed);
  s.unread_bytes = unread_bytes_.load(std::memory_order_relaxed);
  s.reserved_bytes = reserved_bytes_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace signalbus::broker
