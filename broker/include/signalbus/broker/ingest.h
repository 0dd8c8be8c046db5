// Ingest: the XSUB socket publishers connect to. Reads each multipart message with at
// most two frames held in memory, has the validator judge it, counts it, and passes
// accepted events to the EventSink and rejections to a handler (the broker logs them).
// Data flow: publisher PUB/XPUB -> Ingest (XSUB) -> ValidateMessage -> EventSink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "signalbus/broker/event_sink.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/broker/validator.h"
#include "signalbus/core/status.h"

namespace signalbus::broker {

// Told about every rejected message: why, and its first two frames (empty if absent).
// The views live only for the call.
using RejectHandler = std::function<void(const Rejection& rejection, std::string_view topic, std::string_view event)>;

struct IngestOptions {
  std::string endpoint;
  std::size_t max_event_bytes = kDefaultMaxEventBytes;
};

// ZeroMQ's own per-frame cap for a given application limit: far enough above it that
// a frame a little too large reaches the validator and is counted as oversized, low
// enough that a gigantic frame is cut by ZeroMQ (which drops that connection) before
// it is ever buffered whole.
std::int64_t IngestFrameCap(std::size_t max_event_bytes);

// Not thread-safe: used from the poll thread only. The context, metrics and sink must
// outlive the Ingest.
class Ingest {
 public:
  Ingest(zmq::context_t& context, IngestOptions options, Metrics& metrics, EventSink& sink, RejectHandler on_reject);

  // Creates and binds the socket, then subscribes to everything, so that publishers
  // (which wait for a subscription before sending) start sending.
  Status Bind();
  // The endpoint actually bound (with the chosen port). REQUIRES: Bind() succeeded.
  const std::string& endpoint() const { return bound_endpoint_; }
  // For zmq::poll. REQUIRES: Bind() succeeded.
  zmq::socket_t& socket() { return socket_; }

  // Handles up to `budget` waiting messages without blocking; returns how many it read.
  // Throws zmq::error_t only for socket failures (never EINTR, never peer bytes).
  std::size_t Drain(std::size_t budget);

  void Close();

 private:
  // Reads one whole message if one is waiting. False if none was.
  bool HandleOne();

  zmq::context_t& context_;
  IngestOptions options_;
  ValidatorOptions validator_options_;
  Metrics& metrics_;
  EventSink& sink_;
  RejectHandler on_reject_;
  zmq::socket_t socket_;
  std::string bound_endpoint_;
};

}  // namespace signalbus::broker
