// Publisher identity on the ingest connections: which connection speaks for which
// publisher id, the sequence rules per publisher, and the confirms each connection is
// owed. A state machine with no sockets and no clock of its own: Ingest hands it hellos,
// events and rejections with the routing id of the connection they came on; the broker
// tells it where admitted events were logged and how far the log is durable; it answers
// through `send`, always to the connection concerned and never to another.
//
//   publisher ["$hello"] --> OnHello --> a session: this connection speaks for publisher P
//   publisher [topic, event] --> Admit --(log)--> Logged(offset) --OnDurable--> ["$confirm"]
//                                      '--(duplicate, refused, out of order)--> ["$confirm"]
//
// The rules (docs/wire-protocol.md, "Publisher sessions"):
//  - One open session per publisher id. A hello for an id whose session is open on
//    another connection takes it over: the old connection gets its last confirm, then
//    TAKEN_OVER, and nothing more from it is accepted (so two processes sharing an id
//    cannot both be confirmed).
//  - A hello from a publisher whose next sequence is behind what the broker holds for
//    its id is refused (id_in_use): another publisher uses the id, or it restarted and
//    numbered from 1 again.
//  - Each session settles sequences strictly in order; a sequence already settled is a
//    duplicate only if it carries the same event id as the one settled under it
//    (sequence_reused otherwise): a confirm never covers an event that is not in the log.
//  - A confirm covers at most what this session itself settled, and lists every
//    rejection among what the publisher may still hold.
//
// Memory: per publisher id ~200 bytes + its id (<= 128 bytes) + 16 bytes per remembered
// event id (at most verify_window); per session ~150 bytes + the routing id. At most
// max_publishers ids, each with at most one open session.
//
// Not thread-safe: the broker's poll thread calls everything.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "signalbus/auth/allow_list.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/broker/session_refusal.h"
#include "signalbus/broker/validator.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/event_scan.h"
#include "signalbus/core/ingest_protocol.h"
#include "signalbus/core/logging.h"
#include "signalbus/v1/publish.pb.h"

namespace signalbus::broker {

struct PublisherSessionsOptions {
  // Publisher ids remembered at once; a hello for one more is refused (too_many_publishers).
  std::size_t max_publishers = 10'000;
  // Of those, the most one principal may hold (0: no bound of its own), so that one
  // service inventing ids cannot lock every other out of new ones.
  std::size_t max_publishers_per_principal = 0;
  // Event ids remembered per publisher (16 bytes each): how far back a re-send is told
  // apart from a new event that reuses its sequence. At least every client's window of
  // unconfirmed events (signalbus's own publishers hold at most 50,000).
  std::size_t verify_window = 65'536;
  // How long a publisher id is remembered after its last event, when nothing of it is in
  // flight (the broker's --dedupe-window).
  std::chrono::milliseconds forget_after{std::chrono::minutes(2)};
  // Told to each publisher whose session opens (SessionReply.max_batch_*).
  std::size_t max_batch_events = kDefaultMaxBatchEvents;
  std::size_t max_batch_bytes = kDefaultMaxBatchBytes;
};

class PublisherSessions {
  struct Publisher;
  struct Session;

 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  // Sends [kind, bytes] to the connection `peer` (a ROUTER routing id).
  using SendFn = std::function<void(std::string_view peer, std::string_view kind, const std::string& bytes)>;

  // What Admit() let through, to hand to Logged() once the event is appended.
  class Ticket {
   public:
    // A fire-and-forget event (sequence 0): logged, never confirmed, never deduplicated.
    bool anonymous() const { return session_ == nullptr; }

   private:
    friend class PublisherSessions;
    Session* session_ = nullptr;
    std::uint64_t sequence_ = 0;
  };

  // `metrics` must outlive this object.
  PublisherSessions(PublisherSessionsOptions options, Metrics& metrics, SendFn send);
  ~PublisherSessions();
  PublisherSessions(const PublisherSessions&) = delete;
  PublisherSessions& operator=(const PublisherSessions&) = delete;

  // Start-up, before any connection: one call per record of the recent log, in log order,
  // rebuilds what the broker holds for each publisher id (its last sequence and the ids
  // of its recent events), so that re-sends after a restart are recognised.
  void Recover(const PublisherFields& fields, TimePoint now);

  // A connection's first message (ZMQ_PROBE_ROUTER's empty frame): tells it to say hello.
  void OnProbe(std::string_view peer);
  // ["$hello", bytes] from a connection authenticated as `principal` ("": none, so
  // refused): opens the session, or refuses it; always answered. A publisher id belongs
  // to the principal that first opened a session for it, for as long as it is
  // remembered, or for good to the principal `reservations` reserves it for
  // (publisher_ids in the allow-list; nullptr: none): a hello from another principal is
  // refused (forbidden), and so is one from a principal that may publish nothing
  // (`may_publish` false), which has no use for an id but to keep it from its owner.
  void OnHello(std::string_view peer, std::string_view bytes, TimePoint now, std::string_view principal,
               bool may_publish = true, const auth::AllowList* reservations = nullptr);
  // A reloaded allow-list: an id now reserved for another principal than the one holding
  // it is taken from it (its session gets its last confirm, then TAKEN_OVER; its next
  // hello is refused).
  void Reauthorize(const auth::AllowList& list);
  // An event the validator accepted. nullopt: drop it (a duplicate, refused or out of
  // order; the connection is told in its next confirm or at once); else append it and
  // call Logged() with the ticket.
  std::optional<Ticket> Admit(std::string_view peer, const EventFields& fields, TimePoint now);
  // REQUIRES: `ticket` came from the last Admit().
  void Logged(const Ticket& ticket, std::uint64_t offset);
  // An event the validator rejected: if it is this connection's next sequence, it is
  // settled (never logged) and the publisher told why (`reason`, and `detail` for
  // people) in its next confirm.
  void OnRejected(std::string_view peer, std::string_view event_bytes, std::string_view reason,
                  std::string_view detail = {});

  // Everything up to `durable_offset` is on disk.
  void OnDurable(std::uint64_t durable_offset);
  // Sends the confirms owed, one message per connection; closes taken-over sessions
  // whose last confirm went out.
  void SendConfirms();
  // Forgets publisher ids idle for longer than forget_after (with their sessions).
  void Maintain(TimePoint now);

  std::size_t publishers() const { return publishers_.size(); }
  std::size_t sessions() const { return sessions_.size(); }

 private:
  // An event id that was rejected, not logged: a re-send of its sequence is refused.
  static constexpr EventIdBits kRejected{0, 0};

  Publisher& Create(std::string_view id);
  void TakeOver(Session& old, std::string_view why);
  void Disown(Publisher& publisher);
  void Owe(Session& session);
  void Reject(Session& session, std::uint64_t sequence, std::string_view reason, std::string_view detail = {});
  void Refuse(Refusal refusal, std::string_view peer, std::string_view publisher_id, const std::string& detail);
  void Reply(std::string_view peer, v1::SessionReply::State state, std::string_view publisher_id,
             std::uint64_t logged_through, Refusal* refusal = nullptr, const std::string& message = "");
  void Remember(Publisher& publisher, std::uint64_t sequence, EventIdBits id);
  std::optional<EventIdBits> Remembered(const Publisher& publisher, std::uint64_t sequence) const;
  void SendConfirm(Session& session);
  void Close(Session& session);
  void UpdateGauges();

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename T>
  using ByName = std::unordered_map<std::string, std::unique_ptr<T>, StringHash, std::equal_to<>>;

  struct Awaiting {
    std::uint64_t offset;
    Session* session;
    std::uint64_t sequence;
  };

  PublisherSessionsOptions options_;
  Metrics& metrics_;
  SendFn send_;
  ByName<Publisher> publishers_;
  // Publisher ids held per principal (their `owner`), for max_publishers_per_principal.
  std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> owned_;
  ByName<Session> sessions_;  // by routing id
  Session* last_ = nullptr;   // the last one Admit found; in sessions_
  std::deque<Awaiting> awaiting_;  // logged, not yet durable, in offset order
  std::vector<Session*> owed_;     // each at most once (Session::owed)
  RateLimiter log_limiter_{5, 20};
  std::string buffer_;
};

}  // namespace signalbus::broker
