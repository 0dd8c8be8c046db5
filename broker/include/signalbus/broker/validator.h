// The broker's admission check: decides whether one message read from the ingest
// socket is a well-formed [topic, event] pair. Pure (no I/O, no state), so every
// rejection reason is unit-tested without sockets. Ingest calls it for each message;
// what it accepts goes on to the EventSink (live fan-out now, the durable log later).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "signalbus/core/codec.h"

namespace signalbus::broker {

// Why a message was dropped. Each reason is one label of the
// signalbus_ingest_rejected_total metric, so the names are part of the interface.
enum class RejectReason {
  kFrameCount,     // not exactly 2 frames
  kOversized,      // event frame larger than the configured limit
  kBadTopic,       // topic frame is not "<sender>/<signal>"
  kUndecodable,    // event frame is empty or not a signalbus.v1.Event
  kInvalidEvent,   // decodes, but ValidateEvent() refuses it (schema_version included);
                   // or nests its values deeper than kMaxValueNesting, however deep
  kTopicMismatch,  // topic frame differs from the event's sender/signal
  kBadBatch,       // a ["$batch", ...] message that breaks the batch rules (header, count,
                   // limits; an atomic batch's publisher and consecutive sequences)
  kAtomicBatch,    // valid itself, but another event of its atomic batch was rejected
  kForbidden,      // valid, but its sender's principal may not publish its topic (docs/security.md)
};
inline constexpr std::size_t kRejectReasonCount = 9;
inline constexpr std::array<RejectReason, kRejectReasonCount> kAllRejectReasons = {
    RejectReason::kFrameCount,   RejectReason::kOversized,    RejectReason::kBadTopic,
    RejectReason::kUndecodable,  RejectReason::kInvalidEvent, RejectReason::kTopicMismatch,
    RejectReason::kBadBatch,     RejectReason::kAtomicBatch,  RejectReason::kForbidden,
};

// "frame_count", "oversized", ...: the metric label and the word used in logs.
const char* RejectReasonName(RejectReason reason);
inline std::size_t RejectReasonIndex(RejectReason reason) { return static_cast<std::size_t>(reason); }

struct Rejection {
  RejectReason reason;
  // For people: what was wrong. Peer bytes in it have been through Printable().
  std::string detail;
};

// What an accepted event carries beyond its bytes: the fields that deduplication,
// ordering and the durable log need, so that nothing downstream decodes it again.
struct EventFields {
  std::string event_id;
  std::string publisher_id;
  std::uint64_t sequence = 0;
  std::uint64_t unconfirmed_from = 0;
  std::string ordering_key;
};

// Either the accepted event's fields or the reason it was rejected.
class Verdict {
 public:
  Verdict(EventFields fields) : data_(std::move(fields)) {}     // NOLINT: implicit by design
  Verdict(Rejection rejection) : data_(std::move(rejection)) {}  // NOLINT: implicit by design

  bool accepted() const { return std::holds_alternative<EventFields>(data_); }
  // REQUIRES: accepted().
  EventFields& fields() { return std::get<EventFields>(data_); }
  const EventFields& fields() const { return std::get<EventFields>(data_); }
  // REQUIRES: !accepted().
  const Rejection& rejection() const { return std::get<Rejection>(data_); }

 private:
  std::variant<EventFields, Rejection> data_;
};

struct ValidatorOptions {
  std::size_t max_event_bytes = kDefaultMaxEventBytes;
};

// Checks, in this order: exactly 2 frames; event frame within max_event_bytes; topic
// parses; event frame decodes; the event validates; topic == TopicOf(event).
// `frame_count` is the number of frames the message had; `topic` and `event` are its
// first two frames (empty views when absent). Never throws on any input.
Verdict ValidateMessage(std::size_t frame_count, std::string_view topic, std::string_view event,
                        const ValidatorOptions& options = {});

}  // namespace signalbus::broker
