// The transport seam of a Receiver: where decoded events come from. Today the broker's
// live fan-out (LiveSource, a SUB socket, at-most-once); later a consumer-group channel
// (DEALER, at-least-once) that acks or nacks each delivery in Settle().
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/core/topic.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

// One event as the transport delivered it: well-formed, decoded and validated, with a
// topic that is TopicOf(event).
struct Delivery {
  std::string topic;
  v1::Event event;
};

// What one bounded wait on a source produced.
struct Received {
  enum class Kind {
    kNothing,    // the wait ended without a message (timeout or interrupted by a signal)
    kEvent,      // `delivery` holds an event
    kMalformed,  // a message was dropped; `problem` says why, printable and truncated
  };
  Kind kind = Kind::kNothing;
  Delivery delivery;
  std::string problem;
};

// Used by one thread at a time (the Receiver's Run() thread).
class EventSource {
 public:
  virtual ~EventSource() = default;

  // Connects and subscribes so that at least every topic matching one of `patterns`
  // is delivered (a source may deliver more: the Receiver matches exactly).
  // REQUIRES: not open.
  virtual Status Open(const std::vector<TopicPattern>& patterns) = 0;

  // Waits at most `timeout` for the next message. Bad bytes from a peer are a
  // kMalformed result, never an error; an error Status means the source is unusable.
  // REQUIRES: open.
  virtual Result<Received> Receive(std::chrono::milliseconds timeout) = 0;

  // Called once per kEvent after its handlers ran; `handled` is false if any handler
  // failed. The live source forgets the event (at-most-once); a consumer-group source
  // will ack or nack it here.
  virtual void Settle(const Delivery& delivery, bool handled) {}

  // Releases the connection. Idempotent.
  virtual void Close() = 0;

  // For logs: "live tcp://127.0.0.1:5556".
  virtual std::string Describe() const = 0;
};

}  // namespace signalbus
