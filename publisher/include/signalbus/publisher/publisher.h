// signalbus::Publisher: the C++ way for a service to put Django-style signals on the
// bus. Typed calls per signal build a complete signalbus.v1.Event (event id, source,
// publisher id, sequence, time, ordering key) and send it as [topic, event] to the
// broker's ingest over a ZeroMQ DEALER socket.
//
// Nothing confirmed is lost, and nothing unconfirmed is forgotten:
//  - Sessions: the publisher opens a session for its publisher id on each connection
//    (a hello, answered by the broker) before it sends events; a new connection (the
//    broker restarted, the network came back) announces itself (ZMQ_PROBE_ROUTER), and
//    the publisher says hello again and re-sends what is unconfirmed. Connect() waits
//    for the first session and fails with kUnavailable after connect_timeout.
//  - Confirms: the broker confirms (publisher_id, sequence) once an event is on disk, on
//    this connection only. Every published event is kept until confirmed; Flush(timeout)
//    returns OK only when all are, and fails clearly otherwise.
//  - Re-sends: unconfirmed events are sent again, in order, on every new session and when
//    no confirm arrived for resend_interval. The broker drops the duplicates (it checks
//    that a duplicate is the same event, by its id).
//  - Refusals: if another connection takes the session over (two processes sharing one
//    publisher id) or the broker refuses the id (it holds newer events of that id), a
//    generated id is replaced by a fresh one and the unconfirmed events re-numbered under
//    it; a fixed id (PublisherOptions::publisher_id) fails every later call instead.
//  - Bounded memory: at most max_unconfirmed events are kept; Publish waits (up to
//    send_timeout) for confirms to make room, then fails with kDeadlineExceeded. The
//    socket never drops: an event that cannot be sent now waits here for the session.
//
// Thread-compatible: one Publisher per thread, or guard it with a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "signalbus/core/connection_watch.h"
#include "signalbus/core/curve_config.h"
#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

struct PublisherOptions {
  // The broker's ingest endpoint. Default: $SIGNALBUS_INGEST or tcp://127.0.0.1:5555.
  std::string endpoint;
  // The publishing service's name, carried as Event.source.
  std::string source = "unknown";
  // Empty: a fresh unique id for this Publisher (the usual choice). A fixed id names one
  // publisher instance for as long as the broker remembers it: two processes, or two
  // runs of one process, must not share it (the broker refuses the second).
  std::string publisher_id;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds send_timeout{5000};
  int send_hwm = 100'000;
  // Events kept until the broker confirms them; at most the broker's --publisher-window
  // (65,536 by default), which bounds how far back it can verify a re-send.
  std::size_t max_unconfirmed = 50'000;
  // Unconfirmed events are sent again when no confirm has arrived for this long.
  std::chrono::milliseconds resend_interval{2000};
  // CURVE (docs/security.md): the broker's public key and this publisher's key file.
  // Empty fields: $SIGNALBUS_CURVE_SERVER_KEY and $SIGNALBUS_CURVE_KEY_FILE; none: no CURVE.
  CurveClientSettings curve;
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

  // Sends a prepared event. Sets publisher_id and sequence (always this publisher's own),
  // fills whatever else is unset: schema_version, event_id, source, occurred_at,
  // ordering_key, instance.model; then validates, keeps it until confirmed, and sends it
  // if a session is open. An event_id already set is kept (idempotent re-sends).
  Status Publish(v1::Event event);

  // Publishes `events` (each prepared as Publish does) together, with consecutive
  // sequences. atomic (the default): all or nothing — the broker logs every one or none
  // (one invalid event rejects them all, the others with reason "atomic_batch"), and
  // consumer groups deliver them as one unit: one database transaction's events, say.
  // At most kDefaultMaxBatchEvents events and kDefaultMaxBatchBytes. Not atomic: they
  // are merely sent in one message.
  Status PublishBatch(std::vector<v1::Event> events, bool atomic = true);

  // Waits until the broker has confirmed everything published so far (durable), re-
  // sending as needed. kDeadlineExceeded names how many are still unconfirmed; an
  // event the broker rejected is reported as kInvalidArgument with its reason; a fixed
  // publisher id the broker refused or gave to another connection, as
  // kFailedPrecondition (so is every Publish after it).
  Status Flush(std::chrono::milliseconds timeout);

  // The current id: a generated one changes when the broker refuses it (see above).
  const std::string& publisher_id() const { return options_.publisher_id; }
  // Events accepted by Publish (the last sequence number used).
  std::uint64_t published() const { return sequence_; }
  // Events not yet confirmed.
  std::size_t unconfirmed() const { return unconfirmed_.size(); }
  // Times unconfirmed events were sent again.
  std::uint64_t resends() const { return resends_; }
  // Whether a session is open on the current connection.
  bool connected() const { return open_ && watch_->up(); }

 private:
  struct Pending {
    std::uint64_t sequence;
    std::uint64_t unconfirmed_from;  // as encoded in bytes
    std::string topic;
    std::string bytes;
    // Its place in the atomic batch it was published in (sent, logged and settled
    // whole); unit_size 0: it stands alone.
    std::uint32_t unit_index = 0;
    std::uint32_t unit_size = 0;
  };
  // Fills what is unset in `event` (everything but publisher id and sequence).
  void Complete(v1::Event& event) const;
  // Waits (up to send_timeout) until `n` more events fit in the window.
  Status WaitForRoom(std::size_t n);
  // Numbers and encodes `event`, checked as the broker would.
  Result<Pending> Number(v1::Event& event, std::uint64_t sequence, std::uint64_t unconfirmed_from) const;
  // Holds numbered events and sends what the socket takes.
  Status Hold(std::vector<Pending> pendings);
  explicit Publisher(PublisherOptions options, bool generated_id);
  Status Open();
  // Reads what the broker sends for up to `timeout` (0: what is waiting), until `done`
  // holds or a fixed id failed.
  Status Pump(std::chrono::milliseconds timeout, const std::function<bool()>& done);
  void HandleSession(const zmq::message_t& frame);
  void HandleConfirm(const zmq::message_t& frame);
  void SendHello();
  // A refusal of the id (taken over, or refused at hello): a fresh id if one helps and
  // the id is generated, else failure_.
  void LoseId(const std::string& why, bool fresh_id_helps);
  // Sends the unconfirmed events from unsent_from_ on, without waiting, as far as the
  // socket takes them.
  void SendUnsent();
  // Sends every unconfirmed event again, in order; the first one re-encoded to say that
  // everything before it is confirmed.
  void ResendAll();
  // A confirm said events above a gap were dropped: re-send, once per gap and interval.
  void ResendAfterGap(std::uint64_t resend_from);
  Status TakeRejections();

  PublisherOptions options_;
  const bool generated_id_;  // options_.publisher_id was made here: it may be replaced
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::unique_ptr<ConnectionWatch> watch_;  // whether socket_ has a connection
  bool open_ = false;        // a session is open on the current connection
  bool ever_open_ = false;
  Status failure_;           // a fixed id the broker refused: every later call fails
  std::uint64_t sequence_ = 0;
  std::deque<Pending> unconfirmed_;  // ascending sequence
  std::uint64_t unsent_from_ = 0;    // the first of them not yet sent in this session; 0: none
  std::chrono::steady_clock::time_point last_progress_;
  std::chrono::steady_clock::time_point last_pump_;  // Publish's last look at the socket
  std::chrono::steady_clock::time_point last_hello_;
  std::uint64_t resends_ = 0;
  std::uint64_t last_gap_ = 0;  // resend_from of the last gap re-sent for
  std::chrono::steady_clock::time_point last_gap_resend_;
  std::vector<std::string> rejections_;
  // What the broker takes in one ["$batch", ...] message (its session reply says; 0: no
  // batches, an older broker: one event per message).
  std::size_t max_batch_events_ = 0;
  std::size_t max_batch_bytes_ = 0;
};

}  // namespace signalbus
