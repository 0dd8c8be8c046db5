// The first frames that tell the messages of an ingest connection apart (publisher
// DEALER <-> broker ROUTER). An event's first frame is its topic, which never starts
// with '$'. See docs/wire-protocol.md ("Publisher sessions").
#pragma once

#include <cstddef>
#include <string_view>

namespace signalbus {

inline constexpr std::string_view kHelloKind = "$hello";      // publisher -> broker: [kind, PublisherHello]
inline constexpr std::string_view kSessionKind = "$session";  // broker -> publisher: [kind, SessionReply]
inline constexpr std::string_view kConfirmKind = "$confirm";  // broker -> publisher: [kind, PublishConfirm]
// publisher -> broker: [kind, BatchHeader, topic 1, event 1, ..., topic N, event N]
inline constexpr std::string_view kBatchKind = "$batch";
// A broker's default bounds on one batch (SessionReply.max_batch_events / _bytes).
inline constexpr std::size_t kDefaultMaxBatchEvents = 1000;
inline constexpr std::size_t kDefaultMaxBatchBytes = 4u << 20;

}  // namespace signalbus
