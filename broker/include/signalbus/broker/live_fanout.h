// Live fan-out: the ROUTER socket live listeners (DEALER) connect to, speaking
// proto/signalbus/v1/live.proto. Each accepted event goes, as its two frames [topic,
// event] shared with ingest (no copy), to every listener a pattern of which matches and
// whose byte window has room; what does not fit is dropped, counted, and reported to the
// listener before its next event. At most once, and never slowing ingest: nothing here
// blocks. Listeners silent for three heartbeat intervals are expired.
//
// Data flow: Ingest -> Journal -> EventSink (this) -> ROUTER -> DEALER listeners.
// Memory: per listener, at most its window (see live_window.h) plus what the protocol's
// fixed bounds allow (docs/wire-protocol.md, "Live listeners").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "signalbus/broker/access_control.h"
#include "signalbus/broker/event_sink.h"
#include "signalbus/broker/live_metrics.h"
#include "signalbus/broker/live_options.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/status.h"

namespace signalbus::v1 {
class LiveReply;
}  // namespace signalbus::v1

namespace signalbus::broker {

class LiveListeners;
class MarkTokens;

// Not thread-safe: used from the poll thread only. The context, metrics and access
// control must outlive the LiveFanout. Every request's sender is identified by access
// control (unidentified ones are dropped) and may hold only patterns it may read.
class LiveFanout : public EventSink {
 public:
  using Clock = std::chrono::steady_clock;

  LiveFanout(zmq::context_t& context, std::string endpoint, LiveOptions options, LiveMetrics& metrics,
             AccessControl& access);
  ~LiveFanout() override;

  Status Bind();
  // The endpoint actually bound. REQUIRES: Bind() succeeded.
  const std::string& endpoint() const { return bound_endpoint_; }
  // The endpoint of the next CURVE key, while it is rotated; else empty.
  const std::string& next_endpoint() const { return bound_next_endpoint_; }
  // For zmq::poll (readable when listeners' requests wait). REQUIRES: Bind() succeeded.
  zmq::socket_t& socket() { return socket_; }

  // Sends one event to each matching listener with room, without blocking. Costs one
  // comparison when no listener holds a pattern.
  void Accept(const AcceptedEvent& event) override;

  // Handles up to `budget` waiting requests; returns how many it read. Nothing a peer
  // sends throws: bad requests are counted, logged (rate-limited) and answered.
  std::size_t Drain(std::size_t budget, Clock::time_point now);
  // After the allow-list was reloaded: listeners whose key is gone lose everything, those
  // whose grant narrowed lose the patterns it no longer covers; each is told (FORBIDDEN)
  // and the refusals counted.
  void Reauthorize();
  // Expires silent listeners, forgets those whose connection is gone, refreshes the
  // gauges. Cheap when called often (it works at most every 100 ms).
  void Tick(Clock::time_point now);

  // Listeners held, (pattern, listener) pairs events go to, and bytes sent to listeners
  // and not credited (charged with the per-message overhead).
  std::size_t listeners() const;
  std::size_t subscriptions() const;
  std::uint64_t unread_bytes() const;

  void Close();

 private:
  enum class SendResult { kSent, kFull, kGone };
  using Slot = std::uint32_t;

  void HandleRequest(std::string_view peer, std::string_view body, Clock::time_point now, const Peer& sender);
  void Deliver(Slot slot, const AcceptedEvent& event, std::uint64_t charge);
  // Charged to the listener's window; false (not sent) when it does not fit. `eager_mark`
  // marks whatever is unmarked (heartbeat answers, replies).
  bool SendCharged(Slot slot, v1::LiveReply& reply, bool eager_mark);
  // A bare mark, not charged (at most LiveWindow::kMaxMarks await credit).
  void SendMarkIfDue(Slot slot, bool eager);
  // To a peer that is no listener: rate-limited, not charged.
  void SendUnlisted(std::string_view peer, const v1::LiveReply& reply);
  SendResult SendReply(std::string_view peer, const v1::LiveReply& reply);
  // Queues [peer, frames...] (consumed) without blocking.
  SendResult SendFrames(std::string_view peer, zmq::message_t* frames, std::size_t count);
  void Refused(std::string_view peer, LiveRefusal why, std::uint64_t n, std::string_view detail);
  // Counts, logs and answers a request that is not one LiveRequest.
  void RefuseBadRequest(std::string_view peer, const std::string& detail);
  void ForgetGone();
  void PublishGauges();

  zmq::context_t& context_;
  std::string endpoint_;
  LiveOptions options_;
  LiveMetrics& metrics_;
  AccessControl& access_;
  zmq::socket_t socket_;
  std::string bound_endpoint_;
  std::string bound_next_endpoint_;
  std::unique_ptr<LiveListeners> listeners_;
  std::unique_ptr<MarkTokens> tokens_;
  std::vector<Slot> gone_;  // connections found gone while the index was being walked
  std::string send_buffer_;
  Clock::time_point next_tick_{};
  RateLimiter log_limiter_;
  RateLimiter unlisted_reply_limiter_;
};

}  // namespace signalbus::broker
