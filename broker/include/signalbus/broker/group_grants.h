// What a principal may ask on the groups socket (docs/security.md): join a group it is
// granted, with subscriptions it may read; the admin requests its admin rights name;
// and, once joined, what a member does (credit, ack, nack, heartbeat, leave).
#pragma once

#include <optional>
#include <string>

#include "signalbus/auth/allow_list.h"
#include "signalbus/broker/auth_refusal.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::broker {

struct GroupRefusal {
  AuthOp op;
  std::string why;  // for the reply and the log: which right is missing
};

// nullopt: `principal` may send `request`.
std::optional<GroupRefusal> CheckGroupRequest(const auth::Principal& principal, const v1::GroupRequest& request);

// The reply that tells the peer: an AdminReply error for an admin request, a fatal
// GroupError otherwise. Both start "forbidden: ".
v1::GroupReply ForbiddenReply(const v1::GroupRequest& request, const std::string& why);

}  // namespace signalbus::broker
