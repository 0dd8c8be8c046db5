// The consumer-group member: the Join/Joined handshake, heartbeats and the silence that
// means the broker is gone, re-joining, batched acks, and the drain-then-Leave ending.
// All on the caller's thread, inside Open(), Receive() and Close().
#include "signalbus/receivers/group_source.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include <spdlog/spdlog.h>

#include "signalbus/core/duration.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/shutdown.h"
#include "signalbus/core/sockets.h"

namespace signalbus {
namespace {

using std::chrono::milliseconds;

// The longest a wait lasts while a Join waits for a connection to be sent on: the
// socket's POLLOUT normally ends it sooner.
constexpr milliseconds kJoinSendRetry{100};
// While a Join waits for a broker that is not there: the first note after this, then
// at twice the time waited so far, at most this far apart.
constexpr milliseconds kWaitingNote{2000};
constexpr milliseconds kMaxWaitingNote{60'000};
// How often Receive() reads the socket while it still has deliveries in hand.
constexpr std::chrono::microseconds kInHandReadInterval{200};

// Logged problems (bad replies, refused acks) are rate-limited: a confused broker must
// not flood the member's log.
constexpr double kLogsPerSecond = 1.0;
constexpr double kLogBurst = 5.0;

std::string DefaultMemberName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "unknown") + ":" + std::to_string(getpid());
}

// Protobuf strings must be UTF-8: keeps valid sequences (a handler's "café" stays
// readable in the dead-letter queue), replaces each invalid byte with U+FFFD, and cuts at
// max_bytes on a character boundary.
std::string ValidUtf8(std::string_view text, std::size_t max_bytes) {
  auto cont = [&](std::size_t i) { return i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80; };
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = cont(i + 1) ? 2 : 0;
    } else if (c >= 0xE0 && c <= 0xEF) {
      auto c1 = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
      bool ok = (c == 0xE0 ? c1 >= 0xA0 && c1 <= 0xBF : c == 0xED ? c1 >= 0x80 && c1 <= 0x9F : cont(i + 1));
      len = ok && cont(i + 2) ? 3 : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      auto c1 = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
      bool ok = (c == 0xF0 ? c1 >= 0x90 && c1 <= 0xBF : c == 0xF4 ? c1 >= 0x80 && c1 <= 0x8F : cont(i + 1));
      len = ok && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    std::string_view piece = len > 0 ? text.substr(i, len) : std::string_view("\xEF\xBF\xBD");
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += len > 0 ? len : 1;
  }
  return out;
}

std::uint32_t ClampMs(milliseconds d) {
  return static_cast<std::uint32_t>(std::clamp<milliseconds::rep>(d.count(), 0, UINT32_MAX));
}

// Rounds up, so that a wait never ends just before its deadline and spins.
milliseconds Until(std::chrono::steady_clock::time_point deadline, std::chrono::steady_clock::time_point now) {
  if (deadline <= now) return milliseconds(0);
  return std::chrono::ceil<milliseconds>(deadline - now);
}

}  // namespace

GroupSource::GroupSource(std::string endpoint, std::string group, GroupOptions options, std::size_t max_event_bytes)
    : endpoint_(std::move(endpoint)),
      group_(std::move(group)),
      options_(std::move(options)),
      max_event_bytes_(max_event_bytes),
      log_limiter_(kLogsPerSecond, kLogBurst) {
  if (options_.member_name.empty()) options_.member_name = DefaultMemberName();
}

GroupSource::~GroupSource() { Close(); }

v1::Join GroupSource::MakeJoin(const std::vector<TopicPattern>& patterns) const {
  v1::Join join;
  join.set_group(group_);
  join.set_member_name(options_.member_name);
  join.set_credits(options_.credits);
  join.set_window_bytes(options_.window_bytes);
  join.set_heartbeat_ms(ClampMs(options_.heartbeat));
  v1::GroupConfig* config = join.mutable_config();
  // The union of the patterns, each once, in registration order.
  for (const TopicPattern& p : patterns) {
    std::string text = p.ToString();
    const auto& subs = config->subscriptions();
    if (std::find(subs.begin(), subs.end(), text) == subs.end()) config->add_subscriptions(std::move(text));
  }
  if (options_.start.position_case() != v1::StartPosition::POSITION_NOT_SET) *config->mutable_start() = options_.start;
  config->set_ack_timeout_ms(ClampMs(options_.ack_timeout));
  config->set_max_deliver(options_.max_deliver);
  config->set_backoff_initial_ms(ClampMs(options_.backoff_initial));
  config->set_backoff_max_ms(ClampMs(options_.backoff_max));
  return join;
}

Status GroupSource::Open(const std::vector<TopicPattern>& patterns) {
  if (socket_) return Internal("group source is already open");
  if (Status s = ValidateGroupName(group_); !s.ok()) return s;
  if (patterns.empty()) return InvalidArgument("group " + group_ + ": no topic patterns to subscribe to");
  if (options_.credits == 0) return InvalidArgument("group " + group_ + ": credits must be at least 1");
  if (Status s = ValidateHeartbeat(options_.heartbeat); !s.ok()) return InvalidArgument("group " + group_ + ": " + s.message());
  if (Status s = ValidateEndpoint(endpoint_); !s.ok()) return InvalidArgument("groups endpoint: " + s.message());

  join_ = MakeJoin(patterns);
  SocketOptions socket_options;
  // What is queued at close (the last acks, Leave) may still go out after Close().
  socket_options.linger = options_.leave_timeout;
  Result<std::optional<CurveSecurity>> curve = LoadCurveClient(CurveClientFromEnv(options_.curve));
  if (!curve.ok()) return curve.status();
  socket_options.curve = std::move(curve).value();
  try {
    socket_.emplace(MakeSocket(SharedContext(), zmq::socket_type::dealer, socket_options));
  } catch (const SocketSecurityError& e) {
    return FailedPrecondition(e.what());
  }
  watch_ = std::make_unique<ConnectionWatch>(SharedContext(), *socket_);
  // Queue only to a live connection: requests written while the broker is away (stale
  // heartbeats, acks) are not replayed to a restarted broker, which would answer each
  // with "unknown member" and confuse the join that follows.
  socket_->set(zmq::sockopt::immediate, 1);
  if (Status s = signalbus::Connect(*socket_, endpoint_); !s.ok()) {
    watch_.reset();
    socket_->close();
    socket_.reset();
    return s;
  }
  state_ = State::kJoining;
  draining_ = false;
  last_refusal_.clear();
  next_join_ = Clock::now();

  const Clock::time_point started = Clock::now();
  const Clock::time_point deadline =
      options_.join_timeout.count() > 0 ? started + options_.join_timeout : Clock::time_point::max();
  Clock::time_point next_note = started + kWaitingNote;
  while (state_ != State::kJoined) {
    if (Clock::now() >= next_note) {
      // A broker that is not there yet: the DEALER reconnects and the Join is re-sent
      // on its own; say that this member is waiting, less often the longer it waits.
      spdlog::info("group {}: no broker answered at {} yet; waiting ({} so far)", group_, endpoint_,
                   FormatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)));
      next_note = Clock::now() + std::min<Clock::duration>(2 * (Clock::now() - started), kMaxWaitingNote);
    }
    if (Status s = Pump(); !s.ok()) {
      Close();
      return s;
    }
    // Only Joins were sent on this connection so far, so a fatal error answers one:
    // the broker refused the configuration (a bad pattern or name, a limit, a grant).
    // A failed handshake means no Join will ever get through.
    if (!watch_->refusal().empty()) last_refusal_ = watch_->refusal();
    if (state_ == State::kJoined || !last_refusal_.empty() || Clock::now() >= deadline) break;
    try {
      // A signal ends the wait early (false): the check below sees it.
      (void)WaitForReply(std::min(deadline, next_note));
    } catch (const zmq::error_t& e) {
      Close();
      return Unavailable("group " + group_ + " at " + endpoint_ + ": " + e.what());
    }
    if (ShutdownRequested()) {
      Close();
      return Unavailable("interrupted before the broker at " + endpoint_ + " confirmed the join of group " + group_);
    }
  }
  if (state_ != State::kJoined) {
    std::string refusal = std::move(last_refusal_);
    Close();
    if (!refusal.empty()) {
      return InvalidArgument("the broker at " + endpoint_ + " refused to join group " + group_ + ": " + refusal);
    }
    return DeadlineExceeded("no broker answered at " + endpoint_ + " within " +
                            FormatDuration(options_.join_timeout));
  }
  return Status::Ok();
}

Status GroupSource::Pump() {
  try {
    Clock::time_point now = Clock::now();
    // An empty read costs ZeroMQ two system calls (poll and getpid), more than handing
    // out a delivery: with deliveries in hand, the sockets are read once per
    // kInHandReadInterval.
    const bool read = in_hand_.empty() || now - last_read_ >= kInHandReadInterval;
    if (read) {
      last_read_ = now;
      (void)watch_->Drain();  // keeps refusal() current, and the poll from waking for nothing
    }
    zmq::message_t frame;
    while (read && TryRecvFrame(*socket_, frame)) {
      if (frame.more()) {
        // The protocol is one frame per reply: skip the whole message.
        std::size_t frames = 1;
        while (frame.more() && TryRecvFrame(*socket_, frame)) ++frames;
        if (log_limiter_.Allow()) spdlog::warn("group {}: dropped a {}-frame reply from {}", group_, frames, endpoint_);
        continue;
      }
      v1::GroupReply reply;
      if (!reply.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
        if (log_limiter_.Allow()) {
          spdlog::warn("group {}: undecodable reply from {}: '{}'", group_, endpoint_, Printable(frame.to_string_view()));
        }
        continue;
      }
      HandleReply(reply, now);
    }

    now = Clock::now();
    const milliseconds heartbeat = options_.heartbeat;
    if (state_ == State::kJoined) {
      if (unanswered_since_ && now - *unanswered_since_ >= kMissedHeartbeats * heartbeat) {
        LoseMembership("the broker answered nothing for " + FormatDuration(kMissedHeartbeats * heartbeat), now);
      } else if (now >= next_heartbeat_) {
        v1::GroupRequest request;
        request.mutable_heartbeat();
        // Unsent (no connection) counts as unanswered too: the broker is not there.
        Send(request);
        if (!unanswered_since_) unanswered_since_ = now;
        next_heartbeat_ = now + heartbeat;
      }
    }
    if (state_ == State::kJoining && !draining_ && now >= next_join_) {
      v1::GroupRequest request;
      *request.mutable_join() = join_;
      // Unsent: due again at once, and WaitForReply() watches for a connection.
      // Sent: a Join lost with a dying broker is sent again after the silence that
      // would make a member presume the broker gone.
      if (Send(request)) next_join_ = now + kMissedHeartbeats * heartbeat;
    }
    if (!draining_) FlushSettlements(/*all=*/false);
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Unavailable("group " + group_ + " at " + endpoint_ + ": " + e.what());
  }
}

void GroupSource::HandleReply(v1::GroupReply& reply, Clock::time_point now) {
  // Whatever the broker says, it is there.
  unanswered_since_.reset();
  switch (reply.kind_case()) {
    case v1::GroupReply::kJoined:
      // A second Joined answers a Join re-sent while the first was in flight.
      member_id_ = reply.joined().member_id();
      ack_ranges_ = reply.joined().ack_ranges();
      if (state_ != State::kJoined) {
        state_ = State::kJoined;
        last_refusal_.clear();
        next_heartbeat_ = now + options_.heartbeat;
        if (++stats_.joins > 1) spdlog::info("group {}: joined again at {} as {}", group_, endpoint_, member_id_);
      }
      break;
    case v1::GroupReply::kDeliveries:
      for (v1::Delivery& d : *reply.mutable_deliveries()->mutable_deliveries()) {
        ++stats_.delivered;
        // While draining nothing new is taken: the broker gives it to another member
        // once this one leaves.
        if (draining_) {
          ++stats_.returned;
          continue;
        }
        // Replies come in order: deliveries before the answer to a new Join belong to
        // the lost membership.
        if (state_ != State::kJoined) stale_.emplace(d.unit_size() > 0 ? d.unit_offset() : d.offset(), d.attempt());
        in_hand_.push_back(std::move(d));
      }
      break;
    case v1::GroupReply::kError: HandleError(reply.error(), now); break;
    case v1::GroupReply::kHeartbeat: break;
    case v1::GroupReply::kAdmin: break;  // the answer to Close()'s barrier, arriving late
    case v1::GroupReply::KIND_NOT_SET:
      if (log_limiter_.Allow()) spdlog::warn("group {}: reply of an unknown kind from {}", group_, endpoint_);
      break;
  }
}

void GroupSource::HandleError(const v1::GroupError& error, Clock::time_point now) {
  const std::string message = Printable(error.message(), 300);
  if (error.fatal() && error.message().rfind("forbidden", 0) == 0) {
    forbidden_ = PermissionDenied("the broker at " + endpoint_ + " refused group " + group_ + ": " + message);
  }
  if (!error.fatal()) {
    // A refused ack (its attempt was redelivered meanwhile) and the like: the broker
    // redelivers whatever it did not take.
    if (log_limiter_.Allow()) spdlog::warn("group {}: the broker at {} says: {}", group_, endpoint_, message);
    return;
  }
  if (state_ == State::kJoined) {
    LoseMembership("the broker says: " + message, now);
    return;
  }
  // Refused while joining: in Open() a refused configuration (reported there); when
  // joining again, possibly the answer to a request written before the connection
  // dropped. Try again after a pause.
  last_refusal_ = message;
  next_join_ = now + options_.heartbeat;
  if (log_limiter_.Allow()) spdlog::warn("group {}: the broker at {} refused the join: {}", group_, endpoint_, message);
}

void GroupSource::LoseMembership(const std::string& why, Clock::time_point now) {
  // The broker gives every delivery of the lost membership out again and refuses acks
  // for them (they name a member it no longer has): those held are dropped, and those
  // still in hand are handled (the Receiver is already committed to them) but not
  // settled. Sending them would only be refused.
  for (const v1::Delivery& d : in_hand_) stale_.emplace(d.unit_size() > 0 ? d.unit_offset() : d.offset(), d.attempt());
  units_.clear();
  spdlog::warn("group {}: no longer a member ({}); {} acks and {} nacks dropped, {} deliveries in hand will come "
               "again; {}",
               group_, why, acks_.size(), nacks_.size(), in_hand_.size(),
               draining_ ? "not joining again while draining" : "joining again");
  acks_.clear();
  nacks_.clear();
  state_ = State::kJoining;
  member_id_.clear();
  unanswered_since_.reset();
  next_join_ = now;
}

GroupSource::Clock::time_point GroupSource::NextTimer() const {
  Clock::time_point now = Clock::now();
  if (state_ == State::kJoined) {
    Clock::time_point t = next_heartbeat_;
    if (unanswered_since_) t = std::min(t, *unanswered_since_ + kMissedHeartbeats * options_.heartbeat);
    return t;
  }
  if (state_ == State::kJoining && !draining_) return next_join_ > now ? next_join_ : now + kJoinSendRetry;
  return Clock::time_point::max();
}

bool GroupSource::WaitForReply(Clock::time_point until) {
  Clock::time_point now = Clock::now();
  milliseconds timeout = Until(std::min(until, NextTimer()), now);
  short events = ZMQ_POLLIN;
  // A due Join that could not be sent goes out as soon as a connection is writable.
  if (state_ == State::kJoining && !draining_ && next_join_ <= now) events |= ZMQ_POLLOUT;
  zmq::pollitem_t items[] = {{socket_->handle(), 0, events, 0}, {watch_->socket().handle(), 0, ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items, 2, timeout);
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
}

Result<Received> GroupSource::Receive(milliseconds timeout) {
  if (!socket_) return Internal("group source is not open");
  const Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    if (Status s = Pump(); !s.ok()) return s;
    if (!in_hand_.empty()) return NextDelivery();
    if (forbidden_) return *forbidden_;
    if (draining_) {
      Received drained;
      drained.kind = Received::Kind::kDrained;
      return drained;
    }
    // Nothing more is waiting: send the acks gathered so far, so that the broker can
    // refill the window while this member waits.
    FlushSettlements(/*all=*/true);
    if (Clock::now() >= deadline) return Received{};
    try {
      if (!WaitForReply(deadline)) return Received{};  // a signal: let the caller look
    } catch (const zmq::error_t& e) {
      return Unavailable("group " + group_ + " at " + endpoint_ + ": " + e.what());
    }
  }
}

Received GroupSource::NextDelivery() {
  v1::Delivery d = std::move(in_hand_.front());
  in_hand_.pop_front();
  Received out;
  Result<v1::Event> event = DecodeEvent(d.event(), max_event_bytes_);
  if (!event.ok()) {
    out.kind = Received::Kind::kMalformed;
    out.problem = "undecodable event at offset " + std::to_string(d.offset()) + " on topic '" + Printable(d.topic()) +
                  "': " + event.status().message();
    Nack(d, out.problem);
    return out;
  }
  std::string topic = TopicOf(*event);
  if (topic != d.topic()) {
    out.kind = Received::Kind::kMalformed;
    out.problem = "delivery topic '" + Printable(d.topic()) + "' does not match event " + event->event_id() + " (" +
                  Printable(topic) + ") at offset " + std::to_string(d.offset());
    Nack(d, out.problem);
    return out;
  }
  out.kind = Received::Kind::kEvent;
  out.delivery.topic = std::move(topic);
  out.delivery.event = std::move(event).value();
  out.delivery.offset = d.offset();
  out.delivery.attempt = d.attempt();
  out.delivery.unit_offset = d.unit_offset();
  out.delivery.unit_size = d.unit_size();
  return out;
}

void GroupSource::Nack(const v1::Delivery& delivery, const std::string& error) {
  Answer(delivery.offset(), delivery.attempt(), delivery.unit_offset(), delivery.unit_size(), false, error);
}

void GroupSource::Answer(std::uint64_t offset, std::uint32_t attempt, std::uint64_t unit_offset,
                         std::uint32_t unit_size, bool handled, const std::string& error) {
  std::string why = error;
  if (unit_size > 0) {
    // A unit is answered once, by its first offset, when its last event is settled:
    // acked if every one was handled, else nacked with the first failure.
    offset = unit_offset;
    UnitProgress& unit = units_[{offset, attempt}];
    if (unit.remaining == 0) unit.remaining = unit_size;
    if (!handled && !unit.failed) {
      unit.failed = true;
      unit.error = error;
    }
    if (--unit.remaining > 0) return;
    handled = !unit.failed;
    why = std::move(unit.error);
    units_.erase({offset, attempt});
  }
  if (stale_.erase({offset, attempt}) > 0) return;
  if (handled) {
    v1::DeliveryRef ref;
    ref.set_offset(offset);
    ref.set_attempt(attempt);
    acks_.push_back(std::move(ref));
    return;
  }
  v1::Nack nack;
  nack.mutable_delivery()->set_offset(offset);
  nack.mutable_delivery()->set_attempt(attempt);
  nack.set_error(why);
  nacks_.push_back(std::move(nack));
}

void GroupSource::Settle(const Delivery& delivery, bool handled, std::string_view error) {
  // attempt 0: not a delivery of this source (the broker numbers attempts from 1).
  if (!socket_ || delivery.attempt == 0) return;
  // The text is kept with a dead-lettered event.
  Answer(delivery.offset, delivery.attempt, delivery.unit_offset, delivery.unit_size, handled,
         handled ? std::string() : error.empty() ? std::string("a handler failed") : ValidUtf8(error, kMaxNackErrorBytes));
}

std::size_t GroupSource::AckThreshold() const {
  return std::max<std::size_t>(1, std::min<std::size_t>(options_.ack_batch, options_.credits / 2));
}

void GroupSource::FlushSettlements(bool all) {
  // Not a member: whatever is held waits for the next Joined (the broker refuses acks
  // from a member it does not know).
  if (state_ != State::kJoined) return;
  if (acks_.empty() && nacks_.empty()) return;
  if (!all && acks_.size() < AckThreshold()) return;
  if (!acks_.empty() && options_.before_ack) {
    if (Status s = options_.before_ack(); !s.ok()) {
      // What the handlers did may not be durable: the broker must deliver it again.
      if (log_limiter_.Allow()) spdlog::error("group {}: nacking {} events: {}", group_, acks_.size(), s.message());
      for (const v1::DeliveryRef& ref : acks_) {
        v1::Nack nack;
        *nack.mutable_delivery() = ref;
        nack.set_error(ValidUtf8(s.message(), kMaxNackErrorBytes));
        nacks_.push_back(std::move(nack));
      }
      acks_.clear();
    }
  }
  if (!acks_.empty()) {
    v1::GroupRequest request;
    v1::Ack* ack = request.mutable_ack();
    if (ack_ranges_) {
      AddAckRanges(acks_, ack);
    } else {
      for (const v1::DeliveryRef& ref : acks_) *ack->add_deliveries() = ref;
    }
    // Unsent (no connection): kept for the next flush.
    if (Send(request)) {
      stats_.acked += acks_.size();
      acks_.clear();
    }
  }
  std::size_t sent = 0;
  for (; sent < nacks_.size(); ++sent) {
    v1::GroupRequest request;
    *request.mutable_nack() = nacks_[sent];
    if (!Send(request)) break;
  }
  stats_.nacked += sent;
  nacks_.erase(nacks_.begin(), nacks_.begin() + static_cast<std::ptrdiff_t>(sent));
}

void GroupSource::Drain() { draining_ = true; }

void GroupSource::Close() {
  if (!socket_) return;
  try {
    if (state_ == State::kJoined) {
      FlushSettlements(/*all=*/true);
      v1::GroupRequest leave;
      leave.mutable_leave();
      v1::GroupRequest barrier;
      barrier.mutable_heartbeat();
      // The broker reads one connection's requests in order, and answers a heartbeat from
      // a connection that is no member with an error: that error proves it has read the
      // acks and the Leave (a heartbeat needs no grant, unlike an admin request).
      // Without it, a process exiting right after Close() could lose them in the
      // socket's queue, and the broker would wait for the heartbeat expiry instead.
      if (Send(leave) && Send(barrier)) {
        const Clock::time_point deadline = Clock::now() + options_.leave_timeout;
        bool answered = false;
        while (!answered && Clock::now() < deadline) {
          zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
          try {
            zmq::poll(&item, 1, Until(deadline, Clock::now()));
          } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
          }
          zmq::message_t frame;
          while (!answered && TryRecvFrame(*socket_, frame)) {
            v1::GroupReply reply;
            answered = !frame.more() && reply.ParseFromArray(frame.data(), static_cast<int>(frame.size())) &&
                       reply.kind_case() == v1::GroupReply::kError;
          }
        }
        if (!answered) spdlog::warn("group {}: the broker at {} did not confirm the leave", group_, endpoint_);
      }
    }
  } catch (const zmq::error_t& e) {
    spdlog::warn("group {}: leaving: {}", group_, e.what());
  }
  if (!acks_.empty() || !nacks_.empty()) {
    spdlog::warn("group {}: {} acks and {} nacks were not sent; the broker delivers those events again", group_,
                 acks_.size(), nacks_.size());
  }
  watch_.reset();
  socket_->close();
  socket_.reset();
  state_ = State::kClosed;
  draining_ = false;
  member_id_.clear();
  in_hand_.clear();
  stale_.clear();
  units_.clear();
  acks_.clear();
  nacks_.clear();
  unanswered_since_.reset();
}

bool GroupSource::Send(const v1::GroupRequest& request) {
  const std::string bytes = request.SerializeAsString();
  try {
    return socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
}

std::string GroupSource::Describe() const { return "group " + group_ + " at " + endpoint_; }

}  // namespace signalbus
