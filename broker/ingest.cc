// Ingest: reading untrusted multipart messages off the XSUB socket.
#include "signalbus/broker/ingest.h"

#include <cerrno>
#include <utility>

#include "signalbus/core/sockets.h"

namespace signalbus::broker {
namespace {

// XSUB's subscribe message for the empty prefix: every topic.
constexpr char kSubscribeAll[] = {'\x01'};

}  // namespace

std::int64_t IngestFrameCap(std::size_t max_event_bytes) {
  return 2 * static_cast<std::int64_t>(max_event_bytes) + 64 * 1024;
}

Ingest::Ingest(zmq::context_t& context, IngestOptions options, Metrics& metrics, EventSink& sink,
               RejectHandler on_reject)
    : context_(context),
      options_(std::move(options)),
      validator_options_{options_.max_event_bytes},
      metrics_(metrics),
      sink_(sink),
      on_reject_(std::move(on_reject)) {}

Status Ingest::Bind() {
  try {
    SocketOptions socket_options;
    socket_options.max_frame_bytes = IngestFrameCap(options_.max_event_bytes);
    socket_ = MakeSocket(context_, zmq::socket_type::xsub, socket_options);
    Result<std::string> bound = signalbus::Bind(socket_, options_.endpoint);
    if (!bound.ok()) return bound.status();
    bound_endpoint_ = std::move(bound).value();
    // XSUB remembers the subscription and sends it to every publisher that connects later.
    if (!socket_.send(zmq::const_buffer(kSubscribeAll, sizeof kSubscribeAll), zmq::send_flags::dontwait)) {
      return Internal("cannot subscribe the ingest socket");
    }
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
  AcceptedEvent message;
  if (!TryRecvFrame(socket_, message.topic)) return false;
  std::size_t frames = 1;
  std::uint64_t bytes = message.topic.size();
  bool more = message.topic.more();
  if (more && TryRecvFrame(socket_, message.event)) {
    ++frames;
    bytes += message.event.size();
    more = message.event.more();
  }
  // Frames beyond the second are read and released one at a time: a peer sending a
  // thousand frames costs a count, not memory.
  zmq::message_t extra;
  while (more && TryRecvFrame(socket_, extra)) {
    ++frames;
    bytes += extra.size();
    more = extra.more();
  }
  metrics_.AddIngestBytes(bytes);

  Verdict verdict = ValidateMessage(frames, message.topic_view(), message.event_view(), validator_options_);
  if (!verdict.accepted()) {
    metrics_.CountRejected(verdict.rejection().reason);
    if (on_reject_) on_reject_(verdict.rejection(), message.topic_view(), message.event_view());
    return true;
  }
  message.fields = std::move(verdict.fields());
  metrics_.CountAccepted();
  sink_.Accept(message);
  return true;
}

void Ingest::Close() { socket_.close(); }

}  // namespace signalbus::broker
