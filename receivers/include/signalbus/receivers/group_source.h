// GroupSource: an EventSource that is one member of a consumer group on the broker's
// groups endpoint (a DEALER to the broker's ROUTER; one GroupRequest / GroupReply per
// frame, see proto/signalbus/v1/groups.proto and docs/wire-protocol.md). At-least-once:
// each delivery is acked after its handlers succeeded, nacked with the handler's error
// otherwise, and redelivered by the broker if neither reaches it in time.
//
// The member's life: Open() joins and waits for Joined. Receive() hands out the events of
// each DeliveryBatch one at a time, sends heartbeats, batches acks, and joins again
// when the broker says it does not know the member (it restarted) or stops answering
// heartbeats (3 intervals: presumed gone; the DEALER reconnects on its own). Deliveries
// in hand from the lost membership are still handed out, but not acked: the broker
// refuses such acks and delivers those events again. Drain() and Close() finish: the
// deliveries in hand are returned to the Receiver, acked, and the member leaves.
//
// Everything runs on the caller's thread, inside Receive(): there is no background
// thread. So heartbeats go out between deliveries, and a handler that runs longer than
// three heartbeat intervals makes the broker presume the member gone (its deliveries go
// to other members, its late acks are refused). Raise GroupOptions::heartbeat for slow
// handlers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "signalbus/core/codec.h"
#include "signalbus/core/connection_watch.h"
#include "signalbus/core/curve_config.h"
#include "signalbus/core/group_rules.h"
#include "signalbus/core/logging.h"
#include "signalbus/receivers/event_source.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus {

struct GroupOptions {
  // Names this member in the broker's logs and admin output. Empty: "<hostname>:<pid>".
  std::string member_name;
  // Deliveries this member may hold unacknowledged at once (its credit window). Each
  // ack or nack returns one.
  std::uint32_t credits = 64;
  // Bytes of events it may hold unacknowledged at once; 0: the broker's default (8 MiB
  // unless the broker says otherwise). A member holding nothing always gets the next
  // event, however large.
  std::uint64_t window_bytes = 0;
  // How often the member proves it is alive (10ms to 60s, signalbus/core/group_rules.h);
  // the broker drops it after 3 missed.
  std::chrono::milliseconds heartbeat = kDefaultHeartbeat;
  // How long Open() waits for the broker to confirm the join; 0: for ever (a broker that
  // is not there yet is waited for, with a log line every few seconds), so that the
  // order in which the broker and its receivers start does not matter.
  std::chrono::milliseconds join_timeout{0};
  // How long Close() waits for the broker to take the last acks and the Leave.
  std::chrono::milliseconds leave_timeout{1000};
  // Acks are sent together: once this many are waiting (capped at half the credit
  // window, so the broker can refill while the member works), and whenever no further
  // delivery is waiting.
  std::size_t ack_batch = 64;
  // Runs before a batch of acks is sent: make what the handlers did durable here (the
  // audit receiver fdatasyncs its file). An error turns the batch into nacks carrying
  // its message, so the broker delivers those events again. Optional.
  std::function<Status()> before_ack;

  // The group's configuration, sent with every Join; the broker applies it when it
  // creates the group. Zero / unset: the broker's default.
  v1::StartPosition start;                      // default: latest
  std::chrono::milliseconds ack_timeout{0};     // default 30 s
  std::uint32_t max_deliver = 0;                // default 5 attempts, then dead-lettered
  std::chrono::milliseconds backoff_initial{0}; // default 100 ms, doubling after each nack
  std::chrono::milliseconds backoff_max{0};     // default 30 s

  // CURVE (docs/security.md): the broker's public key and this member's key file. Empty
  // fields: $SIGNALBUS_CURVE_SERVER_KEY and $SIGNALBUS_CURVE_KEY_FILE; none: no CURVE.
  CurveClientSettings curve;
};

// Counters since construction.
struct GroupSourceStats {
  std::uint64_t delivered = 0;  // deliveries received from the broker
  std::uint64_t acked = 0;      // acks sent
  std::uint64_t nacked = 0;     // nacks sent (handler failures and malformed events)
  std::uint64_t joins = 0;      // Joined replies, the first included
  std::uint64_t returned = 0;   // deliveries left unhandled because they arrived while draining
};

// Used by one thread at a time.
class GroupSource final : public EventSource {
 public:
  // endpoint: the broker's groups endpoint (tcp://127.0.0.1:5557). group: the consumer
  // group to join. Events larger than max_event_bytes are nacked as malformed.
  GroupSource(std::string endpoint, std::string group, GroupOptions options = {},
              std::size_t max_event_bytes = kDefaultMaxEventBytes);
  ~GroupSource() override;
  GroupSource(const GroupSource&) = delete;
  GroupSource& operator=(const GroupSource&) = delete;

  // Joins with the patterns (deduplicated) as the group's subscriptions and waits for
  // Joined. Errors: kInvalidArgument for a bad group name, endpoint or option, or when
  // the broker refused the join ("the broker at <endpoint> refused to join group <g>:
  // <its reason>", e.g. a bad pattern or a limit); kDeadlineExceeded
  // "no broker answered at <endpoint> within <join_timeout>" (never with join_timeout 0);
  // kUnavailable when a shutdown signal came while waiting.
  Status Open(const std::vector<TopicPattern>& patterns) override;
  // A delivery whose event does not decode, or whose topic is not its event's, is
  // nacked with the reason and returned as kMalformed.
  Result<Received> Receive(std::chrono::milliseconds timeout) override;
  // Queues an ack (handled) or sends a nack carrying `error`.
  void Settle(const Delivery& delivery, bool handled, std::string_view error) override;
  void Drain() override;
  // Sends the acks and nacks still held, then Leave, and waits up to leave_timeout for
  // the broker to have read them (it answers a request sent after the Leave).
  void Close() override;
  std::string Describe() const override;

  bool joined() const { return state_ == State::kJoined; }
  // Assigned by the broker in Joined; empty until then.
  const std::string& member_id() const { return member_id_; }
  const std::string& endpoint() const { return endpoint_; }
  const GroupSourceStats& stats() const { return stats_; }

  // The Join this source sends: for tests and logs.
  v1::Join MakeJoin(const std::vector<TopicPattern>& patterns) const;

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { kClosed, kJoining, kJoined };

  // Reads every waiting reply, then runs the timers (heartbeat, silence, re-join) and
  // sends a full ack batch. Never blocks.
  Status Pump();
  // Takes the deliveries out of `reply`.
  void HandleReply(v1::GroupReply& reply, Clock::time_point now);
  void HandleError(const v1::GroupError& error, Clock::time_point now);
  void LoseMembership(const std::string& why, Clock::time_point now);
  // Blocks until a reply arrives, `until`, or the next timer; false if a signal
  // interrupted the wait.
  bool WaitForReply(Clock::time_point until);
  Clock::time_point NextTimer() const;
  // Sends acks and nacks held, if joined. `all` also sends an ack batch below the
  // threshold.
  void FlushSettlements(bool all);
  Received NextDelivery();
  void Nack(const v1::Delivery& delivery, const std::string& error);
  // False if the frame could not be queued now (no connection; retried later).
  bool Send(const v1::GroupRequest& request);
  std::size_t AckThreshold() const;
  // The outcome of one delivery: acked or nacked (a unit's, once all of it is settled),
  // unless it belongs to a lost membership.
  void Answer(std::uint64_t offset, std::uint32_t attempt, std::uint64_t unit_offset, std::uint32_t unit_size,
              bool handled, const std::string& error);

  const std::string endpoint_;
  const std::string group_;
  GroupOptions options_;
  const std::size_t max_event_bytes_;

  std::optional<zmq::socket_t> socket_;
  // Handshake refusals (a CURVE key the broker does not allow): a join fails saying so.
  std::unique_ptr<ConnectionWatch> watch_;
  State state_ = State::kClosed;
  bool draining_ = false;
  v1::Join join_;
  std::string member_id_;
  bool ack_ranges_ = false;   // the broker takes Ack.ranges (its Joined says so)
  std::string last_refusal_;  // the last fatal error while joining, for Open()'s error
  // Set when the broker says "forbidden" (a reloaded allow-list took this member's key or
  // grant away): joining again cannot help, so Receive() reports it.
  std::optional<Status> forbidden_;

  std::deque<v1::Delivery> in_hand_;  // received, not yet returned by Receive()
  // (offset, attempt) of deliveries in hand when the membership was lost: not settled.
  std::set<std::pair<std::uint64_t, std::uint32_t>> stale_;
  std::vector<v1::DeliveryRef> acks_;
  std::vector<v1::Nack> nacks_;
  // Units (atomic batches) partly settled, by (unit offset, attempt): answered as one
  // when the last of their events is.
  struct UnitProgress {
    std::uint32_t remaining = 0;
    bool failed = false;
    std::string error;
  };
  std::map<std::pair<std::uint64_t, std::uint32_t>, UnitProgress> units_;

  Clock::time_point last_read_{};  // Pump()'s last read of the socket
  Clock::time_point next_join_{};
  Clock::time_point next_heartbeat_{};
  // The first heartbeat sent since the broker was last heard from; nullopt when none.
  std::optional<Clock::time_point> unanswered_since_;

  GroupSourceStats stats_;
  RateLimiter log_limiter_;
};

}  // namespace signalbus
