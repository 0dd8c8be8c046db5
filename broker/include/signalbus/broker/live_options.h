// The live fan-out's limits (flags of signalbus-broker) and the protocol's fixed bounds.
// See docs/wire-protocol.md ("Live listeners").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "signalbus/core/sockets.h"

namespace signalbus::broker {

struct LiveOptions {
  // Listeners at once (connections that subscribed, until their connection is gone).
  std::size_t max_listeners = 256;
  // Of those, the most one principal may hold (0: no bound of its own).
  std::size_t max_listeners_per_principal = 0;
  // Topic patterns one listener may hold.
  std::size_t max_patterns = 256;
  // The largest window one listener is granted: what the broker holds for it at most.
  std::uint64_t max_window_bytes = std::uint64_t{8} << 20;
  // All listeners' windows together: a listener is refused once they are all taken.
  std::uint64_t total_window_bytes = std::uint64_t{256} << 20;
  // Of those, the most one principal's listeners may hold together (0: no bound of its own).
  std::uint64_t window_bytes_per_principal = 0;
  // The longest heartbeat interval granted: a listener that vanishes is forgotten after
  // three of its intervals.
  std::chrono::milliseconds max_heartbeat{30'000};
  // CURVE server on the live socket (docs/security.md); nullopt: none.
  std::optional<CurveSecurity> curve;
};

// A listener that asks for no particular window or heartbeat gets these.
inline constexpr std::uint64_t kDefaultLiveWindowBytes = std::uint64_t{4} << 20;
inline constexpr std::chrono::milliseconds kDefaultLiveHeartbeat{1000};
// The smallest window granted: below it a listener is refused (no_window_left).
inline constexpr std::uint64_t kMinLiveWindowBytes = std::uint64_t{64} << 10;
inline constexpr std::chrono::milliseconds kMinLiveHeartbeat{100};
// A listener silent for this many heartbeat intervals is forgotten.
inline constexpr int kLiveMissedHeartbeats = 3;
// One request frame at most; a larger one makes ZeroMQ drop the connection.
inline constexpr std::size_t kMaxLiveRequestBytes = 16 << 10;

}  // namespace signalbus::broker
