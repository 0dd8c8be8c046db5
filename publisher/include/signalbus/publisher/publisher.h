// signalbus::Publisher: the C++ way for a service to put Django-style signals on the
// bus. Typed calls per signal build a complete signalbus.v1.Event (event id, source,
// publisher id, sequence, time, ordering key) and send it as [topic, event] to the
// broker's ingest over ZeroMQ PUB/SUB.
//
// No silent loss on the wire:
//  - Slow joiner: the socket is an XPUB, which sees the broker's subscription arrive.
//    Nothing is sent until the broker has subscribed; Connect() waits for that and
//    fails with kUnavailable after connect_timeout.
//  - High-water mark: the socket never drops (ZMQ_XPUB_NODROP); a send that finds the
//    queue full waits up to send_timeout, then fails with kDeadlineExceeded.
//  - Broker gone: a send while the broker's subscription is missing waits up to
//    send_timeout for it to come back, then fails with kUnavailable.
//  - Flush(timeout) returns OK only once every event has been written to the
//    connection. (Durable confirms from the broker come with the durable log.)
//
// Thread-compatible: one Publisher per thread, or guard it with a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

struct PublisherOptions {
  // The broker's ingest endpoint. Default: $SIGNALBUS_INGEST or tcp://127.0.0.1:5555.
  std::string endpoint;
  // The publishing service's name, carried as Event.source.
  std::string source = "unknown";
  // Empty: a fresh unique id for this Publisher.
  std::string publisher_id;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds send_timeout{5000};
  int send_hwm = 100'000;
};

// pre_save / post_save details besides the instance.
struct SaveInfo {
  bool created = false;
  bool raw = false;
  std::string database = "default";  // Django's `using`
  std::optional<std::vector<std::string>> update_fields;  // nullopt = None
};

// pre_delete / post_delete details besides the instance.
struct DeleteInfo {
  std::string database = "default";
  std::optional<v1::DeleteOrigin> origin;
};

class Publisher {
 public:
  // Connects and waits for the broker's subscription (see above).
  static Result<std::unique_ptr<Publisher>> Connect(PublisherOptions options);
  ~Publisher();  // flushes for up to send_timeout, logging what could not be sent
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Model signals. `sender` is the model label ("auth.User"); instance.model is set to
  // it when empty.
  Status PreSave(std::string_view sender, v1::Instance instance, const SaveInfo& info = {});
  Status PostSave(std::string_view sender, v1::Instance instance, const SaveInfo& info = {});
  Status PreDelete(std::string_view sender, v1::Instance instance, const DeleteInfo& info = {});
  Status PostDelete(std::string_view sender, v1::Instance instance, const DeleteInfo& info = {});
  // `sender` is the through model ("auth.User_groups").
  Status M2MChanged(std::string_view sender, v1::M2MChanged change);
  // Auth signals. `sender` is the user model label.
  Status UserLoggedIn(std::string_view sender, v1::UserSession session);
  Status UserLoggedOut(std::string_view sender, v1::UserSession session);
  // Secret-looking credentials are masked before anything leaves the process.
  // Django sends this one with the auth module as sender ("django.contrib.auth").
  Status UserLoginFailed(std::string_view sender, v1::LoginFailed failure);
  // Any other signal ("order_paid"); `pk` orders events about one object.
  Status Custom(std::string_view sender, std::string_view signal, google::protobuf::Struct kwargs,
                std::string_view pk = "");

  // Sends a prepared event. Fills whatever is unset: schema_version, event_id,
  // source, publisher_id, sequence, occurred_at, ordering_key, instance.model; then
  // validates and sends. An event_id already set is kept (idempotent re-sends).
  Status Publish(v1::Event event);

  // Waits until everything published so far has been written to the broker
  // connection, or fails with kDeadlineExceeded. The connection is then reopened
  // (waiting for the broker's subscription again) on the next publish.
  Status Flush(std::chrono::milliseconds timeout);

  const std::string& publisher_id() const { return options_.publisher_id; }
  std::uint64_t published() const { return sequence_; }

 private:
  struct Connection;
  explicit Publisher(PublisherOptions options);
  Status EnsureConnected();
  Status WaitForBroker(std::chrono::milliseconds timeout);
  Status Send(const std::string& topic, const std::string& bytes);

  PublisherOptions options_;
  std::unique_ptr<Connection> connection_;
  std::uint64_t sequence_ = 0;
  std::uint64_t unflushed_ = 0;
};

}  // namespace signalbus
