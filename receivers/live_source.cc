// The live fan-out over a ZeroMQ SUB socket: subscription prefixes, the frame layout,
// and turning whatever a peer sent into an event or a counted, explained drop.
#include "signalbus/receivers/live_source.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "signalbus/core/logging.h"
#include "signalbus/core/sockets.h"

namespace signalbus {
namespace {

constexpr std::size_t kFramesPerMessage = 2;  // [topic, event]

}  // namespace

LiveSource::LiveSource(std::string endpoint, std::size_t max_event_bytes)
    : endpoint_(std::move(endpoint)), max_event_bytes_(max_event_bytes) {}

LiveSource::~LiveSource() { Close(); }

std::vector<std::string> LiveSource::SubscriptionPrefixes(const std::vector<TopicPattern>& patterns) {
  std::vector<std::string> prefixes;
  for (const TopicPattern& p : patterns) prefixes.push_back(p.ZmqPrefix());
  // Sorted, a prefix comes right before the strings it covers, so one pass keeps only the
  // prefixes not covered by a shorter one ("" covers everything).
  std::sort(prefixes.begin(), prefixes.end());
  std::vector<std::string> out;
  for (std::string& p : prefixes) {
    if (!out.empty() && p.starts_with(out.back())) continue;
    out.push_back(std::move(p));
  }
  return out;
}

Status LiveSource::Open(const std::vector<TopicPattern>& patterns) {
  if (socket_) return Internal("live source is already open");
  SocketOptions options;
  // No ZMQ_MAXMSGSIZE here: ZeroMQ would drop the whole connection to the broker over one
  // large event. Size is checked per event instead, and such an event is counted.
  socket_.emplace(MakeSocket(SharedContext(), zmq::socket_type::sub, options));
  // Subscribing before connecting: the subscriptions go out as soon as the connection is
  // up, and again after every reconnect.
  for (const std::string& prefix : SubscriptionPrefixes(patterns)) {
    socket_->set(zmq::sockopt::subscribe, prefix);
  }
  if (Status s = Connect(*socket_, endpoint_); !s.ok()) {
    Close();
    return s;
  }
  return Status::Ok();
}

Result<Received> LiveSource::Receive(std::chrono::milliseconds timeout) {
  if (!socket_) return Internal("live source is not open");
  Received out;
  if (draining_) {
    out.kind = Received::Kind::kDrained;
    return out;
  }
  try {
    zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return out;

    // A multipart message arrives whole, so every part is readable now. All parts are
    // read whatever their number, so a bad message never leaves parts behind.
    zmq::message_t topic;
    zmq::message_t body;
    std::size_t frames = 0;
    bool more = true;
    while (more) {
      zmq::message_t part;
      if (!socket_->recv(part, zmq::recv_flags::dontwait)) break;
      more = part.more();
      if (frames == 0) {
        topic = std::move(part);
      } else if (frames == 1) {
        body = std::move(part);
      }
      ++frames;
    }
    if (frames == 0) return out;  // woken without a message (possible after a reconnect)

    std::string_view topic_bytes = topic.to_string_view();
    if (frames != kFramesPerMessage) {
      out.kind = Received::Kind::kMalformed;
      out.problem = "message with " + std::to_string(frames) + " frames (want 2: topic, event), first frame '" +
                    Printable(topic_bytes) + "'";
      return out;
    }
    Result<v1::Event> event = DecodeEvent(body.to_string_view(), max_event_bytes_);
    if (!event.ok()) {
      out.kind = Received::Kind::kMalformed;
      out.problem = "undecodable event on topic '" + Printable(topic_bytes) + "': " + event.status().message();
      return out;
    }
    std::string event_topic = TopicOf(*event);
    if (event_topic != topic_bytes) {
      out.kind = Received::Kind::kMalformed;
      out.problem = "topic frame '" + Printable(topic_bytes) + "' does not match event " + event->event_id() + " (" +
                    Printable(event_topic) + ")";
      return out;
    }
    out.kind = Received::Kind::kEvent;
    out.delivery.topic = std::move(event_topic);
    out.delivery.event = std::move(event).value();
    return out;
  } catch (const zmq::error_t& e) {
    // A signal interrupted the wait: let the caller look at the shutdown flag.
    if (e.num() == EINTR) return out;
    return Unavailable("live source " + endpoint_ + ": " + e.what());
  }
}

void LiveSource::Drain() { draining_ = true; }

void LiveSource::Close() {
  if (socket_) {
    socket_->close();
    socket_.reset();
  }
  draining_ = false;
}

std::string LiveSource::Describe() const { return "live " + endpoint_; }

}  // namespace signalbus
