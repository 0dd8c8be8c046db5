// Framing of the consumer-group protocol on the broker's ROUTER socket.
#include "signalbus/broker/group_channel.h"

#include <spdlog/spdlog.h>

#include "signalbus/core/logging.h"
#include "signalbus/core/sockets.h"

namespace signalbus::broker {
namespace {

// A request is small (acks are batched); anything larger is not ours.
constexpr std::int64_t kMaxRequestBytes = 4 << 20;

}  // namespace

GroupChannel::GroupChannel(zmq::context_t& context, std::string endpoint)
    : context_(context), endpoint_(std::move(endpoint)) {}

Status GroupChannel::Bind() {
  SocketOptions options;
  options.max_frame_bytes = kMaxRequestBytes;
  options.send_hwm = 1'000'000;  // deliveries are bounded by each member's credits
  socket_ = MakeSocket(context_, zmq::socket_type::router, options);
  auto bound = signalbus::Bind(socket_, endpoint_);
  if (!bound.ok()) return bound.status();
  bound_endpoint_ = *bound;
  return Status::Ok();
}

std::size_t GroupChannel::Drain(std::size_t budget, groups::TimePoint now) {
  std::size_t handled = 0;
  zmq::message_t peer;
  zmq::message_t body;
  zmq::message_t extra;
  while (handled < budget && TryRecvFrame(socket_, peer)) {
    ++handled;
    bool have_body = peer.more() && TryRecvFrame(socket_, body);
    bool too_many = have_body && body.more();
    while (too_many && TryRecvFrame(socket_, extra) && extra.more()) {
    }
    v1::GroupRequest request;
    if (!have_body || too_many || !request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      ++malformed_;
      spdlog::debug("malformed group request from peer {} ({} bytes)", Printable(peer.to_string_view(), 16),
                    have_body ? body.size() : 0);
      v1::GroupReply reply;
      reply.mutable_error()->set_message("malformed request: expected one GroupRequest frame");
      Send(peer.to_string_view(), reply);
      continue;
    }
    coordinator_->HandleRequest(peer.to_string_view(), request, now);
  }
  return handled;
}

void GroupChannel::Send(std::string_view peer, const v1::GroupReply& reply) {
  reply.SerializeToString(&send_buffer_);
  try {
    if (!socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
    (void)socket_.send(zmq::buffer(send_buffer_), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH && e.num() != EAGAIN) throw;
  }
}

void GroupChannel::Close() { socket_.close(); }

}  // namespace signalbus::broker
