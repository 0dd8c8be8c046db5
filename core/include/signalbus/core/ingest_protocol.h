// The first frames that tell the messages of an ingest connection apart (publisher
// DEALER <-> broker ROUTER). An event's first frame is its topic, which never starts
// with '$'. See docs/wire-protocol.md ("Publisher sessions").
#pragma once

#include <string_view>

namespace signalbus {

inline constexpr std::string_view kHelloKind = "$hello";      // publisher -> broker: [kind, PublisherHello]
inline constexpr std::string_view kSessionKind = "$session";  // broker -> publisher: [kind, SessionReply]
inline constexpr std::string_view kConfirmKind = "$confirm";  // broker -> publisher: [kind, PublishConfirm]

}  // namespace signalbus
