// Who sent a message, and whether they may (docs/security.md). With CURVE off, every
// peer is "everyone" and may do everything. With CURVE on, a message's principal is the
// allow-list entry of the key in its User-Id property (set by the ZAP handler at the
// handshake): looked up in the current list on every message, so a key removed by a
// reload stops working on the connections it already has. Never from a payload field or
// a routing id. Refusals are counted by operation and logged, rate-limited, with the
// key's fingerprint (a public key's first characters; never a secret).
//
// Used on the broker's poll thread only.
#pragma once

#include <memory>
#include <string_view>

#include <zmq.hpp>

#include "signalbus/auth/allow_list.h"
#include "signalbus/broker/auth_refusal.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/core/logging.h"

namespace signalbus::broker {

// A message's sender, as access control knows it.
struct Peer {
  const auth::Principal* principal = nullptr;  // nullptr: refused (no User-Id, key not allowed)
  std::string_view key;                        // Z85; empty with CURVE off

  explicit operator bool() const { return principal != nullptr; }
};

class AccessControl {
 public:
  explicit AccessControl(Metrics& metrics);

  // From now on every message is checked against `list` (replaced on each reload).
  void Enforce(std::shared_ptr<const auth::AllowList> list);
  bool enforced() const { return list_ != nullptr; }
  // The list in force; nullptr with CURVE off.
  const auth::AllowList* list() const { return list_.get(); }

  // The sender of the message `frame` belongs to: a frame the peer sent, not the
  // routing id a ROUTER prepends (libzmq 4.3 does not always give it the connection's
  // properties). A refusal is counted (op "message") and logged.
  Peer Identify(const zmq::message_t& frame);

  // The principal `key` authenticates as under the list in force (Everyone() with CURVE
  // off); nullptr when it is no longer allowed. For re-checking what a key was given.
  const auth::Principal* PrincipalOf(std::string_view key) const;

  // Counts (`n` times) and logs a refusal of `op` to `peer`: `what` says what was asked.
  void Refused(AuthOp op, const Peer& peer, std::string_view what, std::uint64_t n = 1);

 private:
  Metrics& metrics_;
  std::shared_ptr<const auth::AllowList> list_;
  RateLimiter log_limiter_{5, 20};
};

}  // namespace signalbus::broker
