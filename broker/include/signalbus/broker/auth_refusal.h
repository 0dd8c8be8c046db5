// What the broker's access control refused (docs/security.md). Each is one label of
// signalbus_auth_refused_total{op="..."}.
#pragma once

#include <array>
#include <cstddef>

namespace signalbus::broker {

enum class AuthOp {
  kConnect,    // a handshake the ZAP handler refused: a key not in the allow-list, or not CURVE
  kMessage,    // a message with no User-Id, or from a key no longer in the allow-list
  kPublish,    // an event (or a hello) its principal may not publish
  kSubscribe,  // a live pattern, or a group subscription, outside its principal's grants
  kJoin,       // a group its principal may not join
  kAdmin,      // an admin request its principal may not make
};
inline constexpr std::size_t kAuthOpCount = 6;
inline constexpr std::array<AuthOp, kAuthOpCount> kAllAuthOps = {AuthOp::kConnect,   AuthOp::kMessage,
                                                                 AuthOp::kPublish,   AuthOp::kSubscribe,
                                                                 AuthOp::kJoin,      AuthOp::kAdmin};

// "connect", "message", "publish", ...
const char* AuthOpName(AuthOp op);
inline std::size_t AuthOpIndex(AuthOp op) { return static_cast<std::size_t>(op); }

}  // namespace signalbus::broker
