// Admission check for ingest. The cheap checks (frame count, size, topic grammar) run
// first, so most garbage is refused without allocating; then an event protobuf wrote
// the usual way is checked by a walk over its bytes (canonical_event.h), and anything
// else by a full parse, which also names what is wrong.
#include "signalbus/broker/validator.h"

#include "canonical_event.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/topic.h"

namespace signalbus::broker {

const char* RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kFrameCount: return "frame_count";
    case RejectReason::kOversized: return "oversized";
    case RejectReason::kBadTopic: return "bad_topic";
    case RejectReason::kUndecodable: return "undecodable";
    case RejectReason::kInvalidEvent: return "invalid_event";
    case RejectReason::kTopicMismatch: return "topic_mismatch";
    case RejectReason::kBadBatch: return "bad_batch";
    case RejectReason::kAtomicBatch: return "atomic_batch";
    case RejectReason::kForbidden: return "forbidden";
  }
  return "unknown";
}

Verdict ValidateMessage(std::size_t frame_count, std::string_view topic, std::string_view event,
                        const ValidatorOptions& options) {
  if (frame_count != 2) {
    return Rejection{RejectReason::kFrameCount,
                     "message has " + std::to_string(frame_count) + " frames (expected 2: topic, event)"};
  }
  if (event.size() > options.max_event_bytes) {
    return Rejection{RejectReason::kOversized, "event of " + std::to_string(event.size()) +
                                                   " bytes is over the limit of " +
                                                   std::to_string(options.max_event_bytes)};
  }
  Result<TopicParts> parts = ParseTopic(topic);
  if (!parts.ok()) return Rejection{RejectReason::kBadTopic, parts.status().message()};

  // Not DecodeEvent(): it folds "not protobuf" and "protobuf, but invalid" into one
  // status, and the two are different reasons here. An empty frame parses as an empty
  // Event; it is counted as undecodable, as DecodeEvent() does.
  if (event.empty()) return Rejection{RejectReason::kUndecodable, "event frame is empty"};
  // The fast path: an event written the usual way is checked without being built. When it
  // is not sure (or the event is invalid), the full parse below decides and says why.
  if (std::optional<CanonicalFields> fast = CheckCanonicalEvent(event);
      fast && fast->sender == parts->sender && fast->signal == parts->signal) {
    EventFields fields;
    fields.event_id = fast->event_id;
    fields.publisher_id = fast->publisher_id;
    fields.sequence = fast->sequence;
    fields.unconfirmed_from = fast->unconfirmed_from;
    fields.ordering_key = fast->ordering_key;
    return fields;
  }
  // ParseEvent, not ParseFromArray: protobuf's complaint (a string that is not UTF-8)
  // becomes the detail, logged with the rejection (rate-limited), and not once per
  // message by protobuf itself.
  v1::Event decoded;
  if (Status s = ParseEvent(event, decoded); !s.ok()) {
    // Nested beyond protobuf's recursion limit: refused for its nesting, as an event
    // nested just beyond ours is (by ValidateEvent below).
    if (ExceedsValueNesting(event)) {
      return Rejection{RejectReason::kInvalidEvent, NestedTooDeeply("the event's JSON values").message()};
    }
    return Rejection{RejectReason::kUndecodable, s.message()};
  }
  if (Status s = ValidateEvent(decoded); !s.ok()) {
    return Rejection{RejectReason::kInvalidEvent, s.message()};
  }
  // Compared part by part: same result as topic == TopicOf(decoded), without building it.
  if (parts->sender != decoded.sender() || parts->signal != decoded.signal()) {
    return Rejection{RejectReason::kTopicMismatch, "topic '" + Printable(topic) + "' but the event is " +
                                                       TopicOf(decoded)};
  }
  EventFields fields;
  fields.event_id = std::move(*decoded.mutable_event_id());
  fields.publisher_id = std::move(*decoded.mutable_publisher_id());
  fields.sequence = decoded.sequence();
  fields.unconfirmed_from = decoded.unconfirmed_from();
  fields.ordering_key = std::move(*decoded.mutable_ordering_key());
  return fields;
}

}  // namespace signalbus::broker
