// Group requests against a principal's grants.
#include "signalbus/broker/group_grants.h"

namespace signalbus::broker {
namespace {

// The admin right a request needs, or nullptr for a member's request.
const char* AdminRight(const v1::GroupRequest& request) {
  switch (request.kind_case()) {
    case v1::GroupRequest::kListGroups: return "list";
    // Dead letters carry their events: reading them is reading the group's topics.
    case v1::GroupRequest::kListDeadLetters: return "dead-letters";
    case v1::GroupRequest::kReplayDeadLetters: return "replay";
    case v1::GroupRequest::kPurgeDeadLetters: return "purge";
    case v1::GroupRequest::kSeekGroup: return "seek";
    case v1::GroupRequest::kDeleteGroup: return "delete";
    case v1::GroupRequest::kSetGroupSettings: return "settings";
    default: return nullptr;
  }
}

}  // namespace

std::optional<GroupRefusal> CheckGroupRequest(const auth::Principal& principal, const v1::GroupRequest& request) {
  if (principal.everything) return std::nullopt;
  if (const char* right = AdminRight(request)) {
    if (principal.MayAdmin(right)) return std::nullopt;
    return GroupRefusal{AuthOp::kAdmin, "principal '" + principal.name + "' has no admin right '" + right + "'"};
  }
  if (request.kind_case() != v1::GroupRequest::kJoin) return std::nullopt;
  const v1::Join& join = request.join();
  if (!principal.MayJoin(join.group())) {
    return GroupRefusal{AuthOp::kJoin, "principal '" + principal.name + "' may not join group '" + join.group() + "'"};
  }
  for (const std::string& text : join.config().subscriptions()) {
    Result<TopicPattern> pattern = TopicPattern::Parse(text);
    if (!pattern.ok()) continue;  // the coordinator refuses it, saying why
    if (!principal.MaySubscribe(*pattern)) {
      return GroupRefusal{AuthOp::kSubscribe,
                          "principal '" + principal.name + "' may not read " + pattern->ToString()};
    }
  }
  return std::nullopt;
}

v1::GroupReply ForbiddenReply(const v1::GroupRequest& request, const std::string& why) {
  v1::GroupReply reply;
  if (AdminRight(request) != nullptr) {
    reply.mutable_admin()->set_error("forbidden: " + why);
  } else {
    reply.mutable_error()->set_message("forbidden: " + why);
    reply.mutable_error()->set_fatal(true);
  }
  return reply;
}

}  // namespace signalbus::broker
