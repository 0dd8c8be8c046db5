// Framing of the consumer-group protocol on the broker's ROUTER socket, and the limits
// of what one connection can queue there.
#include "signalbus/broker/group_channel.h"

#include <spdlog/spdlog.h>

#include "signalbus/broker/group_grants.h"
#include "signalbus/core/sockets.h"

namespace signalbus::broker {
namespace {

constexpr const char* kKeyNotAllowed = "forbidden: this connection's key is not in the broker's allow-list";

}  // namespace

GroupChannel::GroupChannel(zmq::context_t& context, std::string endpoint, AccessControl& access,
                           std::optional<CurveSecurity> curve, int peer_queue)
    : context_(context),
      endpoint_(std::move(endpoint)),
      access_(access),
      curve_(std::move(curve)),
      peer_queue_(peer_queue > 0 ? peer_queue : 1) {}

Status GroupChannel::Bind() {
  SocketOptions options;
  options.max_frame_bytes = kMaxRequestBytes;
  options.recv_hwm = kRequestQueue;
  // Members' deliveries are bounded by their credits and byte windows; this bounds what
  // any peer's unread replies can queue (admin replies are pages of 64 KiB).
  options.send_hwm = peer_queue_;
  options.curve = curve_;
  try {
    socket_ = MakeSocket(context_, zmq::socket_type::router, options);
  } catch (const std::exception& e) {  // zmq::error_t, SocketSecurityError
    return Internal("cannot create the groups socket: " + std::string(e.what()));
  }
  // A full queue (or a peer that is gone) makes the send fail, instead of a silent
  // drop, so that it is counted.
  socket_.set(zmq::sockopt::router_mandatory, 1);
  Result<BoundEndpoints> bound = BindServer(socket_, endpoint_, curve_);
  if (!bound.ok()) return bound.status();
  bound_endpoint_ = std::move(bound->endpoint);
  bound_next_endpoint_ = std::move(bound->next_endpoint);
  return Status::Ok();
}

std::size_t GroupChannel::Drain(std::size_t budget, groups::TimePoint now) {
  std::size_t frames = 0;
  zmq::message_t peer;
  zmq::message_t body;
  while (frames < budget) {
    if (skipping_) {
      // libzmq holds the whole message already; reading releases it a frame at a time.
      if (!TryRecvFrame(socket_, body)) break;
      ++frames;
      ++skipped_frames_;
      skipped_bytes_ += body.size();
      if (!body.more()) {
        skipping_ = false;
        Malformed("a request of " + std::to_string(skipped_frames_) + " frames (" + std::to_string(skipped_bytes_) +
                      " bytes)",
                  now);
      }
      continue;
    }
    if (!TryRecvFrame(socket_, peer)) break;
    ++frames;
    if (!peer.more() || !TryRecvFrame(socket_, body)) continue;  // a ROUTER always hands over id + frames
    ++frames;
    if (body.more()) {
      skipping_ = true;
      skipped_peer_ = peer.to_string();
      skipped_frames_ = 1;
      skipped_bytes_ = body.size();
      continue;
    }
    const Peer sender = access_.Identify(body);
    if (!sender) {  // counted and logged by access control; its member, if any, expelled
      coordinator_->Expel(peer.to_string_view(), kKeyNotAllowed, now);
      v1::GroupReply reply;
      reply.mutable_error()->set_message(kKeyNotAllowed);
      reply.mutable_error()->set_fatal(true);
      Send(peer.to_string_view(), reply);
      continue;
    }
    v1::GroupRequest request;
    if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      skipped_peer_ = peer.to_string();
      Malformed("an undecodable request of " + std::to_string(body.size()) + " bytes: '" +
                    Printable(body.to_string_view(), 32) + "'",
                now);
      continue;
    }
    if (std::optional<GroupRefusal> refusal = CheckGroupRequest(*sender.principal, request)) {
      access_.Refused(refusal->op, sender, refusal->why);
      Send(peer.to_string_view(), ForbiddenReply(request, refusal->why));
      continue;
    }
    coordinator_->HandleRequest(peer.to_string_view(), request, now,
                                groups::Coordinator::Caller{sender.principal->name, sender.key});
  }
  return frames;
}

void GroupChannel::Reauthorize(groups::TimePoint now) {
  std::vector<std::pair<std::string, std::string>> expelled;  // peer, why
  coordinator_->ForEachMember([&](const groups::Coordinator::MemberView& m) {
    const auth::Principal* principal = access_.PrincipalOf(m.key);
    std::string why;
    if (principal == nullptr || principal->name != m.principal) {
      why = kKeyNotAllowed;
    } else if (!principal->MayJoin(m.group)) {
      why = "forbidden: principal '" + principal->name + "' may no longer join group '" + m.group + "'";
    } else {
      for (const std::string& text : m.subscriptions) {
        Result<TopicPattern> pattern = TopicPattern::Parse(text);
        if (pattern.ok() && !principal->MaySubscribe(*pattern)) {
          why = "forbidden: principal '" + principal->name + "' may no longer read " + text;
          break;
        }
      }
    }
    if (!why.empty()) {
      access_.Refused(AuthOp::kJoin, Peer{principal, m.key}, "a member of group " + m.group + ": " + why);
      expelled.emplace_back(std::string(m.peer), std::move(why));
    }
  });
  for (const auto& [peer, why] : expelled) coordinator_->Expel(peer, why + " (the allow-list was reloaded)", now);
}

void GroupChannel::Malformed(std::string_view why, groups::TimePoint now) {
  ++malformed_;
  if (log_limiter_.Allow(now)) {
    spdlog::warn("malformed group request from peer {}: {} ({} similar lines suppressed)",
                 Printable(skipped_peer_, 16), why, log_limiter_.TakeSuppressed());
  }
  v1::GroupReply reply;
  reply.mutable_error()->set_message("malformed request: expected one GroupRequest frame, got " + std::string(why));
  Send(skipped_peer_, reply);
}

void GroupChannel::Send(std::string_view peer, const v1::GroupReply& reply) {
  reply.SerializeToString(&send_buffer_);
  try {
    // With ROUTER_MANDATORY the routing-id frame fails (EAGAIN: the queue is full,
    // EHOSTUNREACH: no such peer) and nothing is queued.
    if (!socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++replies_dropped_;
      return;
    }
    (void)socket_.send(zmq::buffer(send_buffer_), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH && e.num() != EAGAIN) throw;
    ++replies_dropped_;
  }
}

void GroupChannel::Close() { socket_.close(); }

}  // namespace signalbus::broker
