// Ingest: reading untrusted multipart messages off the ROUTER socket.
#include "signalbus/broker/ingest.h"

#include <cerrno>
#include <utility>

#include "signalbus/broker/publisher_sessions.h"
#include "signalbus/core/sockets.h"

namespace signalbus::broker {

std::int64_t IngestFrameCap(std::size_t max_event_bytes) {
  return static_cast<std::int64_t>(max_event_bytes) + 64 * 1024;
}

Ingest::Ingest(zmq::context_t& context, IngestOptions options, Metrics& metrics, IngestHandler& handler)
    : context_(context),
      options_(std::move(options)),
      validator_options_{options_.max_event_bytes},
      metrics_(metrics),
      handler_(handler) {}

Status Ingest::Bind() {
  try {
    SocketOptions socket_options;
    socket_options.max_frame_bytes = IngestFrameCap(options_.max_event_bytes);
    socket_options.recv_hwm = options_.recv_hwm;
    socket_options.send_hwm = options_.send_hwm;
    socket_ = MakeSocket(context_, zmq::socket_type::router, socket_options);
    Result<std::string> bound = signalbus::Bind(socket_, options_.endpoint);
    if (!bound.ok()) return bound.status();
    bound_endpoint_ = std::move(bound).value();
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Internal("cannot create the ingest socket: " + std::string(e.what()));
  }
}

std::size_t Ingest::Drain(std::size_t budget) {
  std::size_t handled = 0;
  while (handled < budget && HandleOne()) ++handled;
  return handled;
}

bool Ingest::HandleOne() {
  zmq::message_t peer;
  if (!TryRecvFrame(socket_, peer)) return false;
  // A ROUTER hands over [routing id, frames...] whole: what follows is readable now.
  AcceptedEvent message;
  std::size_t frames = 0;
  std::uint64_t bytes = 0;
  bool more = peer.more();
  if (more && TryRecvFrame(socket_, message.topic)) {
    ++frames;
    bytes += message.topic.size();
    more = message.topic.more();
  }
  if (more && TryRecvFrame(socket_, message.event)) {
    ++frames;
    bytes += message.event.size();
    more = message.event.more();
  }
  // Frames beyond the second are read and released one at a time: a peer sending a
  // thousand frames costs a count, not more memory than ZeroMQ already holds.
  zmq::message_t extra;
  while (more && TryRecvFrame(socket_, extra)) {
    ++frames;
    bytes += extra.size();
    more = extra.more();
  }
  metrics_.AddIngestBytes(bytes);
  const std::string_view peer_id = peer.to_string_view();

  if (frames == 1 && message.topic.size() == 0) {
    handler_.OnProbe(peer_id);
    return true;
  }
  if (frames >= 1 && message.topic.to_string_view() == kHelloKind) {
    handler_.OnHello(peer_id, frames == 2 ? message.event_view() : std::string_view());
    return true;
  }
  Verdict verdict = ValidateMessage(frames, message.topic_view(), message.event_view(), validator_options_);
  if (!verdict.accepted()) {
    metrics_.CountRejected(verdict.rejection().reason);
    handler_.OnRejected(peer_id, verdict.rejection(), message.topic_view(), message.event_view());
    return true;
  }
  message.fields = std::move(verdict.fields());
  metrics_.CountAccepted();
  handler_.OnEvent(peer_id, message);
  return true;
}

void Ingest::Send(std::string_view peer, std::string_view kind, std::string_view bytes) {
  try {
    // ROUTER drops a message for a peer that is gone or whose queue is full; a routing
    // id frame accepted means the rest of the message is too.
    if (!socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
    (void)socket_.send(zmq::buffer(kind), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH && e.num() != EAGAIN) throw;
  }
}

void Ingest::Close() { socket_.close(); }

}  // namespace signalbus::broker
