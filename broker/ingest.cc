// Ingest: reading untrusted multipart messages off the ROUTER socket.
#include "signalbus/broker/ingest.h"

#include <cerrno>
#include <utility>

#include "signalbus/broker/publisher_sessions.h"
#include "signalbus/core/sockets.h"
#include "signalbus/v1/publish.pb.h"

namespace signalbus::broker {

std::int64_t IngestFrameCap(std::size_t max_event_bytes) {
  return static_cast<std::int64_t>(max_event_bytes) + 64 * 1024;
}

Ingest::Ingest(zmq::context_t& context, IngestOptions options, Metrics& metrics, AccessControl& access,
               IngestHandler& handler)
    : context_(context),
      options_(std::move(options)),
      validator_options_{options_.max_event_bytes},
      metrics_(metrics),
      access_(access),
      handler_(handler) {}

Status Ingest::Bind() {
  try {
    SocketOptions socket_options;
    socket_options.max_frame_bytes = IngestFrameCap(options_.max_event_bytes);
    socket_options.recv_hwm = options_.recv_hwm;
    socket_options.send_hwm = options_.send_hwm;
    socket_options.curve = options_.curve;
    socket_ = MakeSocket(context_, options_.routed ? zmq::socket_type::router : zmq::socket_type::xsub,
                         socket_options);
    Result<BoundEndpoints> bound = BindServer(socket_, options_.endpoint, options_.curve);
    if (!bound.ok()) return bound.status();
    bound_endpoint_ = std::move(bound->endpoint);
    bound_next_endpoint_ = std::move(bound->next_endpoint);
    // An XSUB sends its subscriptions to every PUB that connects: everything.
    if (!options_.routed) (void)socket_.send(zmq::buffer(std::string_view("\x01", 1)), zmq::send_flags::dontwait);
    return Status::Ok();
  } catch (const std::exception& e) {  // zmq::error_t, SocketSecurityError
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
  AcceptedEvent message;
  std::size_t frames = 0;
  std::uint64_t bytes = 0;
  bool more = true;
  if (options_.routed) {
    if (!TryRecvFrame(socket_, peer)) return false;
    // A ROUTER hands over [routing id, frames...] whole: what follows is readable now.
    more = peer.more();
  } else if (!TryRecvFrame(socket_, message.topic)) {
    return false;
  } else {
    // A PUB's message has no routing id: its first frame is the topic.
    ++frames;
    bytes += message.topic.size();
    more = message.topic.more();
  }
  if (options_.routed && more && TryRecvFrame(socket_, message.topic)) {
    ++frames;
    bytes += message.topic.size();
    more = message.topic.more();
  }
  // The sender, from the User-Id of the first frame the peer sent: a ROUTER's routing-id
  // frame is made by libzmq and does not always carry the connection's properties.
  const Peer sender = access_.Identify(options_.routed && frames == 0 ? peer : message.topic);
  if (options_.routed && frames == 1 && message.topic.to_string_view() == kBatchKind) {
    metrics_.AddIngestBytes(bytes);
    HandleBatch(peer.to_string_view(), more, sender);
    return true;
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

  if (options_.routed && frames == 1 && message.topic.size() == 0) {
    handler_.OnProbe(peer_id);
    return true;
  }
  if (options_.routed && frames >= 1 && message.topic.to_string_view() == kHelloKind) {
    handler_.OnHello(peer_id, frames == 2 ? message.event_view() : std::string_view(), sender);
    return true;
  }
  Verdict verdict = ValidateMessage(frames, message.topic_view(), message.event_view(), validator_options_);
  if (!verdict.accepted()) {
    Reject(peer_id, verdict.rejection(), message.topic_view(), message.event_view());
    return true;
  }
  if (std::optional<Rejection> forbidden = Forbidden(sender, message.topic_view())) {
    Reject(peer_id, *forbidden, message.topic_view(), message.event_view());
    return true;
  }
  message.fields = std::move(verdict.fields());
  metrics_.CountAccepted();
  handler_.OnEvent(peer_id, message);
  return true;
}

std::optional<Rejection> Ingest::Forbidden(const Peer& sender, std::string_view topic) {
  if (sender && sender.principal->MayPublish(topic)) return std::nullopt;
  if (!sender) return Rejection{RejectReason::kForbidden, "not authenticated, or its key is no longer allowed"};
  std::string why = "principal '" + sender.principal->name + "' may not publish " + std::string(topic);
  access_.Refused(AuthOp::kPublish, sender, why);
  return Rejection{RejectReason::kForbidden, std::move(why)};
}

void Ingest::Reject(std::string_view peer, const Rejection& rejection, std::string_view topic,
                    std::string_view event) {
  metrics_.CountRejected(rejection.reason);
  handler_.OnRejected(peer, rejection, topic, event);
}

namespace {

// Why an atomic batch whose events all passed the validator breaks its own rules, or "".
std::string AtomicBatchProblem(const std::vector<BatchItem>& items) {
  const EventFields& first = items.front().event.fields;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const EventFields& f = items[i].event.fields;
    if (f.publisher_id != first.publisher_id) return "an atomic batch of more than one publisher id";
    if (first.sequence == 0 ? f.sequence != 0 : f.sequence != first.sequence + i) {
      return "an atomic batch whose sequences are not consecutive";
    }
  }
  return "";
}

}  // namespace

void Ingest::HandleBatch(std::string_view peer, bool more, const Peer& sender) {
  // Frames after the header come in (topic, event) pairs. At most max_batch_events
  // pairs and max_batch_bytes are held; the rest is read and released, and the batch
  // refused.
  zmq::message_t header_frame;
  std::uint64_t bytes = 0;
  bool has_header = false;
  if (more && TryRecvFrame(socket_, header_frame)) {
    has_header = true;
    bytes += header_frame.size();
    more = header_frame.more();
  }
  std::vector<BatchItem> items;
  std::size_t held_bytes = 0;
  std::size_t pairs = 0;
  bool unpaired = false;
  while (more) {
    BatchItem item;
    if (!TryRecvFrame(socket_, item.event.topic)) break;
    bytes += item.event.topic.size();
    more = item.event.topic.more();
    if (!more || !TryRecvFrame(socket_, item.event.event)) {
      unpaired = true;
      break;
    }
    bytes += item.event.event.size();
    more = item.event.event.more();
    ++pairs;
    const std::size_t size = item.event.topic.size() + item.event.event.size();
    if (items.size() >= options_.max_batch_events || held_bytes + size > options_.max_batch_bytes) continue;
    held_bytes += size;
    items.push_back(std::move(item));
  }
  zmq::message_t extra;
  while (more && TryRecvFrame(socket_, extra)) {
    bytes += extra.size();
    more = extra.more();
  }
  metrics_.AddIngestBytes(bytes);

  v1::BatchHeader header;
  std::string problem;
  if (!has_header || !header.ParseFromArray(header_frame.data(), static_cast<int>(header_frame.size()))) {
    problem = "a batch without a decodable BatchHeader frame";
  } else if (unpaired) {
    problem = "a batch whose last topic has no event frame";
  } else if (pairs == 0) {
    problem = "a batch of no events";
  } else if (pairs > items.size()) {
    problem = "a batch of " + std::to_string(pairs) + " events over the limits (" +
              std::to_string(options_.max_batch_events) + " events, " + std::to_string(options_.max_batch_bytes) +
              " bytes)";
  } else if (header.count() != pairs) {
    problem = "a batch header counting " + std::to_string(header.count()) + " events for " + std::to_string(pairs);
  }
  if (!problem.empty()) {
    const Rejection rejection{RejectReason::kBadBatch, problem};
    if (items.empty()) Reject(peer, rejection, {}, {});
    for (BatchItem& item : items) Reject(peer, rejection, item.event.topic_view(), item.event.event_view());
    return;
  }
  bool all_accepted = true;
  for (BatchItem& item : items) {
    Verdict verdict = ValidateMessage(2, item.event.topic_view(), item.event.event_view(), validator_options_);
    if (!verdict.accepted()) {
      item.rejection = verdict.rejection();
    } else if (!(item.rejection = Forbidden(sender, item.event.topic_view()))) {
      item.event.fields = std::move(verdict.fields());
    }
    if (item.rejection) all_accepted = false;
  }
  if (header.atomic()) {
    if (std::string rule = all_accepted ? AtomicBatchProblem(items) : ""; !rule.empty()) {
      for (BatchItem& item : items) item.rejection = Rejection{RejectReason::kBadBatch, rule};
      all_accepted = false;
    }
    if (!all_accepted) {
      for (BatchItem& item : items) {
        if (!item.rejection) {
          item.rejection = Rejection{RejectReason::kAtomicBatch, "another event of its atomic batch was rejected"};
        }
      }
    }
  }
  for (const BatchItem& item : items) {
    if (item.rejection) {
      metrics_.CountRejected(item.rejection->reason);
    } else {
      metrics_.CountAccepted();
    }
  }
  handler_.OnBatch(peer, header.atomic(), items);
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
