// Publisher: event completion, the XPUB connection to the broker's ingest, and the
// waits that keep PUB/SUB from dropping events silently.
#include "signalbus/publisher/publisher.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/sockets.h"
#include "signalbus/core/topic.h"

namespace signalbus {

// A context of its own per connection: terminating it is the one way ZeroMQ offers
// to wait until queued messages have been written out (see Flush).
struct Publisher::Connection {
  zmq::context_t context{1};
  zmq::socket_t socket;
  int subscriptions = 0;  // the broker's active subscriptions seen on this XPUB
};

Publisher::Publisher(PublisherOptions options) : options_(std::move(options)) {}

Publisher::~Publisher() {
  if (connection_ && unflushed_ > 0) {
    if (Status s = Flush(options_.send_timeout); !s.ok()) spdlog::error("publisher closing: {}", s.message());
  }
}

Result<std::unique_ptr<Publisher>> Publisher::Connect(PublisherOptions options) {
  if (options.endpoint.empty()) options.endpoint = FromEnv(kIngestEnv, kDefaultIngestEndpoint);
  if (Status s = ValidateEndpoint(options.endpoint); !s.ok()) return s;
  if (options.publisher_id.empty()) options.publisher_id = NewEventId();
  std::unique_ptr<Publisher> publisher(new Publisher(std::move(options)));
  if (Status s = publisher->EnsureConnected(); !s.ok()) return s;
  return publisher;
}

Status Publisher::EnsureConnected() {
  if (connection_) return Status::Ok();
  auto connection = std::make_unique<Connection>();
  SocketOptions socket_options;
  socket_options.send_hwm = options_.send_hwm;
  socket_options.send_timeout = options_.send_timeout;
  connection->socket = MakeSocket(connection->context, zmq::socket_type::xpub, socket_options);
  connection->socket.set(zmq::sockopt::xpub_nodrop, 1);
  if (Status s = signalbus::Connect(connection->socket, options_.endpoint); !s.ok()) return s;
  connection_ = std::move(connection);
  return WaitForBroker(options_.connect_timeout);
}

// Reads subscription messages (0x01 + prefix = subscribe, 0x00 + prefix = unsubscribe)
// until the broker has an active subscription or the timeout passes.
Status Publisher::WaitForBroker(std::chrono::milliseconds timeout) {
  zmq::socket_t& socket = connection_->socket;
  // Fast path for every send: subscribed, and no subscription change waiting.
  if (connection_->subscriptions > 0 && (socket.get(zmq::sockopt::events) & ZMQ_POLLIN) == 0) return Status::Ok();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    zmq::message_t message;
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    bool block = connection_->subscriptions == 0 && remaining.count() > 0;
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    int ready = 0;
    try {
      ready = zmq::poll(&item, 1, block ? remaining : std::chrono::milliseconds(0));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Internal(std::string("poll failed: ") + e.what());
    }
    if (ready > 0 && socket.recv(message, zmq::recv_flags::dontwait)) {
      const auto* data = static_cast<const unsigned char*>(message.data());
      if (message.size() >= 1 && data[0] == 1) ++connection_->subscriptions;
      if (message.size() >= 1 && data[0] == 0 && connection_->subscriptions > 0) --connection_->subscriptions;
      continue;
    }
    if (connection_->subscriptions > 0) return Status::Ok();
    if (!block) {
      return Unavailable("no broker answered at " + options_.endpoint + " within " +
                         std::to_string(timeout.count()) + " ms");
    }
  }
}

Status Publisher::Send(const std::string& topic, const std::string& bytes) {
  if (Status s = EnsureConnected(); !s.ok()) return s;
  // Picks up a lost or re-established broker before sending; an XPUB with no
  // subscriber would drop the event.
  if (Status s = WaitForBroker(options_.send_timeout); !s.ok()) return s;
  zmq::socket_t& socket = connection_->socket;
  try {
    if (!socket.send(zmq::buffer(topic), zmq::send_flags::sndmore)) {
      return DeadlineExceeded("broker at " + options_.endpoint + " did not take events for " +
                              std::to_string(options_.send_timeout.count()) + " ms (queue full)");
    }
    // The second frame of a started message is always accepted.
    (void)socket.send(zmq::buffer(bytes), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    return Internal(std::string("send failed: ") + e.what());
  }
  ++unflushed_;
  return Status::Ok();
}

Status Publisher::Flush(std::chrono::milliseconds timeout) {
  if (!connection_) return Status::Ok();
  auto started = std::chrono::steady_clock::now();
  connection_->socket.set(zmq::sockopt::linger, static_cast<int>(timeout.count()));
  connection_->socket.close();
  connection_->context.close();  // blocks until the queue is written out or linger ends
  connection_.reset();
  auto took = std::chrono::steady_clock::now() - started;
  std::uint64_t pending = unflushed_;
  unflushed_ = 0;
  if (pending > 0 && took >= timeout) {
    return DeadlineExceeded("up to " + std::to_string(pending) + " events may not have reached the broker at " +
                            options_.endpoint + " within " + std::to_string(timeout.count()) + " ms");
  }
  return Status::Ok();
}

Status Publisher::Publish(v1::Event event) {
  if (event.schema_version() == 0) event.set_schema_version(kSchemaVersion);
  if (event.event_id().empty()) event.set_event_id(NewEventId());
  if (event.source().empty()) event.set_source(options_.source);
  if (event.publisher_id().empty()) event.set_publisher_id(options_.publisher_id);
  event.set_sequence(sequence_ + 1);
  if (!event.has_occurred_at()) {
    *event.mutable_occurred_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  }
  v1::Instance* instance = nullptr;
  if (event.has_model_save()) instance = event.mutable_model_save()->mutable_instance();
  if (event.has_model_delete()) instance = event.mutable_model_delete()->mutable_instance();
  if (instance != nullptr && instance->model().empty()) instance->set_model(event.sender());
  if (event.ordering_key().empty()) event.set_ordering_key(OrderingKeyFor(event.sender(), PrimaryKeyOf(event)));
  if (event.has_login_failed()) MaskCredentials(event.mutable_login_failed());
  if (Status s = ValidateEvent(event); !s.ok()) return s;
  std::string bytes = EncodeEvent(event);
  if (bytes.size() > kDefaultMaxEventBytes) {
    return InvalidArgument("event of " + std::to_string(bytes.size()) + " bytes is over the broker's default limit of " +
                           std::to_string(kDefaultMaxEventBytes));
  }
  if (Status s = Send(TopicOf(event), bytes); !s.ok()) return s;
  ++sequence_;
  return Status::Ok();
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
