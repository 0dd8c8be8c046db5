// The live fan-out's counters and gauges: written by the poll thread, read by the metrics
// HTTP thread (each value a relaxed atomic, as in metrics.h). Rendered with the rest of
// /metrics by Metrics::RenderPrometheus.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace signalbus::broker {

inline constexpr const char* kLiveForwardedMetric = "signalbus_live_forwarded_total";
inline constexpr const char* kLiveDroppedMetric = "signalbus_live_dropped_total";
inline constexpr const char* kLiveExpiredMetric = "signalbus_live_expired_total";
inline constexpr const char* kLiveRefusedMetric = "signalbus_live_refused_total";  // {reason="..."}
inline constexpr const char* kLiveListenersMetric = "signalbus_live_listeners";
inline constexpr const char* kLiveSubscriptionsMetric = "signalbus_live_subscriptions";
inline constexpr const char* kLiveUnreadBytesMetric = "signalbus_live_unread_bytes";
inline constexpr const char* kLiveReservedBytesMetric = "signalbus_live_reserved_bytes";

// Why the live fan-out refused something a peer sent; the label of kLiveRefusedMetric.
enum class LiveRefusal {
  kBadRequest,        // not one LiveRequest frame
  kUnknownListener,   // a request other than Subscribe from a connection that is no listener
  kTooManyListeners,  // --live-max-listeners reached
  kNoWindowLeft,      // --live-total-window-bytes all granted
  kTooManyPatterns,   // a pattern beyond --live-max-patterns (counted per pattern)
  kBadPattern,        // a pattern that is not a topic pattern (per pattern)
  kNotSubscribed,     // an unsubscribe of a pattern the listener does not hold (per pattern)
  kBadCredit,         // a credit naming no mark awaiting credit
  kForbidden,         // a pattern its principal may not read (per pattern; docs/security.md)
};
inline constexpr std::size_t kLiveRefusalCount = 9;
inline constexpr std::array<LiveRefusal, kLiveRefusalCount> kAllLiveRefusals = {
    LiveRefusal::kBadRequest,      LiveRefusal::kUnknownListener, LiveRefusal::kTooManyListeners,
    LiveRefusal::kNoWindowLeft,    LiveRefusal::kTooManyPatterns, LiveRefusal::kBadPattern,
    LiveRefusal::kNotSubscribed,   LiveRefusal::kBadCredit,       LiveRefusal::kForbidden};
std::string_view LiveRefusalName(LiveRefusal refusal);
inline std::size_t LiveRefusalIndex(LiveRefusal refusal) { return static_cast<std::size_t>(refusal); }

struct LiveMetricsSnapshot {
  std::uint64_t forwarded = 0;
  std::uint64_t dropped = 0;
  std::uint64_t expired = 0;
  std::array<std::uint64_t, kLiveRefusalCount> refused{};
  std::int64_t listeners = 0;
  std::int64_t subscriptions = 0;
  std::int64_t unread_bytes = 0;
  std::int64_t reserved_bytes = 0;
};

// Thread-safe.
class LiveMetrics {
 public:
  // An event sent to one listener.
  void CountForwarded() { forwarded_.fetch_add(1, std::memory_order_relaxed); }
  // An event not sent to a listener it matched: its window (or queue) was full.
  void CountDropped() { dropped_.fetch_add(1, std::memory_order_relaxed); }
  void CountExpired() { expired_.fetch_add(1, std::memory_order_relaxed); }
  void CountRefused(LiveRefusal refusal, std::uint64_t n = 1) {
    refused_[LiveRefusalIndex(refusal)].fetch_add(n, std::memory_order_relaxed);
  }
  // Listeners held (those expired included, until their connection is gone), patterns of
  // the listeners events go to, bytes sent and not credited, windows granted.
  void SetGauges(std::int64_t listeners, std::int64_t subscriptions, std::int64_t unread_bytes,
                 std::int64_t reserved_bytes) {
    listeners_.store(listeners, std::memory_order_relaxed);
    subscriptions_.store(subscriptions, std::memory_order_relaxed);
    unread_bytes_.store(unread_bytes, std::memory_order_relaxed);
    reserved_bytes_.store(reserved_bytes, std::memory_order_relaxed);
  }

  LiveMetricsSnapshot Snapshot() const;

 private:
  std::atomic<std::uint64_t> forwarded_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> expired_{0};
  std::array<std::atomic<std::uint64_t>, kLiveRefusalCount> refused_{};
  std::atomic<std::int64_t> listeners_{0};
  std::atomic<std::int64_t> subscriptions_{0};
  std::atomic<std::int64_t> unread_bytes_{0};
  std::atomic<std::int64_t> reserved_bytes_{0};
};

}  // namespace signalbus::broker
