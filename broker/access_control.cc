// Access control on the broker's poll thread: User-Id to principal, refusals counted.
#include "signalbus/broker/access_control.h"

#include <spdlog/spdlog.h>

namespace signalbus::broker {

const char* AuthOpName(AuthOp op) {
  switch (op) {
    case AuthOp::kConnect: return "connect";
    case AuthOp::kMessage: return "message";
    case AuthOp::kPublish: return "publish";
    case AuthOp::kSubscribe: return "subscribe";
    case AuthOp::kJoin: return "join";
    case AuthOp::kAdmin: return "admin";
  }
  return "unknown";
}

AccessControl::AccessControl(Metrics& metrics) : metrics_(metrics) {}

void AccessControl::Enforce(std::shared_ptr<const auth::AllowList> list) { list_ = std::move(list); }

Peer AccessControl::Identify(const zmq::message_t& frame) {
  if (list_ == nullptr) return Peer{&auth::Everyone(), {}};
  const char* user_id = zmq_msg_gets(frame.handle(), "User-Id");
  if (user_id == nullptr || *user_id == '\0') {
    Refused(AuthOp::kMessage, Peer{}, "a message without a User-Id (not authenticated by CURVE)");
    return Peer{};
  }
  Peer peer{list_->Find(user_id), user_id};
  if (!peer) Refused(AuthOp::kMessage, peer, "a message from a key that is no longer in the allow-list");
  return peer;
}

const auth::Principal* AccessControl::PrincipalOf(std::string_view key) const {
  return list_ == nullptr ? &auth::Everyone() : list_->Find(key);
}

void AccessControl::Refused(AuthOp op, const Peer& peer, std::string_view what, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) metrics_.CountAuthRefused(op);
  if (!log_limiter_.Allow()) return;
  spdlog::warn("access refused ({}): {} from {} (key {}...){}", AuthOpName(op), what,
               peer.principal != nullptr ? peer.principal->name : std::string("an unknown principal"),
               peer.key.empty() ? std::string("none") : auth::KeyFingerprint(peer.key),
               [&] {
                 std::uint64_t n = log_limiter_.TakeSuppressed();
                 return n == 0 ? std::string() : " (" + std::to_string(n) + " similar lines suppressed)";
               }());
}

}  // namespace signalbus::broker
