// Why the publisher-session rules refused a hello or an event. Each reason is one label
// of signalbus_ingest_refused_total and the word the publisher is told (SessionReply.
// reason or PublishRejection.reason), so the names are part of the wire interface.
#pragma once

#include <array>
#include <cstddef>

namespace signalbus::broker {

enum class Refusal {
  kNoSession,              // an event on a connection that has no session (new, or the broker restarted)
  kTakenOver,              // an event on a session that a newer connection took over
  kWrongPublisher,         // an event naming another publisher id than its session's
  kSequenceReused,         // a settled sequence, sent again with another event id
  kDuplicateUnverifiable,  // a settled sequence too old for its event id to be remembered
  kPreviouslyRejected,     // a settled sequence whose event was rejected, sent again
  kIdInUse,                // a hello from a publisher behind what the broker holds for that id
  kBadHello,               // a hello that does not parse, names an invalid id, or contradicts itself
  kTooManyPublishers,      // a hello for one publisher id more than --max-publishers
  kForbidden,              // a hello from a connection with no principal (CURVE on, key not allowed), or for
                           // a publisher id another principal speaks for (docs/security.md)
};
inline constexpr std::size_t kRefusalCount = 10;
inline constexpr std::array<Refusal, kRefusalCount> kAllRefusals = {
    Refusal::kNoSession,          Refusal::kTakenOver,          Refusal::kWrongPublisher,
    Refusal::kSequenceReused,     Refusal::kDuplicateUnverifiable, Refusal::kPreviouslyRejected,
    Refusal::kIdInUse,            Refusal::kBadHello,           Refusal::kTooManyPublishers,
    Refusal::kForbidden,
};

// "no_session", "taken_over", ...
const char* RefusalName(Refusal refusal);
inline std::size_t RefusalIndex(Refusal refusal) { return static_cast<std::size_t>(refusal); }

}  // namespace signalbus::broker
