// Publisher: event completion, the DEALER connection to the broker's ingest, the
// session per connection, confirms, re-sends, and what happens when the broker refuses
// this publisher's id.
#include "signalbus/publisher/publisher.h"

#include <algorithm>

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/ingest_protocol.h"
#include "signalbus/core/sockets.h"
#include "signalbus/core/topic.h"
#include "signalbus/v1/publish.pb.h"

namespace signalbus {
namespace {

// How often Publish looks at what the broker sent without waiting.
constexpr std::chrono::microseconds kConfirmPollInterval{50};
// How often a hello is repeated while no session is open (it is lost while there is no
// connection; a new connection also asks for one).
constexpr std::chrono::milliseconds kHelloRetry{250};
constexpr char kClient[] = "signalbus-cpp/0.1.0";

}  // namespace

Publisher::Publisher(PublisherOptions options, bool generated_id)
    : options_(std::move(options)), generated_id_(generated_id) {}

Publisher::~Publisher() {
  if (!unconfirmed_.empty() && failure_.ok()) {
    if (Status s = Flush(options_.send_timeout); !s.ok()) spdlog::error("publisher closing: {}", s.message());
  }
  watch_.reset();  // its socket first: the context waits for every socket
  socket_.close();
  context_.close();
}

Result<std::unique_ptr<Publisher>> Publisher::Connect(PublisherOptions options) {
  if (options.endpoint.empty()) options.endpoint = FromEnv(kIngestEnv, kDefaultIngestEndpoint);
  if (Status s = ValidateEndpoint(options.endpoint); !s.ok()) return s;
  if (Status s = ValidatePublisherId(options.publisher_id); !s.ok()) return s;
  const bool generated = options.publisher_id.empty();
  if (generated) options.publisher_id = NewEventId();
  std::unique_ptr<Publisher> publisher(new Publisher(std::move(options), generated));
  if (Status s = publisher->Open(); !s.ok()) return s;
  return publisher;
}

Status Publisher::Open() {
  SocketOptions socket_options;
  socket_options.send_hwm = options_.send_hwm;
  Result<std::optional<CurveSecurity>> curve = LoadCurveClient(CurveClientFromEnv(options_.curve));
  if (!curve.ok()) return curve.status();
  socket_options.curve = std::move(curve).value();
  try {
    socket_ = MakeSocket(context_, zmq::socket_type::dealer, socket_options);
  } catch (const SocketSecurityError& e) {
    return FailedPrecondition(e.what());
  }
  // Each new connection starts with an empty message, which the broker answers "no
  // session": how a restarted broker or a re-established connection is noticed at once.
  socket_.set(zmq::sockopt::probe_router, 1);
  // No queue for a broker that is not connected: while it is away, sends fail at once
  // and events wait in unconfirmed_ (not in a queue whose head dies in the kernel with
  // the old connection) until a session is open again.
  socket_.set(zmq::sockopt::immediate, 1);
  watch_ = std::make_unique<ConnectionWatch>(context_, socket_);
  if (Status s = signalbus::Connect(socket_, options_.endpoint); !s.ok()) return s;
  if (Status s = Pump(options_.connect_timeout, [this] { return open_; }); !s.ok()) return s;
  if (!failure_.ok()) return failure_;
  if (!open_) {
    return Unavailable("no broker answered at " + options_.endpoint + " within " +
                       std::to_string(options_.connect_timeout.count()) + " ms");
  }
  return Status::Ok();
}

// What arrives on the DEALER: [kSessionKind, SessionReply] and [kConfirmKind,
// PublishConfirm], from the broker, for this connection only.
Status Publisher::Pump(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    zmq::message_t kind;
    bool got = false;
    try {
      got = TryRecvFrame(socket_, kind);
      if (got) {
        zmq::message_t body;
        bool have_body = kind.more() && TryRecvFrame(socket_, body);
        zmq::message_t extra;
        for (bool more = have_body && body.more(); more && TryRecvFrame(socket_, extra);) more = extra.more();
        if (have_body && kind.to_string_view() == kConfirmKind) HandleConfirm(body);
        if (have_body && kind.to_string_view() == kSessionKind) HandleSession(body);
      }
    } catch (const zmq::error_t& e) {
      return Internal(std::string("receive failed: ") + e.what());
    }
    if (got) continue;
    // A session lives and dies with its connection; the next one says hello again.
    switch (watch_->Drain()) {
      case ConnectionWatch::Change::kDown: open_ = false; break;
      case ConnectionWatch::Change::kRefused:
        open_ = false;
        // Before a session, nothing will ever get through: say why instead of waiting.
        if (!ever_open_) failure_ = PermissionDenied(options_.endpoint + ": " + watch_->refusal());
        break;
      default: break;
    }
    if (done() || !failure_.ok()) return Status::Ok();
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Status::Ok();
    if (!open_ && now - last_hello_ >= kHelloRetry) SendHello();
    if (open_ && !unconfirmed_.empty() && now - last_progress_ >= options_.resend_interval) ResendAll();
    auto wait = std::min({std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                              std::chrono::milliseconds(1),
                          options_.resend_interval, std::chrono::milliseconds(kHelloRetry)});
    // Writable again (the broker read what filled the queue): what is unsent goes on.
    const bool unsent = open_ && unsent_from_ != 0;
    zmq::pollitem_t items[] = {
        {socket_.handle(), 0, static_cast<short>(ZMQ_POLLIN | (unsent ? ZMQ_POLLOUT : 0)), 0},
        {watch_->socket().handle(), 0, ZMQ_POLLIN, 0},
    };
    try {
      zmq::poll(items, 2, wait);
      if (items[0].revents & ZMQ_POLLOUT) SendUnsent();
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Internal(std::string("poll failed: ") + e.what());
    }
  }
}

void Publisher::SendHello() {
  last_hello_ = std::chrono::steady_clock::now();
  v1::PublisherHello hello;
  hello.set_publisher_id(options_.publisher_id);
  hello.set_unconfirmed_from(unconfirmed_.empty() ? sequence_ + 1 : unconfirmed_.front().sequence);
  hello.set_next_sequence(sequence_ + 1);
  hello.set_client(kClient);
  std::string bytes = hello.SerializeAsString();
  try {
    // Without a connection (ZMQ_IMMEDIATE) this fails at once; the next one is retried.
    if (socket_.send(zmq::buffer(kHelloKind), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      (void)socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    }
  } catch (const zmq::error_t&) {
  }
}

void Publisher::HandleSession(const zmq::message_t& frame) {
  v1::SessionReply reply;
  if (!reply.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) return;
  // A fixed id the broker refused stays refused: a hello now would take the session
  // back from the publisher that holds it.
  if (!failure_.ok()) return;
  switch (reply.state()) {
    case v1::SessionReply::OPEN:
      if (reply.publisher_id() != options_.publisher_id || open_) return;
      open_ = true;
      max_batch_events_ = reply.max_batch_events();
      max_batch_bytes_ = reply.max_batch_bytes();
      // On every new session, whatever the broker may not have received goes again; it
      // drops what it already logged.
      if (ever_open_) ResendAll();
      ever_open_ = true;
      last_progress_ = std::chrono::steady_clock::now();
      return;
    case v1::SessionReply::NO_SESSION:
      // A new connection, or a broker that restarted (or forgot an idle id). Every event
      // sent before the hello reached it draws this answer: one hello per retry interval.
      if (!open_ && std::chrono::steady_clock::now() - last_hello_ < kHelloRetry) return;
      open_ = false;
      SendHello();
      return;
    case v1::SessionReply::REFUSED:
    case v1::SessionReply::TAKEN_OVER:
      if (reply.publisher_id() != options_.publisher_id) return;  // about an id given up already
      open_ = false;
      // Only a refusal of this id (another connection holds it, or newer events of it are
      // logged) is cured by a fresh one; a full table or a bad hello is not.
      LoseId("the broker at " + options_.endpoint + " " +
                 (reply.state() == v1::SessionReply::TAKEN_OVER ? "gave its session to a newer connection"
                                                                 : "refused it") +
                 " (" + reply.reason() + "): " + reply.message(),
             reply.state() == v1::SessionReply::TAKEN_OVER || reply.reason() == "id_in_use");
      return;
    default:
      return;
  }
}

void Publisher::LoseId(const std::string& why, bool fresh_id_helps) {
  if (!generated_id_ || !fresh_id_helps) {
    failure_ = FailedPrecondition("publisher id '" + options_.publisher_id + "': " + why + "; " +
                                  std::to_string(unconfirmed_.size()) + " events unconfirmed");
    spdlog::error("{}", failure_.message());
    return;
  }
  // A generated id is unique: someone else claimed it. Carry on under a fresh one, with
  // what is unconfirmed numbered anew (the broker never logged it under the old id: a
  // takeover is announced only after the last confirm of what it did log).
  std::string old = options_.publisher_id;
  options_.publisher_id = NewEventId();
  spdlog::warn("publisher id '{}': {}; continuing as '{}'", old, why, options_.publisher_id);
  sequence_ = 0;
  for (Pending& p : unconfirmed_) {
    v1::Event event;
    if (!event.ParseFromString(p.bytes)) continue;  // made here: always an Event
    event.set_publisher_id(options_.publisher_id);
    event.set_sequence(++sequence_);
    event.set_unconfirmed_from(1);
    p.sequence = sequence_;
    p.unconfirmed_from = 1;
    p.bytes = EncodeEvent(event);
  }
  unsent_from_ = 0;
  ever_open_ = true;  // the new session re-sends them all
  SendHello();
}

void Publisher::HandleConfirm(const zmq::message_t& frame) {
  v1::PublishConfirm confirm;
  if (!confirm.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) return;
  if (confirm.publisher_id() != options_.publisher_id) return;  // for an id given up already
  for (const v1::PublishRejection& r : confirm.rejections()) {
    auto it = std::find_if(unconfirmed_.begin(), unconfirmed_.end(),
                           [&](const Pending& p) { return p.sequence == r.sequence(); });
    if (it == unconfirmed_.end()) continue;
    rejections_.push_back("the broker rejected event " + std::to_string(r.sequence()) + " (" + r.reason() + ")" +
                          (r.detail().empty() ? "" : ": " + r.detail()));
    unconfirmed_.erase(it);
  }
  bool progress = false;
  while (!unconfirmed_.empty() && unconfirmed_.front().sequence <= confirm.durable_through()) {
    unconfirmed_.pop_front();
    progress = true;
  }
  if (progress) last_progress_ = std::chrono::steady_clock::now();
  if (confirm.resend_from() != 0) ResendAfterGap(confirm.resend_from());
}

void Publisher::ResendAfterGap(std::uint64_t resend_from) {
  // Every event sent before the re-send reached the broker draws the same answer: one
  // re-send per gap is enough, unless it too went missing (then after an interval).
  auto now = std::chrono::steady_clock::now();
  if (resend_from == last_gap_ && now - last_gap_resend_ < options_.resend_interval) return;
  last_gap_ = resend_from;
  last_gap_resend_ = now;
  spdlog::debug("broker at {} is missing events from sequence {}", options_.endpoint, resend_from);
  ResendAll();
}

void Publisher::SendUnsent() {
  if (!open_ || unsent_from_ == 0) return;
  auto it = std::lower_bound(unconfirmed_.begin(), unconfirmed_.end(), unsent_from_,
                             [](const Pending& p, std::uint64_t sequence) { return p.sequence < sequence; });
  while (it != unconfirmed_.end()) {
    // What is ready goes in one message: an atomic batch alone, other events together
    // up to the broker's bounds; a lone event as [topic, event].
    auto end = it + 1;
    bool atomic = false;
    if (max_batch_events_ > 1 && it->unit_size > 1 && it->unit_index == 0 &&
        static_cast<std::size_t>(unconfirmed_.end() - it) >= it->unit_size) {
      end = it + it->unit_size;
      atomic = true;
    } else if (max_batch_events_ > 1) {
      std::size_t bytes = it->topic.size() + it->bytes.size();
      while (end != unconfirmed_.end() && end->unit_size == 0 &&
             static_cast<std::size_t>(end - it) < max_batch_events_ &&
             bytes + end->topic.size() + end->bytes.size() <= max_batch_bytes_) {
        bytes += end->topic.size() + end->bytes.size();
        ++end;
      }
    }
    // A full queue (the broker is not reading) or no connection (ZMQ_IMMEDIATE): the
    // rest waits here, for the socket to be writable or for the next session. A started
    // message is taken whole.
    if (end - it == 1 && !atomic) {
      if (!socket_.send(zmq::buffer(it->topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        unsent_from_ = it->sequence;
        return;
      }
      (void)socket_.send(zmq::buffer(it->bytes), zmq::send_flags::dontwait);
    } else {
      v1::BatchHeader header;
      header.set_count(static_cast<std::uint32_t>(end - it));
      header.set_atomic(atomic);
      if (!socket_.send(zmq::buffer(kBatchKind), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        unsent_from_ = it->sequence;
        return;
      }
      (void)socket_.send(zmq::buffer(header.SerializeAsString()), zmq::send_flags::sndmore);
      for (auto p = it; p != end; ++p) {
        (void)socket_.send(zmq::buffer(p->topic), zmq::send_flags::sndmore);
        (void)socket_.send(zmq::buffer(p->bytes), p + 1 == end ? zmq::send_flags::none : zmq::send_flags::sndmore);
      }
    }
    it = end;
  }
  unsent_from_ = 0;
}

void Publisher::ResendAll() {
  last_progress_ = std::chrono::steady_clock::now();
  if (unconfirmed_.empty() || !open_) return;
  ++resends_;
  spdlog::debug("re-sending {} unconfirmed events to {}", unconfirmed_.size(), options_.endpoint);
  Pending& first = unconfirmed_.front();
  if (first.unconfirmed_from != first.sequence) {
    v1::Event event;
    if (event.ParseFromString(first.bytes)) {
      event.set_unconfirmed_from(first.sequence);
      first.bytes = EncodeEvent(event);
      first.unconfirmed_from = first.sequence;
    }
  }
  unsent_from_ = first.sequence;
  SendUnsent();
}

Status Publisher::TakeRejections() {
  if (rejections_.empty()) return Status::Ok();
  std::string message = rejections_.front();
  if (rejections_.size() > 1) message += " and " + std::to_string(rejections_.size() - 1) + " more";
  rejections_.clear();
  return InvalidArgument(message);
}

Status Publisher::Flush(std::chrono::milliseconds timeout) {
  if (!failure_.ok()) return failure_;
  if (Status s = Pump(timeout, [this] { return unconfirmed_.empty(); }); !s.ok()) return s;
  if (!failure_.ok()) return failure_;
  if (!unconfirmed_.empty()) {
    return DeadlineExceeded(std::to_string(unconfirmed_.size()) + " events not confirmed by the broker at " +
                            options_.endpoint + " within " + std::to_string(timeout.count()) + " ms" +
                            (connected() ? "" : " (broker unreachable)"));
  }
  return TakeRejections();
}

void Publisher::Complete(v1::Event& event) const {
  if (event.schema_version() == 0) event.set_schema_version(kSchemaVersion);
  if (event.event_id().empty()) event.set_event_id(NewEventId());
  if (event.source().empty()) event.set_source(options_.source);
  if (!event.has_occurred_at()) {
    *event.mutable_occurred_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  }
  v1::Instance* instance = nullptr;
  if (event.has_model_save()) instance = event.mutable_model_save()->mutable_instance();
  if (event.has_model_delete()) instance = event.mutable_model_delete()->mutable_instance();
  if (instance != nullptr && instance->model().empty()) instance->set_model(event.sender());
  if (event.ordering_key().empty()) event.set_ordering_key(OrderingKeyFor(event.sender(), PrimaryKeyOf(event)));
  if (event.has_login_failed()) MaskCredentials(event.mutable_login_failed());
}

Status Publisher::WaitForRoom(std::size_t n) {
  // What the broker sent makes room; a full window waits for more, bounded. Looking
  // when nothing is waiting costs ZeroMQ two system calls, more than the rest of a
  // Publish, so a fast publisher looks once per kConfirmPollInterval.
  if (const auto now = std::chrono::steady_clock::now(); now - last_pump_ >= kConfirmPollInterval) {
    last_pump_ = now;
    if (Status s = Pump(std::chrono::milliseconds(0), [] { return true; }); !s.ok()) return s;
  }
  if (unconfirmed_.size() + n > options_.max_unconfirmed) {
    if (Status s = Pump(options_.send_timeout,
                        [this, n] { return unconfirmed_.size() + n <= options_.max_unconfirmed; });
        !s.ok()) {
      return s;
    }
    if (unconfirmed_.size() + n > options_.max_unconfirmed && failure_.ok()) {
      return DeadlineExceeded(std::to_string(unconfirmed_.size()) + " events await confirms from the broker at " +
                              options_.endpoint + "; none arrived within " +
                              std::to_string(options_.send_timeout.count()) + " ms");
    }
  }
  return failure_;
}

Result<Publisher::Pending> Publisher::Number(v1::Event& event, std::uint64_t sequence,
                                             std::uint64_t unconfirmed_from) const {
  event.set_publisher_id(options_.publisher_id);
  event.set_sequence(sequence);
  event.set_unconfirmed_from(unconfirmed_from);
  if (Status s = ValidateEvent(event); !s.ok()) return s;
  Pending pending{sequence, unconfirmed_from, TopicOf(event), EncodeEvent(event)};
  if (pending.bytes.size() > kDefaultMaxEventBytes) {
    return InvalidArgument("event of " + std::to_string(pending.bytes.size()) +
                           " bytes is over the broker's default limit of " + std::to_string(kDefaultMaxEventBytes));
  }
  return pending;
}

Status Publisher::Hold(std::vector<Pending> pendings) {
  if (unconfirmed_.empty()) last_progress_ = std::chrono::steady_clock::now();
  if (unsent_from_ == 0) unsent_from_ = pendings.front().sequence;
  for (Pending& p : pendings) unconfirmed_.push_back(std::move(p));
  sequence_ = unconfirmed_.back().sequence;
  try {
    // Without an open session the events wait here and go out with the next one.
    SendUnsent();
  } catch (const zmq::error_t& e) {
    return Internal(std::string("send failed: ") + e.what());
  }
  return Status::Ok();
}

Status Publisher::Publish(v1::Event event) {
  if (!failure_.ok()) return failure_;
  Complete(event);
  if (Status s = WaitForRoom(1); !s.ok()) return s;
  // Numbered last: waiting for room may have moved this publisher to a fresh id.
  Result<Pending> pending =
      Number(event, sequence_ + 1, unconfirmed_.empty() ? sequence_ + 1 : unconfirmed_.front().sequence);
  if (!pending.ok()) return pending.status();
  std::vector<Pending> one;
  one.push_back(std::move(*pending));
  return Hold(std::move(one));
}

Status Publisher::PublishBatch(std::vector<v1::Event> events, bool atomic) {
  if (!failure_.ok()) return failure_;
  if (events.empty()) return Status::Ok();
  if (events.size() > options_.max_unconfirmed) {
    return InvalidArgument("a batch of " + std::to_string(events.size()) + " events is larger than max_unconfirmed (" +
                           std::to_string(options_.max_unconfirmed) + ")");
  }
  if (atomic && events.size() > kDefaultMaxBatchEvents) {
    return InvalidArgument("an atomic batch of " + std::to_string(events.size()) + " events is over the limit of " +
                           std::to_string(kDefaultMaxBatchEvents));
  }
  for (v1::Event& event : events) Complete(event);
  if (Status s = WaitForRoom(events.size()); !s.ok()) return s;
  const std::uint64_t unconfirmed_from = unconfirmed_.empty() ? sequence_ + 1 : unconfirmed_.front().sequence;
  std::vector<Pending> pendings;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    Result<Pending> pending = Number(events[i], sequence_ + 1 + i, unconfirmed_from);
    if (!pending.ok()) return pending.status();
    bytes += pending->topic.size() + pending->bytes.size();
    if (atomic && events.size() > 1) {
      pending->unit_index = static_cast<std::uint32_t>(i);
      pending->unit_size = static_cast<std::uint32_t>(events.size());
    }
    pendings.push_back(std::move(*pending));
  }
  if (atomic && bytes > kDefaultMaxBatchBytes) {
    return InvalidArgument("an atomic batch of " + std::to_string(bytes) + " bytes is over the limit of " +
                           std::to_string(kDefaultMaxBatchBytes));
  }
  return Hold(std::move(pendings));
}

namespace {

v1::Event NewEvent(std::string_view sender, std::string_view signal) {
  v1::Event event;
  event.set_sender(std::string(sender));
  event.set_signal(std::string(signal));
  return event;
}

void FillSave(v1::ModelSave* save, v1::Instance instance, const SaveInfo& info) {
  *save->mutable_instance() = std::move(instance);
  save->set_created(info.created);
  save->set_raw(info.raw);
  save->set_using_(info.database);
  if (info.update_fields) {
    for (const std::string& name : *info.update_fields) save->mutable_update_fields()->add_names(name);
  }
}

void FillDelete(v1::ModelDelete* del, v1::Instance instance, const DeleteInfo& info) {
  *del->mutable_instance() = std::move(instance);
  del->set_using_(info.database);
  if (info.origin) *del->mutable_origin() = *info.origin;
}

}  // namespace

Status Publisher::PreSave(std::string_view sender, v1::Instance instance, const SaveInfo& info) {
  v1::Event event = NewEvent(sender, "pre_save");
  FillSave(event.mutable_model_save(), std::move(instance), info);
  return Publish(std::move(event));
}

Status Publisher::PostSave(std::string_view sender, v1::Instance instance, const SaveInfo& info) {
  v1::Event event = NewEvent(sender, "post_save");
  FillSave(event.mutable_model_save(), std::move(instance), info);
  return Publish(std::move(event));
}

Status Publisher::PreDelete(std::string_view sender, v1::Instance instance, const DeleteInfo& info) {
  v1::Event event = NewEvent(sender, "pre_delete");
  FillDelete(event.mutable_model_delete(), std::move(instance), info);
  return Publish(std::move(event));
}

Status Publisher::PostDelete(std::string_view sender, v1::Instance instance, const DeleteInfo& info) {
  v1::Event event = NewEvent(sender, "post_delete");
  FillDelete(event.mutable_model_delete(), std::move(instance), info);
  return Publish(std::move(event));
}

Status Publisher::M2MChanged(std::string_view sender, v1::M2MChanged change) {
  v1::Event event = NewEvent(sender, "m2m_changed");
  *event.mutable_m2m_changed() = std::move(change);
  return Publish(std::move(event));
}

Status Publisher::UserLoggedIn(std::string_view sender, v1::UserSession session) {
  v1::Event event = NewEvent(sender, "user_logged_in");
  *event.mutable_user_session() = std::move(session);
  return Publish(std::move(event));
}

Status Publisher::UserLoggedOut(std::string_view sender, v1::UserSession session) {
  v1::Event event = NewEvent(sender, "user_logged_out");
  *event.mutable_user_session() = std::move(session);
  return Publish(std::move(event));
}

Status Publisher::UserLoginFailed(std::string_view sender, v1::LoginFailed failure) {
  v1::Event event = NewEvent(sender, "user_login_failed");
  *event.mutable_login_failed() = std::move(failure);
  return Publish(std::move(event));
}

Status Publisher::Custom(std::string_view sender, std::string_view signal, google::protobuf::Struct kwargs,
                         std::string_view pk) {
  if (IsBuiltinSignal(signal) && PayloadKindForSignal(signal) != PayloadKind::kCustom) {
    return InvalidArgument("'" + std::string(signal) + "' is a Django signal; use its own call, not Custom()");
  }
  v1::Event event = NewEvent(sender, signal);
  *event.mutable_custom()->mutable_kwargs() = std::move(kwargs);
  event.mutable_custom()->set_pk(std::string(pk));
  return Publish(std::move(event));
}

}  // namespace signalbus
