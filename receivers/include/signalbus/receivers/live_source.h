// LiveSource: an EventSource on the broker's live fan-out, a DEALER speaking
// proto/signalbus/v1/live.proto to the broker's live ROUTER (docs/wire-protocol.md, "Live
// listeners"). It subscribes with its topic patterns and a byte window, heartbeats,
// credits each mark the broker sends as soon as it has read it, and subscribes again when
// the broker has forgotten it (a broker restart, or three intervals of silence). At most
// once: what is published while it is not subscribed, or what does not fit its window
// because it fell behind, is not seen; the broker says how many events it dropped, and
// Receive() returns that as kMissed.
//
// Everything runs on the caller's thread, inside Receive(): heartbeats go out between
// events, so a handler that runs longer than three heartbeat intervals gets the listener
// expired (it subscribes again afterwards; what was published meanwhile is not seen).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "signalbus/core/codec.h"
#include "signalbus/core/connection_watch.h"
#include "signalbus/core/curve_config.h"
#include "signalbus/core/logging.h"
#include "signalbus/receivers/event_source.h"
#include "signalbus/v1/live.pb.h"

namespace signalbus {

struct LiveSourceOptions {
  // The most bytes the broker may have sent this listener and not seen read (each event
  // counts its size plus about 512 bytes). Past it the broker drops this listener's events
  // and reports how many. The broker caps it (--live-max-window-bytes; 8 MiB by default)
  // and raises it to at least 64 KiB; an event larger than the window is never delivered.
  std::uint64_t window_bytes = std::uint64_t{4} << 20;
  // How often the listener proves it is there; the broker forgets it after three missed.
  // At least 100 ms; the broker may grant a shorter one (--live-max-heartbeat).
  std::chrono::milliseconds heartbeat{1000};
  // CURVE (docs/security.md): the broker's public key and this listener's key file. Empty
  // fields: $SIGNALBUS_CURVE_SERVER_KEY and $SIGNALBUS_CURVE_KEY_FILE; none: no CURVE.
  CurveClientSettings curve;
};

// Counters since construction.
struct LiveSourceStats {
  std::uint64_t events = 0;      // events received
  std::uint64_t missed = 0;      // events the broker reported dropped for this listener
  std::uint64_t subscribes = 0;  // subscriptions confirmed by the broker, the first included
};

// Used by one thread at a time.
class LiveSource final : public EventSource {
 public:
  // endpoint: the broker's live endpoint, e.g. tcp://127.0.0.1:5556. Events larger
  // than max_event_bytes are dropped as malformed.
  explicit LiveSource(std::string endpoint, std::size_t max_event_bytes = kDefaultMaxEventBytes,
                      LiveSourceOptions options = {});
  ~LiveSource() override;
  LiveSource(const LiveSource&) = delete;
  LiveSource& operator=(const LiveSource&) = delete;

  // Connects and sends the subscription; returns without waiting for the broker (a tail
  // started before the broker waits for it). Errors: a bad endpoint or option, no patterns.
  Status Open(const std::vector<TopicPattern>& patterns) override;
  // Events, kMissed reports, and kMalformed for what a peer sent wrong. An error when the
  // broker refused the listener or one of its patterns (the broker's reason, e.g. "too
  // many live listeners"), or the socket failed.
  Result<Received> Receive(std::chrono::milliseconds timeout) override;
  // Forgets the event: at-most-once.
  void Settle(const Delivery& delivery, bool handled, std::string_view error) override {}
  // Nothing is ever in hand: Receive() returns kDrained from now on.
  void Drain() override;
  void Close() override;
  std::string Describe() const override;

  bool subscribed() const { return state_ == State::kSubscribed; }
  // As granted by the broker in its last LiveSubscribed; 0 until then.
  std::uint64_t granted_window_bytes() const { return granted_window_; }
  const LiveSourceStats& stats() const { return stats_; }

  // The Subscribe requests Open() sends: the patterns, each once, in requests small enough
  // for the broker's request limit. Exposed for tests.
  static std::vector<v1::LiveRequest> SubscribeRequests(const std::vector<TopicPattern>& patterns,
                                                        const LiveSourceOptions& options);

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { kClosed, kSubscribing, kSubscribed };

  // Heartbeats, the broker's silence, subscribe retries, a credit that could not go out.
  void RunTimers(Clock::time_point now);
  void StartSubscribing(Clock::time_point now);
  // One message from the broker, if one waits: sets `out` when it is for the caller.
  bool ReadOne(Clock::time_point now, std::optional<Received>* out);
  void HandleReply(const v1::LiveReply& reply, Clock::time_point now, std::optional<Received>* out);
  Received DecodeEventMessage(const zmq::message_t& topic, const zmq::message_t& body);
  void WaitForMessage(Clock::time_point until);
  Clock::time_point NextTimer() const;
  bool Send(const v1::LiveRequest& request);
  bool SendPending() const { return next_subscribe_request_ < subscribe_requests_.size() || pending_credit_ != 0; }

  const std::string endpoint_;
  const std::size_t max_event_bytes_;
  const LiveSourceOptions options_;

  std::optional<zmq::socket_t> socket_;
  // Handshake refusals: a listener never let in says so instead of waiting.
  std::unique_ptr<ConnectionWatch> watch_;
  State state_ = State::kClosed;
  bool draining_ = false;
  std::optional<Status> refused_;  // the broker refused us: every Receive() says so

  std::vector<v1::LiveRequest> subscribe_requests_;
  std::size_t next_subscribe_request_ = 0;  // the next to send
  std::size_t answers_awaited_ = 0;         // LiveSubscribed still to come
  std::uint64_t pending_credit_ = 0;        // a mark read whose credit could not be sent yet
  std::chrono::milliseconds heartbeat_;      // as granted
  std::uint64_t granted_window_ = 0;

  Clock::time_point last_heard_{};  // the broker's last message
  Clock::time_point next_heartbeat_{};
  Clock::time_point subscribe_deadline_{};  // subscribe again if not answered by then

  LiveSourceStats stats_;
  RateLimiter log_limiter_;
};

}  // namespace signalbus
