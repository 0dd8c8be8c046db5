// Live fan-out over a ROUTER: framing of the live protocol, sends that never block, the
// window check per event, expiry and probes of silent listeners.
#include "signalbus/broker/live_fanout.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <spdlog/spdlog.h>

#include "live_listeners.h"
#include "live_window.h"
#include "signalbus/core/sockets.h"
#include "signalbus/v1/live.pb.h"

namespace signalbus::broker {
namespace {

// Expiry and probes run this often at most.
constexpr std::chrono::milliseconds kTickInterval{100};
// An expired listener's connection is probed (an empty frame: listeners ignore it) to
// learn when it is gone; the interval doubles up to the maximum, so that a connection that
// stays up but never reads collects few probes.
constexpr std::chrono::milliseconds kFirstProbe{1000};
constexpr std::chrono::milliseconds kMaxProbe{60'000};
// Inbound messages queued per connection before ZeroMQ stops reading it (each at most
// kMaxLiveRequestBytes): what an unread flood from one peer can hold.
constexpr int kReceiveQueueMessages = 32;
// Outbound messages queued per connection: more than any window can fill (one message
// per LiveWindow::kMessageOverheadBytes of it) plus room for marks, probes and answers,
// so that the window, not ZeroMQ's message count, is what limits a listener.
constexpr int kSendQueueSlack = 1024;

// Logged problems: a peer sending garbage at full speed must not flood the log.
constexpr double kLogsPerSecond = 5;
constexpr double kLogBurst = 20;
// Answers to peers that are no listener are not charged to any window: rate-limited.
constexpr double kUnlistedRepliesPerSecond = 20;
constexpr double kUnlistedReplyBurst = 50;

// A second handle on a frame's bytes. For anything above ZeroMQ's 33-byte inline size
// zmq_msg_copy only bumps a reference count, so the event body is never copied. The
// source is logically unchanged, hence the const_cast (cppzmq's own const overload of
// copy() did the same before it was deprecated).
zmq::message_t Share(const zmq::message_t& frame) {
  zmq::message_t copy;
  copy.copy(const_cast<zmq::message_t&>(frame));
  return copy;
}

std::string PeerName(std::string_view peer) { return Printable(peer, 16); }

}  // namespace

LiveFanout::LiveFanout(zmq::context_t& context, std::string endpoint, LiveOptions options, LiveMetrics& metrics,
                       AccessControl& access)
    : context_(context),
      endpoint_(std::move(endpoint)),
      options_(options),
      metrics_(metrics),
      access_(access),
      listeners_(std::make_unique<LiveListeners>(options_)),
      tokens_(std::make_unique<MarkTokens>()),
      log_limiter_(kLogsPerSecond, kLogBurst),
      unlisted_reply_limiter_(kUnlistedRepliesPerSecond, kUnlistedReplyBurst) {}

LiveFanout::~LiveFanout() = default;

Status LiveFanout::Bind() {
  try {
    SocketOptions socket_options;
    socket_options.max_frame_bytes = static_cast<std::int64_t>(kMaxLiveRequestBytes);
    socket_options.recv_hwm = kReceiveQueueMessages;
    socket_options.send_hwm =
        static_cast<int>(std::min<std::uint64_t>(options_.max_window_bytes / LiveWindow::kMessageOverheadBytes +
                                                     kSendQueueSlack,
                                                 std::uint64_t{1} << 30));
    socket_options.curve = options_.curve;
    socket_ = MakeSocket(context_, zmq::socket_type::router, socket_options);
    // A send to a connection that is gone fails (EHOSTUNREACH) instead of vanishing: how
    // the fan-out learns that a listener's connection, and what it held, is gone. A full
    // queue fails with EAGAIN instead of dropping silently.
    socket_.set(zmq::sockopt::router_mandatory, 1);
    Result<BoundEndpoints> bound = BindServer(socket_, endpoint_, options_.curve);
    if (!bound.ok()) return bound.status();
    bound_endpoint_ = std::move(bound->endpoint);
    bound_next_endpoint_ = std::move(bound->next_endpoint);
    return Status::Ok();
  } catch (const std::exception& e) {  // zmq::error_t, SocketSecurityError
    return Internal("cannot create the live socket: " + std::string(e.what()));
  }
}

std::size_t LiveFanout::listeners() const { return listeners_->size(); }
std::size_t LiveFanout::subscriptions() const { return listeners_->subscriptions(); }

std::uint64_t LiveFanout::unread_bytes() const {
  std::uint64_t unread = 0;
  listeners_->ForEach([&](Slot slot) { unread += listeners_->at(slot).window.in_flight(); });
  return unread;
}

void LiveFanout::Accept(const AcceptedEvent& event) {
  // Nobody listening: nothing to match, nothing to send, nothing allocated.
  if (listeners_->subscriptions() == 0) return;
  const std::uint64_t charge = LiveWindow::ChargeOf(event.topic.size() + event.event.size());
  listeners_->ForEachMatch(event.topic_view(),
                           [&](Slot slot, LiveListeners::Listener&) { Deliver(slot, event, charge); });
  if (!gone_.empty()) ForgetGone();
}

void LiveFanout::Deliver(Slot slot, const AcceptedEvent& event, std::uint64_t charge) {
  LiveListeners::Listener& l = listeners_->at(slot);
  // Dropped events are reported before the next one sent, so the listener knows where.
  bool fits = l.window.Fits(charge);
  if (fits && l.missed > 0) {
    v1::LiveReply report;
    fits = SendCharged(slot, report, /*eager_mark=*/false) && l.window.Fits(charge);
  }
  if (!fits) {
    if (l.missed++ == 0 && log_limiter_.Allow()) {
      spdlog::info("live listener {} fell behind its window of {} bytes ({} unread); dropping its events ({})",
                   l.number, l.window.limit(), l.window.in_flight(), kLiveDroppedMetric);
    }
    metrics_.CountDropped();
    // Whatever it has not been asked to credit yet: so that its window comes back as
    // soon as it has read what it holds.
    SendMarkIfDue(slot, /*eager=*/true);
    return;
  }
  zmq::message_t frames[2] = {Share(event.topic), Share(event.event)};
  switch (SendFrames(l.peer, frames, 2)) {
    case SendResult::kSent: break;
    case SendResult::kFull:  // never with a window below the queue's size; counted if so
      ++l.missed;
      metrics_.CountDropped();
      return;
    case SendResult::kGone: gone_.push_back(slot); return;
  }
  l.window.Charge(charge);
  metrics_.CountForwarded();
  SendMarkIfDue(slot, /*eager=*/false);
}

bool LiveFanout::SendCharged(Slot slot, v1::LiveReply& reply, bool eager_mark) {
  LiveListeners::Listener& l = listeners_->at(slot);
  if (l.missed > 0) reply.set_missed(l.missed);
  // The mark, if any, adds nine bytes: within the per-message overhead.
  const std::uint64_t charge = LiveWindow::ChargeOf(reply.ByteSizeLong());
  if (!l.window.Fits(charge)) {
    reply.clear_missed();
    SendMarkIfDue(slot, /*eager=*/true);
    return false;
  }
  l.window.Charge(charge);
  // Marks are cumulative: one lost with a message that could not be queued is made good
  // by the next.
  if (std::uint64_t mark = l.window.NextMark(eager_mark, *tokens_); mark != 0) reply.set_mark(mark);
  switch (SendReply(l.peer, reply)) {
    case SendResult::kSent: l.missed = 0; return true;
    case SendResult::kFull: return false;
    case SendResult::kGone: gone_.push_back(slot); return false;
  }
  return false;
}

void LiveFanout::SendMarkIfDue(Slot slot, bool eager) {
  LiveListeners::Listener& l = listeners_->at(slot);
  std::uint64_t mark = l.window.NextMark(eager, *tokens_);
  if (mark == 0) return;
  v1::LiveReply reply;
  reply.set_mark(mark);
  if (SendReply(l.peer, reply) == SendResult::kGone) gone_.push_back(slot);
}

void LiveFanout::SendUnlisted(std::string_view peer, const v1::LiveReply& reply) {
  if (!unlisted_reply_limiter_.Allow()) return;
  (void)SendReply(peer, reply);
}

LiveFanout::SendResult LiveFanout::SendReply(std::string_view peer, const v1::LiveReply& reply) {
  reply.SerializeToString(&send_buffer_);
  zmq::message_t frame(send_buffer_.data(), send_buffer_.size());
  return SendFrames(peer, &frame, 1);
}

LiveFanout::SendResult LiveFanout::SendFrames(std::string_view peer, zmq::message_t* frames, std::size_t count) {
  // With ROUTER_MANDATORY the routing-id frame decides: EAGAIN (queue full) or
  // EHOSTUNREACH (no such connection) and nothing is queued; once it is taken, the frames
  // after it are. EINTR is retried: nothing was queued by the failed call.
  zmq::message_t id(peer.data(), peer.size());
  while (true) {
    try {
      if (!socket_.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return SendResult::kFull;
      break;
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH) return SendResult::kGone;
      if (e.num() != EINTR) throw;
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    const auto flags = (i + 1 < count ? zmq::send_flags::sndmore : zmq::send_flags::none) | zmq::send_flags::dontwait;
    while (true) {
      try {
        (void)socket_.send(frames[i], flags);
        break;
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
      }
    }
  }
  return SendResult::kSent;
}

std::size_t LiveFanout::Drain(std::size_t budget, Clock::time_point now) {
  std::size_t handled = 0;
  zmq::message_t peer;
  zmq::message_t body;
  zmq::message_t extra;
  while (handled < budget && TryRecvFrame(socket_, peer)) {
    ++handled;
    // [routing id, request]; anything else is read to its end and refused.
    bool have_body = peer.more() && TryRecvFrame(socket_, body);
    std::size_t frames = have_body ? 1 : 0;
    bool more = have_body && body.more();
    while (more && TryRecvFrame(socket_, extra)) {
      ++frames;
      more = extra.more();
    }
    // The body's User-Id: a ROUTER's routing-id frame does not always carry it.
    const Peer sender = access_.Identify(have_body ? body : peer);
    if (!sender) {  // counted and logged by access control; told, and what it held forgotten
      if (std::optional<Slot> slot = listeners_->Find(peer.to_string_view())) listeners_->Forget(*slot);
      v1::LiveReply reply;
      reply.mutable_error()->set_code(v1::LiveError::FORBIDDEN);
      reply.mutable_error()->set_message("forbidden: this connection's key is not in the broker's allow-list");
      SendUnlisted(peer.to_string_view(), reply);
      continue;
    }
    if (frames != 1) {
      RefuseBadRequest(peer.to_string_view(), std::to_string(frames) + " frames (want 1: a LiveRequest)");
      continue;
    }
    HandleRequest(peer.to_string_view(), body.to_string_view(), now, sender);
  }
  if (!gone_.empty()) ForgetGone();
  return handled;
}

void LiveFanout::HandleRequest(std::string_view peer, std::string_view body, Clock::time_point now,
                               const Peer& sender) {
  v1::LiveRequest request;
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size())) ||
      request.kind_case() == v1::LiveRequest::KIND_NOT_SET) {
    RefuseBadRequest(peer, "not a LiveRequest: '" + Printable(body, 32) + "'");
    return;
  }
  if (request.kind_case() == v1::LiveRequest::kSubscribe || request.kind_case() == v1::LiveRequest::kUnsubscribe) {
    const bool subscribe = request.kind_case() == v1::LiveRequest::kSubscribe;
    LiveListeners::Outcome outcome = subscribe ? listeners_->Subscribe(peer, request.subscribe(), now, *sender.principal,
                                                                       sender.key)
                                               : listeners_->Unsubscribe(peer, request.unsubscribe(), now);
    if (std::uint32_t n = outcome.refused[LiveRefusalIndex(LiveRefusal::kForbidden)]; n > 0) {
      access_.Refused(AuthOp::kSubscribe, sender, "live patterns it may not read", n);
    }
    for (LiveRefusal why : kAllLiveRefusals) {
      if (std::uint32_t n = outcome.refused[LiveRefusalIndex(why)]; n > 0) {
        const v1::LiveSubscribed& s = outcome.reply.subscribed();
        Refused(peer, why, n,
                outcome.reply.has_error() ? outcome.reply.error().message()
                                          : "'" + s.refused_pattern() + "': " + s.refused_message());
      }
    }
    if (outcome.created) {
      const LiveListeners::Listener& l = listeners_->at(*outcome.slot);
      if (log_limiter_.Allow()) {
        spdlog::info("live listener {} (peer '{}') subscribed: {} patterns, window {} bytes, heartbeat {} ms",
                     l.number, PeerName(peer), l.pattern_list.size(), l.window.limit(), l.heartbeat.count());
      }
    }
    if (outcome.slot) {
      (void)SendCharged(*outcome.slot, outcome.reply, /*eager_mark=*/true);
    } else {
      SendUnlisted(peer, outcome.reply);
    }
    return;
  }

  std::optional<Slot> slot = listeners_->Find(peer);
  if (!slot || listeners_->at(*slot).expired) {
    // After a broker restart, or after it was expired: it must subscribe again.
    Refused(peer, LiveRefusal::kUnknownListener, 1, "a request before any subscribe");
    v1::LiveReply reply;
    reply.mutable_error()->set_code(v1::LiveError::UNKNOWN_LISTENER);
    reply.mutable_error()->set_message(slot ? "this listener was expired after missed heartbeats; subscribe again"
                                            : "this connection is no live listener; subscribe again");
    // An expired listener's credit still returns its window: what it had read is read.
    if (slot && request.kind_case() == v1::LiveRequest::kCredit) {
      LiveListeners::Listener& l = listeners_->at(*slot);
      (void)l.window.Credit(request.credit().mark());
      if (l.window.in_flight() == 0) listeners_->Forget(*slot);
      return;
    }
    SendUnlisted(peer, reply);
    return;
  }
  listeners_->Heard(*slot, now);
  LiveListeners::Listener& l = listeners_->at(*slot);
  switch (request.kind_case()) {
    case v1::LiveRequest::kCredit:
      if (!l.window.Credit(request.credit().mark())) {
        Refused(peer, LiveRefusal::kBadCredit, 1, "a credit for no mark awaiting one");
        return;
      }
      // Marks freed: the bytes sent since the last one may need one now.
      SendMarkIfDue(*slot, /*eager=*/false);
      return;
    case v1::LiveRequest::kHeartbeat: {
      v1::LiveReply reply;
      reply.mutable_heartbeat();
      (void)SendCharged(*slot, reply, /*eager_mark=*/true);
      return;
    }
    default: return;  // subscribe and unsubscribe are handled above
  }
}

void LiveFanout::Refused(std::string_view peer, LiveRefusal why, std::uint64_t n, std::string_view detail) {
  metrics_.CountRefused(why, n);
  if (!log_limiter_.Allow()) return;
  std::string skipped;
  if (std::uint64_t suppressed = log_limiter_.TakeSuppressed(); suppressed > 0) {
    skipped = " (" + std::to_string(suppressed) + " more live problems not logged)";
  }
  spdlog::warn("live: refused {} ({}) from peer '{}': {}{}", n, LiveRefusalName(why), PeerName(peer), detail, skipped);
}

void LiveFanout::Reauthorize() {
  for (const LiveListeners::Revoked& r :
       listeners_->Revoke([&](std::string_view key) { return access_.PrincipalOf(key); })) {
    const LiveListeners::Listener& l = listeners_->at(r.slot);
    const Peer who{access_.PrincipalOf(l.key), l.key};
    std::string what = r.whole && r.patterns.empty() ? "its key is no longer allowed" : "";
    for (const std::string& p : r.patterns) what += (what.empty() ? "may no longer read " : ", ") + p;
    access_.Refused(AuthOp::kSubscribe, who, "live listener " + std::to_string(l.number) + ": " + what,
                    std::max<std::size_t>(r.patterns.size(), 1));
    v1::LiveReply reply;
    reply.mutable_error()->set_code(v1::LiveError::FORBIDDEN);
    reply.mutable_error()->set_message("forbidden after the broker reloaded its allow-list: " + what +
                                       (r.whole ? "; this listener is forgotten" : ""));
    const std::string peer = l.peer;
    if (r.whole) listeners_->Forget(r.slot);
    (void)SendReply(peer, reply);  // uncharged: the listener is forgotten or told once
  }
}

void LiveFanout::RefuseBadRequest(std::string_view peer, const std::string& detail) {
  Refused(peer, LiveRefusal::kBadRequest, 1, detail);
  v1::LiveReply reply;
  reply.mutable_error()->set_code(v1::LiveError::BAD_REQUEST);
  reply.mutable_error()->set_message("bad request, nothing changed: " + detail);
  std::optional<Slot> slot = listeners_->Find(peer);
  if (slot) {
    (void)SendCharged(*slot, reply, /*eager_mark=*/true);
  } else {
    SendUnlisted(peer, reply);
  }
}

void LiveFanout::ForgetGone() {
  for (Slot slot : gone_) {
    if (!listeners_->at(slot).in_use) continue;  // found gone twice in one walk
    spdlog::debug("live listener {}: connection gone", listeners_->at(slot).number);
    listeners_->Forget(slot);
  }
  gone_.clear();
}

void LiveFanout::Tick(Clock::time_point now) {
  if (now < next_tick_) return;
  next_tick_ = now + kTickInterval;
  listeners_->Expire(now, [&](Slot slot) {
    LiveListeners::Listener& l = listeners_->at(slot);
    metrics_.CountExpired();
    if (log_limiter_.Allow()) {
      spdlog::info("live listener {} expired: nothing heard for {} ms; {} bytes sent to it unread", l.number,
                   (kLiveMissedHeartbeats * l.heartbeat).count(), l.window.in_flight());
    }
    // Told, in case it is only slow: it subscribes again.
    v1::LiveReply reply;
    reply.mutable_error()->set_code(v1::LiveError::UNKNOWN_LISTENER);
    reply.mutable_error()->set_message("expired after missed heartbeats; subscribe again");
    if (SendReply(l.peer, reply) == SendResult::kGone || l.window.in_flight() == 0) {
      gone_.push_back(slot);
      return;
    }
    l.probe_interval = kFirstProbe;
    l.next_probe = now + kFirstProbe;
  });
  listeners_->ForEach([&](Slot slot) {
    LiveListeners::Listener& l = listeners_->at(slot);
    if (!l.expired || now < l.next_probe) return;
    zmq::message_t probe;
    if (SendFrames(l.peer, &probe, 1) == SendResult::kGone) {
      gone_.push_back(slot);
      return;
    }
    l.probe_interval = std::min(2 * l.probe_interval, kMaxProbe);
    l.next_probe = now + l.probe_interval;
  });
  if (!gone_.empty()) ForgetGone();
  PublishGauges();
}

void LiveFanout::PublishGauges() {
  metrics_.SetGauges(static_cast<std::int64_t>(listeners_->size()),
                     static_cast<std::int64_t>(listeners_->subscriptions()), static_cast<std::int64_t>(unread_bytes()),
                     static_cast<std::int64_t>(listeners_->reserved_bytes()));
}

void LiveFanout::Close() { socket_.close(); }

}  // namespace signalbus::broker
