// The live listener's side of the live protocol: subscribing (again when forgotten),
// heartbeats, credit for each mark read, the broker's drop reports, and turning whatever
// a peer sent into an event or a counted, explained drop.
#include "signalbus/receivers/live_source.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include <spdlog/spdlog.h>

#include "signalbus/core/duration.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/sockets.h"

namespace signalbus {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kFramesPerEvent = 2;  // [topic, event]
// The broker takes requests of at most 16 KiB (a larger frame costs the connection):
// patterns go in Subscribe requests of at most half that.
constexpr std::size_t kMaxSubscribeBytes = 8 << 10;
constexpr milliseconds kMinHeartbeat{100};
// A broker silent for this many heartbeat intervals is presumed gone (or to have
// forgotten this listener): subscribe again.
constexpr int kMissedHeartbeats = 3;

constexpr double kLogsPerSecond = 1.0;
constexpr double kLogBurst = 5.0;

milliseconds Until(std::chrono::steady_clock::time_point deadline, std::chrono::steady_clock::time_point now) {
  if (deadline <= now) return milliseconds(0);
  return std::chrono::ceil<milliseconds>(deadline - now);
}

}  // namespace

LiveSource::LiveSource(std::string endpoint, std::size_t max_event_bytes, LiveSourceOptions options)
    : endpoint_(std::move(endpoint)),
      max_event_bytes_(max_event_bytes),
      options_(options),
      heartbeat_(options.heartbeat),
      log_limiter_(kLogsPerSecond, kLogBurst) {}

LiveSource::~LiveSource() { Close(); }

std::vector<v1::LiveRequest> LiveSource::SubscribeRequests(const std::vector<TopicPattern>& patterns,
                                                           const LiveSourceOptions& options) {
  std::vector<std::string> texts;
  for (const TopicPattern& p : patterns) {
    std::string text = p.ToString();
    if (std::find(texts.begin(), texts.end(), text) == texts.end()) texts.push_back(std::move(text));
  }
  std::vector<v1::LiveRequest> requests;
  std::size_t bytes = kMaxSubscribeBytes;
  for (std::string& text : texts) {
    if (bytes + text.size() + 3 > kMaxSubscribeBytes) {
      requests.emplace_back();
      v1::LiveSubscribe* s = requests.back().mutable_subscribe();
      s->set_window_bytes(options.window_bytes);
      s->set_heartbeat_ms(static_cast<std::uint32_t>(options.heartbeat.count()));
      bytes = 32;
    }
    bytes += text.size() + 3;
    requests.back().mutable_subscribe()->add_patterns(std::move(text));
  }
  return requests;
}

Status LiveSource::Open(const std::vector<TopicPattern>& patterns) {
  if (socket_) return Internal("live source is already open");
  if (patterns.empty()) return InvalidArgument("live source: no topic patterns to subscribe to");
  if (options_.window_bytes == 0) return InvalidArgument("live source: the window must be at least 1 byte");
  if (options_.heartbeat < kMinHeartbeat) {
    return InvalidArgument("live source: heartbeat must be at least " + FormatDuration(kMinHeartbeat));
  }
  if (Status s = ValidateEndpoint(endpoint_); !s.ok()) return InvalidArgument("live endpoint: " + s.message());
  subscribe_requests_ = SubscribeRequests(patterns, options_);
  SocketOptions socket_options;
  // No ZMQ_MAXMSGSIZE here: ZeroMQ would drop the whole connection to the broker over one
  // large event. Size is checked per event instead, and such an event is counted.
  Result<std::optional<CurveSecurity>> curve = LoadCurveClient(CurveClientFromEnv(options_.curve));
  if (!curve.ok()) return curve.status();
  socket_options.curve = std::move(curve).value();
  try {
    socket_.emplace(MakeSocket(SharedContext(), zmq::socket_type::dealer, socket_options));
  } catch (const SocketSecurityError& e) {
    return FailedPrecondition(e.what());
  }
  watch_ = std::make_unique<ConnectionWatch>(SharedContext(), *socket_);
  // Queue only to a live connection: heartbeats and credits written while the broker is
  // away mean nothing to a restarted one, which would answer each with UNKNOWN_LISTENER.
  socket_->set(zmq::sockopt::immediate, 1);
  if (Status s = Connect(*socket_, endpoint_); !s.ok()) {
    Close();
    return s;
  }
  draining_ = false;
  refused_.reset();
  StartSubscribing(Clock::now());
  return Status::Ok();
}

void LiveSource::StartSubscribing(Clock::time_point now) {
  state_ = State::kSubscribing;
  next_subscribe_request_ = 0;
  answers_awaited_ = subscribe_requests_.size();
  pending_credit_ = 0;  // a credit for marks of a listener the broker forgot is refused anyway
  last_heard_ = now;
  next_heartbeat_ = now + heartbeat_;
  subscribe_deadline_ = now + kMissedHeartbeats * heartbeat_;
}

bool LiveSource::Send(const v1::LiveRequest& request) {
  const std::string bytes = request.SerializeAsString();
  try {
    return socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
}

void LiveSource::RunTimers(Clock::time_point now) {
  while (next_subscribe_request_ < subscribe_requests_.size() && Send(subscribe_requests_[next_subscribe_request_])) {
    ++next_subscribe_request_;
  }
  if (pending_credit_ != 0) {
    v1::LiveRequest credit;
    credit.mutable_credit()->set_mark(pending_credit_);
    if (Send(credit)) pending_credit_ = 0;
  }
  if (state_ == State::kSubscribing && now >= subscribe_deadline_) {
    // Unanswered (the broker is not there yet, or the answer was lost with a dying one).
    StartSubscribing(now);
    return;
  }
  if (state_ == State::kSubscribed && now - last_heard_ >= kMissedHeartbeats * heartbeat_) {
    if (log_limiter_.Allow()) {
      spdlog::warn("live {}: the broker sent nothing for {}; subscribing again", endpoint_,
                   FormatDuration(kMissedHeartbeats * heartbeat_));
    }
    StartSubscribing(now);
    return;
  }
  if (now >= next_heartbeat_) {
    v1::LiveRequest heartbeat;
    heartbeat.mutable_heartbeat();
    (void)Send(heartbeat);  // unsent: no connection, and the silence above will tell
    next_heartbeat_ = now + heartbeat_;
  }
}

LiveSource::Clock::time_point LiveSource::NextTimer() const {
  Clock::time_point t = next_heartbeat_;
  if (state_ == State::kSubscribing) t = std::min(t, subscribe_deadline_);
  if (state_ == State::kSubscribed) t = std::min(t, last_heard_ + kMissedHeartbeats * heartbeat_);
  return t;
}

void LiveSource::WaitForMessage(Clock::time_point until) {
  Clock::time_point now = Clock::now();
  short events = ZMQ_POLLIN;
  // What could not be sent goes out as soon as a connection is writable.
  if (SendPending()) events |= ZMQ_POLLOUT;
  zmq::pollitem_t items[] = {{socket_->handle(), 0, events, 0}, {watch_->socket().handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 2, Until(std::min(until, NextTimer()), now));
}

Result<Received> LiveSource::Receive(milliseconds timeout) {
  if (!socket_) return Internal("live source is not open");
  const Clock::time_point deadline = Clock::now() + timeout;
  try {
    while (true) {
      if (refused_) return *refused_;
      if (draining_) {
        Received drained;
        drained.kind = Received::Kind::kDrained;
        return drained;
      }
      Clock::time_point now = Clock::now();
      RunTimers(now);
      std::optional<Received> out;
      if (ReadOne(now, &out)) {
        if (out) return std::move(*out);
        continue;
      }
      // Nothing to read: now the connection watch (an empty read of it costs two system
      // calls, so not per event). Never let in (a key the broker does not allow, a
      // pinned key that is not its own), before any answer: say so. (Later, the DEALER
      // reconnects on its own.)
      if (watch_->Drain() == ConnectionWatch::Change::kRefused && state_ == State::kSubscribing) {
        return PermissionDenied("live source " + endpoint_ + ": " + watch_->refusal());
      }
      if (now >= deadline) return Received{};
      WaitForMessage(deadline);
    }
  } catch (const zmq::error_t& e) {
    // A signal interrupted the wait: let the caller look at the shutdown flag.
    if (e.num() == EINTR) return Received{};
    return Unavailable("live source " + endpoint_ + ": " + e.what());
  }
}

bool LiveSource::ReadOne(Clock::time_point now, std::optional<Received>* out) {
  // A multipart message arrives whole, so every part is readable now. All parts are read
  // whatever their number, so a bad message never leaves parts behind.
  zmq::message_t first;
  if (!TryRecvFrame(*socket_, first)) return false;
  last_heard_ = now;
  zmq::message_t second;
  std::size_t frames = 1;
  bool more = first.more();
  while (more) {
    zmq::message_t part;
    if (!TryRecvFrame(*socket_, part)) break;
    more = part.more();
    if (frames == 1) second = std::move(part);
    ++frames;
  }
  if (frames == kFramesPerEvent) {
    *out = DecodeEventMessage(first, second);
    return true;
  }
  if (frames != 1) {
    Received bad;
    bad.kind = Received::Kind::kMalformed;
    bad.problem = "message with " + std::to_string(frames) + " frames (want 2: topic, event; or 1: a reply), " +
                  "first frame '" + Printable(first.to_string_view()) + "'";
    *out = std::move(bad);
    return true;
  }
  v1::LiveReply reply;
  if (!reply.ParseFromArray(first.data(), static_cast<int>(first.size()))) {
    Received bad;
    bad.kind = Received::Kind::kMalformed;
    bad.problem = "undecodable reply '" + Printable(first.to_string_view()) + "'";
    *out = std::move(bad);
    return true;
  }
  HandleReply(reply, now, out);
  return true;
}

void LiveSource::HandleReply(const v1::LiveReply& reply, Clock::time_point now, std::optional<Received>* out) {
  // The credit first: this reply, and everything before it, has been read.
  if (reply.mark() != 0) {
    v1::LiveRequest credit;
    credit.mutable_credit()->set_mark(reply.mark());
    pending_credit_ = Send(credit) ? 0 : reply.mark();
  }
  switch (reply.kind_case()) {
    case v1::LiveReply::kSubscribed: {
      const v1::LiveSubscribed& s = reply.subscribed();
      if (s.refused() > 0) {
        refused_ = InvalidArgument("the broker at " + endpoint_ + " refused " + std::to_string(s.refused()) +
                                   " topic pattern(s), first '" + Printable(s.refused_pattern()) +
                                   "': " + Printable(s.refused_reason()) + ": " + Printable(s.refused_message(), 300));
        return;
      }
      granted_window_ = s.window_bytes();
      if (s.heartbeat_ms() > 0) heartbeat_ = milliseconds(s.heartbeat_ms());
      if (state_ == State::kSubscribing && answers_awaited_ > 0 && --answers_awaited_ == 0) {
        state_ = State::kSubscribed;
        if (++stats_.subscribes > 1 && log_limiter_.Allow()) {
          spdlog::info("live {}: subscribed again ({} patterns)", endpoint_, s.patterns());
        }
      }
      break;
    }
    case v1::LiveReply::kError: {
      const v1::LiveError& e = reply.error();
      const std::string message = Printable(e.message(), 300);
      if (e.code() == v1::LiveError::UNKNOWN_LISTENER) {
        // The broker restarted, or forgot this listener after a silence.
        if (log_limiter_.Allow()) spdlog::warn("live {}: {}; subscribing again", endpoint_, message);
        if (state_ == State::kSubscribed) StartSubscribing(now);
      } else if (e.code() == v1::LiveError::TOO_MANY_LISTENERS) {
        refused_ = Unavailable("the broker at " + endpoint_ + " refused this listener: " + message);
      } else if (e.code() == v1::LiveError::FORBIDDEN) {
        refused_ = PermissionDenied("the broker at " + endpoint_ + " refused this listener: " + message);
      } else if (log_limiter_.Allow()) {
        spdlog::warn("live {}: the broker says: {}", endpoint_, message);
      }
      break;
    }
    case v1::LiveReply::kHeartbeat:
    case v1::LiveReply::KIND_NOT_SET:  // a bare mark or report, or the broker's probe
      break;
  }
  if (reply.missed() > 0) {
    stats_.missed += reply.missed();
    Received missed;
    missed.kind = Received::Kind::kMissed;
    missed.missed = reply.missed();
    *out = std::move(missed);
  }
}

Received LiveSource::DecodeEventMessage(const zmq::message_t& topic, const zmq::message_t& body) {
  Received out;
  std::string_view topic_bytes = topic.to_string_view();
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
  ++stats_.events;
  out.kind = Received::Kind::kEvent;
  out.delivery.topic = std::move(event_topic);
  out.delivery.event = std::move(event).value();
  return out;
}

void LiveSource::Drain() { draining_ = true; }

void LiveSource::Close() {
  watch_.reset();
  if (socket_) {
    socket_->close();
    socket_.reset();
  }
  state_ = State::kClosed;
  draining_ = false;
  pending_credit_ = 0;
}

std::string LiveSource::Describe() const { return "live " + endpoint_; }

}  // namespace signalbus
