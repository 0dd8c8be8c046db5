// Ingest: the ROUTER socket publishers connect to with DEALER sockets. Reads each message
// with at most three frames held in memory (the connection's routing id and the first
// two frames; any more are read and released one at a time) — a batch holds at most its
// bounded events — tells a connection's probe, a hello, an event and a batch apart, has
// the validator judge each event and access control whether its sender may publish it
// (docs/security.md), and hands everything to the IngestHandler together with the
// routing id of the connection it came on. Send() answers one connection, never another.
//
// Data flow: publisher DEALER -> Ingest (ROUTER) -> ValidateMessage -> IngestHandler (the broker)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "signalbus/broker/access_control.h"
#include "signalbus/broker/event_sink.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/broker/validator.h"
#include "signalbus/core/ingest_protocol.h"
#include "signalbus/core/sockets.h"
#include "signalbus/core/status.h"

namespace signalbus::broker {

// What Ingest reads, by kind. Called on the poll thread; views live only for the call.
class IngestHandler {
 public:
  virtual ~IngestHandler() = default;
  // A new connection's first message (ZMQ_PROBE_ROUTER: one empty frame).
  virtual void OnProbe(std::string_view peer) = 0;
  // ["$hello", hello] (the hello is empty if the message had another frame count) from
  // `sender` (no principal: not authenticated, or its key is no longer allowed).
  virtual void OnHello(std::string_view peer, std::string_view hello, const Peer& sender) = 0;
  // An event the validator accepted. The handler may keep its frames (share them).
  virtual void OnEvent(std::string_view peer, AcceptedEvent& event) = 0;
  // Anything else: why, and its first two frames (empty when absent).
  virtual void OnRejected(std::string_view peer, const Rejection& rejection, std::string_view topic,
                          std::string_view event) = 0;
  // ["$batch", header, topic, event, ...]: each item judged as if sent alone, in order.
  // An atomic batch comes with every item accepted or every item rejected. The handler
  // may keep the items' frames.
  virtual void OnBatch(std::string_view peer, bool atomic, std::vector<BatchItem>& items) = 0;
};

struct IngestOptions {
  std::string endpoint;
  // false: an XSUB that plain PUB sockets connect to — messages carry no routing id,
  // there are no sessions and nothing is sent back (fire-and-forget events only).
  bool routed = true;
  std::size_t max_event_bytes = kDefaultMaxEventBytes;
  // Messages ZeroMQ queues per publisher connection, inbound and outbound (its high-water
  // marks count messages). Inbound, one connection can make the broker hold about
  // recv_hwm x IngestFrameCap(max_event_bytes) bytes before ZeroMQ stops reading it.
  int recv_hwm = 1000;
  int send_hwm = 1000;
  // Bounds on one ["$batch", ...] message: events, and bytes of their topics and events.
  std::size_t max_batch_events = kDefaultMaxBatchEvents;
  std::size_t max_batch_bytes = kDefaultMaxBatchBytes;
  // CURVE server (docs/security.md); nullopt: none.
  std::optional<CurveSecurity> curve;
};

// ZeroMQ's own per-frame cap for a given application limit: far enough above it that
// a frame a little too large reaches the validator and is counted as oversized, low
// enough that a gigantic frame is cut by ZeroMQ (which drops that connection) before
// it is ever buffered whole.
std::int64_t IngestFrameCap(std::size_t max_event_bytes);

// Not thread-safe: used from the poll thread only. The context, metrics, access control
// and handler must outlive the Ingest.
class Ingest {
 public:
  Ingest(zmq::context_t& context, IngestOptions options, Metrics& metrics, AccessControl& access,
         IngestHandler& handler);

  // Creates and binds the socket.
  Status Bind();
  // The endpoint actually bound (with the chosen port). REQUIRES: Bind() succeeded.
  const std::string& endpoint() const { return bound_endpoint_; }
  // The endpoint of the next CURVE key, while it is rotated (curve->next_keys); else empty.
  const std::string& next_endpoint() const { return bound_next_endpoint_; }
  // For zmq::poll. REQUIRES: Bind() succeeded.
  zmq::socket_t& socket() { return socket_; }

  // Handles up to `budget` waiting messages without blocking; returns how many it read.
  // Throws zmq::error_t only for socket failures (never EINTR, never peer bytes).
  std::size_t Drain(std::size_t budget);
  // Sends [kind, bytes] to one connection without blocking (routed only). A connection that is gone, or
  // whose queue is full, misses it: replies and confirms are repeated when the publisher
  // re-sends.
  void Send(std::string_view peer, std::string_view kind, std::string_view bytes);

  void Close();

 private:
  // Reads one whole message if one is waiting. False if none was.
  bool HandleOne();
  // The rest of a ["$batch", ...] message whose first frame was read; `more`: frames follow.
  void HandleBatch(std::string_view peer, bool more, const Peer& sender);
  void Reject(std::string_view peer, const Rejection& rejection, std::string_view topic, std::string_view event);
  // Why `sender` may not publish `topic` (counted and logged by access control), or nullopt.
  std::optional<Rejection> Forbidden(const Peer& sender, std::string_view topic);

  zmq::context_t& context_;
  IngestOptions options_;
  ValidatorOptions validator_options_;
  Metrics& metrics_;
  AccessControl& access_;
  IngestHandler& handler_;
  zmq::socket_t socket_;
  std::string bound_endpoint_;
  std::string bound_next_endpoint_;
};

}  // namespace signalbus::broker
