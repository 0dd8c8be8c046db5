// Live fan-out: the XPUB socket listeners (SUB) connect to. Every accepted event is
// forwarded as [topic, event]; ZeroMQ filters by the listeners' topic prefixes. At
// most once: a listener that falls behind its high-water mark loses events, and never
// slows ingest. Also reads the listeners' (un)subscriptions to keep a gauge of them.
// Data flow: Ingest -> EventSink (this) -> XPUB -> SUB listeners.
#pragma once

#include <cstdint>
#include <string>

#include <zmq.hpp>

#include "signalbus/broker/event_sink.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/core/status.h"

namespace signalbus::broker {

// Not thread-safe: used from the poll thread only. The context and metrics must
// outlive the LiveFanout.
class LiveFanout : public EventSink {
 public:
  LiveFanout(zmq::context_t& context, std::string endpoint, Metrics& metrics);

  Status Bind();
  // The endpoint actually bound. REQUIRES: Bind() succeeded.
  const std::string& endpoint() const { return bound_endpoint_; }
  // For zmq::poll (readable when subscription messages wait). REQUIRES: Bind() succeeded.
  zmq::socket_t& socket() { return socket_; }

  // Forwards one event without blocking, if any listener is subscribed (as counted by
  // DrainSubscriptions). The frames are shared with the event, not copied.
  void Accept(const AcceptedEvent& event) override;

  // Reads up to `budget` waiting subscription messages and updates the gauge; returns
  // how many it read. Anything else a peer sends up the XPUB is read and ignored.
  std::size_t DrainSubscriptions(std::size_t budget);
  // Subscribes minus unsubscribes seen so far (never below zero).
  std::int64_t subscriptions() const { return subscriptions_; }

  void Close();

 private:
  zmq::context_t& context_;
  std::string endpoint_;
  Metrics& metrics_;
  zmq::socket_t socket_;
  std::string bound_endpoint_;
  std::int64_t subscriptions_ = 0;
};

}  // namespace signalbus::broker
