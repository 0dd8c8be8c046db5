// Live fan-out over XPUB, and the subscription gauge.
#include "signalbus/broker/live_fanout.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <spdlog/spdlog.h>

#include "signalbus/core/logging.h"
#include "signalbus/core/sockets.h"

namespace signalbus::broker {
namespace {

// A second handle on a frame's bytes. For anything above ZeroMQ's 33-byte inline size
// zmq_msg_copy only bumps a reference count, so the event body is never copied. The
// source is logically unchanged, hence the const_cast (cppzmq's own const overload of
// copy() did the same before it was deprecated).
zmq::message_t Share(const zmq::message_t& frame) {
  zmq::message_t copy;
  copy.copy(const_cast<zmq::message_t&>(frame));
  return copy;
}

// XPUB never blocks on send (at its high-water mark it drops), so only EINTR is retried.
void SendFrame(zmq::socket_t& socket, zmq::message_t& frame, zmq::send_flags flags) {
  while (true) {
    try {
      (void)socket.send(frame, flags | zmq::send_flags::dontwait);
      return;
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
  }
}

}  // namespace

LiveFanout::LiveFanout(zmq::context_t& context, std::string endpoint, Metrics& metrics)
    : context_(context), endpoint_(std::move(endpoint)), metrics_(metrics) {}

Status LiveFanout::Bind() {
  try {
    socket_ = MakeSocket(context_, zmq::socket_type::xpub);
    // Every subscribe and unsubscribe reaches us, not only the first and last per
    // prefix, and a listener that goes away unsubscribes all it had: the gauge then
    // counts (listener, prefix) pairs exactly.
    socket_.set(zmq::sockopt::xpub_verboser, 1);
    Result<std::string> bound = signalbus::Bind(socket_, endpoint_);
    if (!bound.ok()) return bound.status();
    bound_endpoint_ = std::move(bound).value();
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Internal("cannot create the live socket: " + std::string(e.what()));
  }
}

void LiveFanout::Accept(const AcceptedEvent& event) {
  // Nobody listening: ZeroMQ would only drop it, after two sends. A listener whose
  // subscription has not been read yet (DrainSubscriptions runs first in each poll) is
  // a listener that joined a moment later: at-most-once, as the slow joiner anyway.
  if (subscriptions_ == 0) return;
  zmq::message_t topic = Share(event.topic);
  zmq::message_t body = Share(event.event);
  SendFrame(socket_, topic, zmq::send_flags::sndmore);
  SendFrame(socket_, body, zmq::send_flags::none);
  metrics_.CountLiveForwarded();
}

std::size_t LiveFanout::DrainSubscriptions(std::size_t budget) {
  std::size_t handled = 0;
  zmq::message_t message;
  while (handled < budget && TryRecvFrame(socket_, message)) {
    ++handled;
    std::string_view bytes = message.to_string_view();
    bool more = message.more();
    // A peer may send anything up an XPUB; only single-frame 0x00/0x01 messages are
    // (un)subscriptions. The rest is drained frame by frame and ignored.
    if (!more && !bytes.empty() && (bytes[0] == '\x01' || bytes[0] == '\x00')) {
      bool subscribe = bytes[0] == '\x01';
      subscriptions_ = subscribe ? subscriptions_ + 1 : std::max<std::int64_t>(0, subscriptions_ - 1);
      metrics_.SetLiveSubscriptions(subscriptions_);
      spdlog::debug("live {} '{}' ({} active)", subscribe ? "subscribe" : "unsubscribe", Printable(bytes.substr(1)),
                    subscriptions_);
      continue;
    }
    spdlog::debug("live: ignored a non-subscription message from a listener: {}", Printable(bytes));
    while (more && TryRecvFrame(socket_, message)) more = message.more();
  }
  return handled;
}

void LiveFanout::Close() { socket_.close(); }

}  // namespace signalbus::broker
