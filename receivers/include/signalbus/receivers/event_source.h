// The transport seam of a Receiver: where decoded events come from and where their
// outcome goes. Two implementations: LiveSource (the broker's live fan-out, a DEALER,
// at-most-once) and GroupSource (a consumer group over a DEALER, at-least-once: it acks
// or nacks each delivery in Settle()).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
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
  // Where the event sits in the broker's log and which delivery attempt this is (1 for
  // the first). Set by a consumer-group source; 0 for the live fan-out.
  std::uint64_t offset = 0;
  std::uint32_t attempt = 0;
  // Part of an atomic batch delivered as one unit (a database transaction's events):
  // the unit's first offset and how many deliveries it has; 0 when it stands alone. A
  // group source answers the unit once every one of its events is settled.
  std::uint64_t unit_offset = 0;
  std::uint32_t unit_size = 0;
};

// What one bounded wait on a source produced.
struct Received {
  enum class Kind {
    kNothing,    // the wait ended without a message (timeout or interrupted by a signal)
    kEvent,      // `delivery` holds an event
    kMalformed,  // a message was dropped; `problem` says why, printable and truncated
    kMissed,     // the broker dropped `missed` events for this receiver (live: it fell behind)
    kDrained,    // after Drain(): every delivery in hand was returned; call Close()
  };
  Kind kind = Kind::kNothing;
  Delivery delivery;
  std::string problem;
  std::uint64_t missed = 0;
};

// Used by one thread at a time (the Receiver's Run() thread).
class EventSource {
 public:
  virtual ~EventSource() = default;

  // Connects and subscribes so that at least every topic matching one of `patterns`
  // is delivered (a source may deliver more: the Receiver matches exactly). Returns once
  // the source is ready to deliver (a group source: once the broker confirmed the join).
  // REQUIRES: not open.
  virtual Status Open(const std::vector<TopicPattern>& patterns) = 0;

  // Waits at most `timeout` for the next message. Bad bytes from a peer are a
  // kMalformed result, never an error; an error Status means the source is unusable.
  // REQUIRES: open.
  virtual Result<Received> Receive(std::chrono::milliseconds timeout) = 0;

  // Called once per kEvent after its handlers ran. `handled` is false if a handler
  // failed; `error` then says why (the handler's exception text), else it is empty. The
  // live source forgets the event (at-most-once); a group source acks or nacks it.
  virtual void Settle(const Delivery& delivery, bool handled, std::string_view error) = 0;

  // Stops taking new deliveries (a group source asks the broker for nothing more and
  // hands back what arrives from now on). Receive() then returns the deliveries already
  // in hand, one per call, and kDrained once none is left. Idempotent.
  // REQUIRES: open.
  virtual void Drain() = 0;

  // Releases the connection. A group source first sends the acks and nacks it still
  // holds and leaves its group. Idempotent; the source may be opened again.
  virtual void Close() = 0;

  // For logs: "live tcp://127.0.0.1:5556".
  virtual std::string Describe() const = 0;
};

}  // namespace signalbus
