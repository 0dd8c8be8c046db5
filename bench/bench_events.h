// The event the benchmarks carry: a post_save of a newly created auth.User, about 200
// bytes serialized, the size the DESIGN.md figures are quoted for.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "signalbus/v1/event.pb.h"

namespace signalbus::bench {

inline constexpr std::string_view kUserSender = "auth.User";
inline constexpr std::string_view kUserTopic = "auth.User/post_save";

// The instance of user `pk`: pk, username, email, is_staff.
v1::Instance UserInstance(std::uint64_t pk);
// The whole event, as the publisher `publisher_id` encodes it (sequence = pk).
std::string EncodedUserSaved(std::uint64_t pk, std::string_view publisher_id);

}  // namespace signalbus::bench
