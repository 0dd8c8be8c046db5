// The seam between ingest and whatever consumes accepted events. Today the live
// fan-out is the only sink; the durable log will be another (and then the one that
// decides when the fan-out sees an event).
#pragma once

#include <optional>
#include <string_view>

#include <zmq.hpp>

#include "signalbus/broker/validator.h"

namespace signalbus::broker {

// One accepted message: its two frames as received (no copy was made) and the
// decoded fields the validator extracted.
struct AcceptedEvent {
  zmq::message_t topic;
  zmq::message_t event;
  EventFields fields;

  std::string_view topic_view() const { return topic.to_string_view(); }
  std::string_view event_view() const { return event.to_string_view(); }
};

// One event of a batch: accepted (fields set), or why not.
struct BatchItem {
  AcceptedEvent event;
  std::optional<Rejection> rejection;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Called on the poll thread, once per accepted event, in ingest order. The event
  // lives only for the call: a sink that keeps the bytes shares or copies the frames.
  virtual void Accept(const AcceptedEvent& event) = 0;
};

}  // namespace signalbus::broker
