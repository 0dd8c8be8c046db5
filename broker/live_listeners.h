// The live fan-out's listeners: one record per connection that subscribed (by its ROUTER
// routing id), its patterns, window and heartbeat, and the index that finds the listeners
// an event's topic matches in four hash lookups. It decides what Subscribe and
// Unsubscribe do (the limits of LiveOptions) and when a silent listener is expired; it
// has no socket and no clock of its own (LiveFanout drives it).
//
// A record lives as long as its connection: an expired listener gets no events, but keeps
// its record, and its window reservation, until the fan-out learns that the connection is
// gone or the listener credits everything back. Its unread messages may still sit in the
// ROUTER's pipe, and forgetting them would let one connection pin window after window.
//
// Not thread-safe (the broker's poll thread).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "live_window.h"
#include "signalbus/auth/allow_list.h"
#include "signalbus/broker/live_metrics.h"
#include "signalbus/broker/live_options.h"
#include "signalbus/core/pattern_index.h"
#include "signalbus/core/topic.h"
#include "signalbus/v1/live.pb.h"

namespace signalbus::broker {

class LiveListeners {
 public:
  using Clock = std::chrono::steady_clock;
  using Slot = std::uint32_t;

  struct Listener {
    std::string peer;         // the ROUTER routing id
    std::string principal;    // who it authenticated as, in shares_
    std::string key;          // with which CURVE key (Z85; empty with CURVE off)
    std::uint64_t number = 0;  // for logs: "live listener 7"
    PatternSet patterns;      // what it holds, for membership
    std::vector<TopicPattern> pattern_list;  // the same, to take them out of the index
    LiveWindow window{0};
    std::chrono::milliseconds heartbeat = kDefaultLiveHeartbeat;
    Clock::time_point last_heard;
    // Expired: silent for kLiveMissedHeartbeats intervals; gets no events, is probed.
    bool expired = false;
    Clock::time_point next_probe;
    std::chrono::milliseconds probe_interval{0};
    std::uint64_t missed = 0;   // events dropped and not yet reported to it
    std::uint64_t offered = 0;  // the last event it was offered (each event once)
    bool in_use = false;
  };

  // What a request did: the reply, to the listener (charged to its window) or, when
  // `slot` is empty, to a peer that is no listener; and what to count as refused.
  struct Outcome {
    v1::LiveReply reply;
    std::optional<Slot> slot;
    bool created = false;
    std::array<std::uint32_t, kLiveRefusalCount> refused{};
  };

  explicit LiveListeners(const LiveOptions& options);

  // Makes `peer` a listener if it is none (refused past max_listeners, or when no window
  // of at least kMinLiveWindowBytes is left), revives it if it expired, applies the window
  // and heartbeat asked for, and adds the patterns (each refused if it is no topic pattern,
  // past max_patterns, or not one `reader` may read). Answered with LiveSubscribed, or
  // LiveError when refused. `reader` must outlive the call only.
  Outcome Subscribe(std::string_view peer, const v1::LiveSubscribe& request, Clock::time_point now,
                    const auth::Principal& reader = auth::Everyone(), std::string_view key = {});
  // After the allow-list changed: what `principal_of` (key -> principal, nullptr: no
  // longer allowed) no longer grants is taken away. A listener whose key is gone, whose
  // key now names another principal, or that may read none of its patterns any more is
  // returned with `whole` (the caller tells it and forgets it); one that lost some
  // patterns keeps the others, and the lost ones are returned.
  struct Revoked {
    Slot slot;
    bool whole = false;
    std::vector<std::string> patterns;
  };
  std::vector<Revoked> Revoke(const std::function<const auth::Principal*(std::string_view key)>& principal_of);
  // Removes the patterns the listener holds; the others change nothing (counted as
  // not_subscribed). A peer that is no listener gets UNKNOWN_LISTENER.
  Outcome Unsubscribe(std::string_view peer, const v1::LiveUnsubscribe& request, Clock::time_point now);

  std::optional<Slot> Find(std::string_view peer) const;
  Listener& at(Slot slot) { return slots_[slot]; }
  // Any request from a listener proves it is there.
  void Heard(Slot slot, Clock::time_point now) { slots_[slot].last_heard = now; }

  // Calls fn(slot, listener) once for each listener (not expired) a pattern of which
  // matches `topic`. `fn` must not Subscribe, Unsubscribe, Expire or Forget.
  template <typename Fn>
  void ForEachMatch(std::string_view topic, Fn&& fn) {
    const std::uint64_t stamp = ++stamp_;
    index_.ForEachMatch(topic, [&](Slot slot) {
      Listener& l = slots_[slot];
      if (l.offered == stamp) return;  // a second matching pattern of the same listener
      l.offered = stamp;
      fn(slot, l);
    });
  }

  // Expires every listener silent for kLiveMissedHeartbeats of its intervals: its patterns
  // leave the index, its record stays. Calls fn(slot) for each.
  void Expire(Clock::time_point now, const std::function<void(Slot)>& fn);
  // Calls fn(slot) for each record in use.
  void ForEach(const std::function<void(Slot)>& fn);
  // Erases the record: its patterns, its window reservation, its slot.
  void Forget(Slot slot);

  // Records (expired ones included): what max_listeners caps.
  std::size_t size() const { return by_peer_.size(); }
  // (pattern, listener) pairs events are matched against: 0 means nobody is sent anything.
  std::size_t subscriptions() const { return index_.size(); }
  // Windows granted, in total (at most total_window_bytes).
  std::uint64_t reserved_bytes() const { return reserved_; }
  const LiveOptions& options() const { return options_; }

 private:
  std::optional<Slot> Create(std::string_view peer, std::uint64_t want_window, Clock::time_point now,
                             const std::string& principal, Outcome* out);
  // The window to grant for `want` (0: the default; raised to kMinLiveWindowBytes, cut to
  // max_window_bytes), given `held` already granted to this listener of `principal`; 0
  // if not even kMinLiveWindowBytes is left, in total or of the principal's share.
  std::uint64_t Grant(std::uint64_t want, std::uint64_t held, const std::string& principal) const;
  void AddPattern(Slot slot, std::string_view text, const auth::Principal& reader, Outcome* out);
  void ClearPatterns(Slot slot);
  static void Refuse(Outcome* out, LiveRefusal why, std::string_view pattern, std::string message);

  LiveOptions options_;
  std::vector<Listener> slots_;
  std::vector<Slot> free_;
  std::unordered_map<std::string, Slot, pattern_index_internal::StringHash, std::equal_to<>> by_peer_;
  // What each principal's listeners hold, for the per-principal bounds.
  struct Share {
    std::size_t listeners = 0;
    std::uint64_t window_bytes = 0;
  };
  std::unordered_map<std::string, Share> shares_;
  void Reserve(Listener& l, std::uint64_t window);
  PatternIndex<Slot> index_;
  std::uint64_t reserved_ = 0;
  std::uint64_t stamp_ = 0;
  std::uint64_t next_number_ = 1;
};

}  // namespace signalbus::broker
