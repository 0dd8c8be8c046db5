// Publisher sessions: hellos, takeovers, the per-publisher sequence rules with event-id
// verification of duplicates, and per-connection confirms.
#include "signalbus/broker/publisher_sessions.h"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/logging.h"

namespace signalbus::broker {

const char* RefusalName(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNoSession: return "no_session";
    case Refusal::kTakenOver: return "taken_over";
    case Refusal::kWrongPublisher: return "wrong_publisher";
    case Refusal::kSequenceReused: return "sequence_reused";
    case Refusal::kDuplicateUnverifiable: return "duplicate_unverifiable";
    case Refusal::kPreviouslyRejected: return "previously_rejected";
    case Refusal::kIdInUse: return "id_in_use";
    case Refusal::kBadHello: return "bad_hello";
    case Refusal::kTooManyPublishers: return "too_many_publishers";
    case Refusal::kForbidden: return "forbidden";
  }
  return "unknown";
}

namespace {

// Event ids kept below the publisher's own floor (every sequence below it was confirmed
// to it): a publisher that restarts from a durable outbox may re-send a few events whose
// confirm it had but had not yet acted on.
constexpr std::uint64_t kVerifyTail = 256;
// Rejections listed in one confirm at most; the confirm then stops short of the first one
// left out.
constexpr std::size_t kMaxListedRejections = 1024;

}  // namespace

// What the broker holds for one publisher id.
struct PublisherSessions::Publisher {
  std::string id;
  std::string owner;            // the principal that speaks for this id ("": recovered, not claimed yet)
  std::uint64_t logged = 0;     // every sequence <= logged is settled: logged, or rejected
  std::uint64_t confirmed = 0;  // every logged sequence <= confirmed is durable
  std::uint64_t floor = 1;      // the publisher's word: every sequence below was confirmed to it
  std::uint64_t ids_base = 1;   // the sequence of ids.front()
  std::deque<EventIdBits> ids;  // event ids of the settled sequences [ids_base, logged]
  Session* session = nullptr;   // the open session, if any
  std::size_t sessions = 0;     // sessions (open or taken over) that point here
  TimePoint last_seen;
};

// One connection speaking for one publisher id.
struct PublisherSessions::Session {
  std::string peer;
  Publisher* publisher = nullptr;
  std::uint64_t next = 1;  // the sequence this session settles next; <= publisher->logged + 1
  std::uint64_t floor = 1;  // its publisher's word: every sequence below was confirmed to it
  // Sequences rejected on this session, by sequence, listed in every confirm until the
  // publisher's floor passes them: a cumulative confirm must never cover a rejection the
  // publisher has not heard of (the one confirm that carried it may have been lost).
  struct Rejected {
    std::string reason, detail;
  };
  std::map<std::uint64_t, Rejected> rejections;
  std::uint64_t resend_from = 0;  // nonzero: ask for a re-send from here in the next confirm
  std::size_t awaiting = 0;       // events it logged that are not durable yet
  bool owed = false;              // a confirm should go out (in owed_)
  bool taken_over = false;        // accepts nothing; closes after its last confirm
};

PublisherSessions::PublisherSessions(PublisherSessionsOptions options, Metrics& metrics, SendFn send)
    : options_(options), metrics_(metrics), send_(std::move(send)) {
  options_.verify_window = std::max<std::size_t>(options_.verify_window, 1);
}

PublisherSessions::~PublisherSessions() = default;

PublisherSessions::Publisher& PublisherSessions::Create(std::string_view id) {
  auto publisher = std::make_unique<Publisher>();
  publisher->id = std::string(id);
  Publisher& ref = *publisher;
  publishers_.emplace(publisher->id, std::move(publisher));
  return ref;
}

void PublisherSessions::Remember(Publisher& p, std::uint64_t sequence, EventIdBits id) {
  if (p.ids.empty() || sequence != p.ids_base + p.ids.size()) {
    // Not contiguous with what is remembered (a start, or a jump the publisher vouched
    // for): what came before can no longer be verified.
    p.ids.clear();
    p.ids_base = sequence;
  }
  p.ids.push_back(id);
  // A publisher re-sends only what it holds unconfirmed, from its floor: older ids are
  // not needed, beyond a small tail.
  const std::uint64_t keep_from = p.floor > kVerifyTail ? p.floor - kVerifyTail : 1;
  while (!p.ids.empty() && (p.ids.size() > options_.verify_window || p.ids_base < keep_from)) {
    p.ids.pop_front();
    ++p.ids_base;
  }
}

std::optional<EventIdBits> PublisherSessions::Remembered(const Publisher& p, std::uint64_t sequence) const {
  if (sequence < p.ids_base || sequence >= p.ids_base + p.ids.size()) return std::nullopt;
  return p.ids[sequence - p.ids_base];
}

void PublisherSessions::Recover(const PublisherFields& fields, TimePoint now) {
  auto it = publishers_.find(fields.publisher_id);
  Publisher& p = it != publishers_.end() ? *it->second : Create(fields.publisher_id);
  p.last_seen = now;
  if (fields.sequence <= p.logged) return;  // cannot happen in a log this broker wrote
  if (fields.unconfirmed_from != 0) p.floor = std::max(p.floor, std::min(fields.unconfirmed_from, fields.sequence));
  p.logged = fields.sequence;
  p.confirmed = fields.sequence;  // recovered means on disk
  Remember(p, fields.sequence, IsValidEventId(fields.event_id) ? DecodeEventId(fields.event_id) : kRejected);
}

// ---- Replies ------------------------------------------------------------------------------

void PublisherSessions::Reply(std::string_view peer, v1::SessionReply::State state, std::string_view publisher_id,
                              std::uint64_t logged_through, Refusal* refusal, const std::string& message) {
  v1::SessionReply reply;
  reply.set_state(state);
  reply.set_publisher_id(std::string(publisher_id));
  reply.set_logged_through(logged_through);
  if (refusal != nullptr) reply.set_reason(RefusalName(*refusal));
  reply.set_message(message);
  if (state == v1::SessionReply::OPEN) {
    reply.set_max_batch_events(static_cast<std::uint32_t>(options_.max_batch_events));
    reply.set_max_batch_bytes(options_.max_batch_bytes);
  }
  reply.SerializeToString(&buffer_);
  send_(peer, kSessionKind, buffer_);
}

void PublisherSessions::Refuse(Refusal refusal, std::string_view peer, std::string_view publisher_id,
                               const std::string& detail) {
  metrics_.CountRefused(refusal);
  // Events in flight when a broker restarts all meet a new connection without a session:
  // expected, and answered; not worth a warning each.
  if (refusal == Refusal::kNoSession || !log_limiter_.Allow()) return;
  spdlog::warn("publisher '{}' refused ({}): {} ({} similar lines suppressed)", Printable(publisher_id, 40),
               RefusalName(refusal), detail, log_limiter_.TakeSuppressed());
}

void PublisherSessions::OnProbe(std::string_view peer) {
  auto it = sessions_.find(peer);
  if (it != sessions_.end() && !it->second->taken_over) {
    Reply(peer, v1::SessionReply::OPEN, it->second->publisher->id, it->second->publisher->logged);
    return;
  }
  Reply(peer, v1::SessionReply::NO_SESSION, "", 0, nullptr, "this connection has no publisher session: say hello");
}

// ---- Hello --------------------------------------------------------------------------------

void PublisherSessions::OnHello(std::string_view peer, std::string_view bytes, TimePoint now,
                                std::string_view principal, bool may_publish, const auth::AllowList* reservations) {
  v1::PublisherHello hello;
  auto refuse = [&](Refusal refusal, const std::string& message, std::uint64_t logged_through = 0) {
    Refuse(refusal, peer, hello.publisher_id(), message);
    Reply(peer, v1::SessionReply::REFUSED, hello.publisher_id(), logged_through, &refusal, message);
  };
  if (!hello.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    hello.Clear();
    return refuse(Refusal::kBadHello, "the hello is not a signalbus.v1.PublisherHello");
  }
  const std::string& id = hello.publisher_id();
  if (Status s = id.empty() ? InvalidArgument("the hello names no publisher_id") : ValidatePublisherId(id); !s.ok()) {
    hello.set_publisher_id(Printable(id, 40));
    return refuse(Refusal::kBadHello, s.message());
  }
  if (principal.empty()) {
    return refuse(Refusal::kForbidden, "this connection is not authenticated, or its key is no longer allowed");
  }
  if (!may_publish) {
    return refuse(Refusal::kForbidden, "principal '" + std::string(principal) + "' may publish nothing");
  }
  const auth::Principal* reserved = reservations != nullptr ? reservations->ReservedFor(id) : nullptr;
  if (reserved != nullptr && reserved->name != principal) {
    metrics_.CountAuthRefused(AuthOp::kPublish);
    return refuse(Refusal::kForbidden, "publisher id '" + id + "' is reserved for principal '" + reserved->name +
                                           "' (publisher_ids in the allow-list), not for '" +
                                           std::string(principal) + "'");
  }
  const std::uint64_t from = hello.unconfirmed_from();
  const std::uint64_t next = hello.next_sequence();
  if (next == 0 || from == 0 || from > next) {
    return refuse(Refusal::kBadHello, "unconfirmed_from " + std::to_string(from) + " and next_sequence " +
                                          std::to_string(next) + " must be 1 <= unconfirmed_from <= next_sequence");
  }

  if (auto it = sessions_.find(peer); it != sessions_.end()) {
    Session& s = *it->second;
    if (!s.taken_over && s.publisher->id == id) {
      // Said again on the same connection (the publisher lost track): the session stands.
      Reply(peer, v1::SessionReply::OPEN, id, s.publisher->logged);
      return;
    }
    return refuse(Refusal::kBadHello, s.taken_over ? "this connection's session was taken over; connect again"
                                                   : "this connection already speaks for publisher '" +
                                                         s.publisher->id + "'");
  }

  Publisher* p = nullptr;
  if (auto it = publishers_.find(id); it != publishers_.end()) {
    p = it->second.get();
    if (!p->owner.empty() && p->owner != principal) {
      if (reserved == nullptr) {
        metrics_.CountAuthRefused(AuthOp::kPublish);
        return refuse(Refusal::kForbidden, "publisher id '" + id + "' speaks for principal '" + p->owner +
                                               "', not for '" + std::string(principal) + "'");
      }
      Disown(*p);  // held since before the reservation: its owner is the reserver now
    }
    if (next - 1 < p->logged) {
      return refuse(Refusal::kIdInUse,
                    "the broker holds sequences up to " + std::to_string(p->logged) + " of publisher '" + id +
                        "', but this publisher's last is " + std::to_string(next - 1) +
                        ": another publisher uses this id, or it restarted and numbered from 1 again (give each "
                        "publisher, and each run of it, an id of its own)",
                    p->logged);
    }
    if (from > p->logged + 1) {
      // The publisher had confirms for sequences the broker does not hold: they were
      // rejected (a rejection is not logged), or the log lost them (--fsync never, a data
      // directory replaced). Nothing below `from` will be re-sent, so start there.
      spdlog::warn("publisher '{}': sequences {}..{} were confirmed to it but are not in the log (rejected, or lost)",
                   id, p->logged + 1, from - 1);
      // (`confirmed` stays: it speaks of logged sequences only, and the hole has none.)
      p->logged = from - 1;
      p->ids.clear();
      p->ids_base = from;
    }
    if (p->session != nullptr) {
      TakeOver(*p->session, "a newer connection opened its session; the older one accepts nothing more (two "
                            "publishers with one id, or a reconnect)");
    }
  } else {
    if (publishers_.size() >= options_.max_publishers) {
      return refuse(Refusal::kTooManyPublishers, "the broker holds " + std::to_string(publishers_.size()) +
                                                     " publisher ids (--max-publishers); try again later");
    }
    if (const std::size_t bound = options_.max_publishers_per_principal; bound != 0) {
      if (auto held = owned_.find(principal); held != owned_.end() && held->second >= bound) {
        return refuse(Refusal::kTooManyPublishers,
                      "principal '" + std::string(principal) + "' holds " + std::to_string(held->second) +
                          " publisher ids (--max-publishers-per-principal); idle ones are forgotten after "
                          "--dedupe-window");
      }
    }
    p = &Create(id);
    p->logged = from - 1;
    p->confirmed = from - 1;
    p->ids_base = from;
  }
  p->floor = std::max(p->floor, from);
  p->last_seen = now;
  if (p->owner.empty()) {
    p->owner = std::string(principal);
    ++owned_[p->owner];
  }

  auto session = std::make_unique<Session>();
  session->peer = std::string(peer);
  session->publisher = p;
  session->next = from;
  session->floor = from;
  p->session = session.get();
  ++p->sessions;
  sessions_.emplace(session->peer, std::move(session));
  metrics_.CountSessionOpened();
  UpdateGauges();
  spdlog::debug("publisher '{}' opened a session ({}, unconfirmed from {}, next {})", id,
                Printable(hello.client(), 40), from, next);
  Reply(peer, v1::SessionReply::OPEN, id, p->logged);
}

void PublisherSessions::TakeOver(Session& old, std::string_view why) {
  old.taken_over = true;
  old.publisher->session = nullptr;
  metrics_.CountSessionTakenOver();
  if (log_limiter_.Allow()) {
    spdlog::warn("publisher '{}': {} ({} similar lines suppressed)", old.publisher->id, why,
                 log_limiter_.TakeSuppressed());
  }
  Owe(old);  // its last confirm, then TAKEN_OVER, once what it logged is durable
}

void PublisherSessions::Disown(Publisher& p) {
  if (p.owner.empty()) return;
  auto held = owned_.find(p.owner);
  if (held != owned_.end() && --held->second == 0) owned_.erase(held);
  p.owner.clear();
}

void PublisherSessions::Reauthorize(const auth::AllowList& list) {
  for (auto& [id, publisher] : publishers_) {
    Publisher& p = *publisher;
    const auth::Principal* reserved = list.ReservedFor(id);
    if (p.owner.empty() || reserved == nullptr || reserved->name == p.owner) continue;
    if (p.session != nullptr) {
      TakeOver(*p.session, "the reloaded allow-list reserves this id for principal '" + reserved->name +
                               "'; the session of principal '" + p.owner + "' accepts nothing more");
    }
    Disown(p);
  }
}

// ---- Events -------------------------------------------------------------------------------

void PublisherSessions::Owe(Session& session) {
  if (session.owed) return;
  session.owed = true;
  owed_.push_back(&session);
}

void PublisherSessions::Reject(Session& session, std::uint64_t sequence, std::string_view reason,
                               std::string_view detail) {
  constexpr std::size_t kMaxDetailBytes = 200;  // publish.proto: PublishRejection.detail
  session.rejections.emplace(sequence, Session::Rejected{std::string(reason),
                                                         TruncateUtf8(detail, kMaxDetailBytes)});
  Owe(session);
}

std::optional<PublisherSessions::Ticket> PublisherSessions::Admit(std::string_view peer, const EventFields& fields,
                                                                  TimePoint now) {
  if (fields.sequence == 0) return Ticket{};  // fire and forget
  // Events come in runs from one connection: the last session found is compared first.
  if (last_ == nullptr || last_->peer != peer) {
    auto it = sessions_.find(peer);
    last_ = it == sessions_.end() ? nullptr : it->second.get();
  }
  if (last_ == nullptr) {
    Refuse(Refusal::kNoSession, peer, fields.publisher_id, "an event on a connection without a session");
    Reply(peer, v1::SessionReply::NO_SESSION, fields.publisher_id, 0, nullptr,
          "this connection has no publisher session: say hello, then send again");
    return std::nullopt;
  }
  Session& s = *last_;
  Publisher& p = *s.publisher;
  if (s.taken_over) {
    // Its TAKEN_OVER reply follows its last confirm.
    Refuse(Refusal::kTakenOver, peer, p.id, "an event on a session that a newer connection took over");
    return std::nullopt;
  }
  const std::uint64_t sequence = fields.sequence;
  if (fields.publisher_id != p.id) {
    Refuse(Refusal::kWrongPublisher, peer, p.id, "an event of '" + Printable(fields.publisher_id, 40) + "'");
    Reject(s, sequence, RefusalName(Refusal::kWrongPublisher));
    return std::nullopt;
  }
  p.last_seen = now;
  if (sequence > s.next) {
    // Something before it never arrived on this session. Logging it would let a
    // cumulative confirm cover the missing ones: drop it, ask for a re-send from the gap.
    metrics_.CountOutOfOrder();
    s.resend_from = s.next;
    Owe(s);
    return std::nullopt;
  }
  if (fields.unconfirmed_from != 0) {
    s.floor = std::max(s.floor, std::min(fields.unconfirmed_from, s.next));
    p.floor = std::max(p.floor, s.floor);
  }
  const EventIdBits id = DecodeEventId(fields.event_id);  // the validator checked it
  if (sequence <= p.logged) {
    // Settled before: a duplicate only if it is the same event.
    std::optional<EventIdBits> settled = Remembered(p, sequence);
    if (settled && *settled == id && id != kRejected) {
      metrics_.CountDuplicate();  // a re-send: the publisher missed its confirm
    } else {
      const Refusal refusal = !settled                 ? Refusal::kDuplicateUnverifiable
                              : *settled == kRejected ? Refusal::kPreviouslyRejected
                                                      : Refusal::kSequenceReused;
      Refuse(refusal, peer, p.id, "sequence " + std::to_string(sequence) + ", event " + fields.event_id);
      Reject(s, sequence, RefusalName(refusal));
    }
    if (sequence == s.next) ++s.next;
    Owe(s);
    return std::nullopt;
  }
  // sequence == s.next == p.logged + 1: the next one.
  p.logged = sequence;
  Remember(p, sequence, id);
  ++s.next;
  Ticket ticket;
  ticket.session_ = &s;
  ticket.sequence_ = sequence;
  return ticket;
}

void PublisherSessions::Logged(const Ticket& ticket, std::uint64_t offset) {
  if (ticket.session_ == nullptr) return;
  ++ticket.session_->awaiting;
  awaiting_.push_back({offset, ticket.session_, ticket.sequence_});
}

void PublisherSessions::OnRejected(std::string_view peer, std::string_view event_bytes, std::string_view reason,
                                   std::string_view detail) {
  std::optional<PublisherFields> fields = ScanPublisherFields(event_bytes);
  if (!fields) return;
  auto it = sessions_.find(peer);
  if (it == sessions_.end() || it->second->taken_over || it->second->publisher->id != fields->publisher_id) return;
  Session& s = *it->second;
  Publisher& p = *s.publisher;
  if (fields->sequence > s.next) {
    // Out of order as well as invalid: it is rejected once it comes in order.
    s.resend_from = s.next;
    Owe(s);
    return;
  }
  if (fields->sequence < s.next) {
    // Settled already (logged, or rejected before): that outcome stands.
    Owe(s);
    return;
  }
  // The next one: settled, like a logged event; the sequence after it is next.
  if (fields->sequence == p.logged + 1) {
    p.logged = fields->sequence;
    Remember(p, fields->sequence, kRejected);
  }
  ++s.next;
  Reject(s, fields->sequence, reason, detail);
}

// ---- Durability and confirms --------------------------------------------------------------

void PublisherSessions::OnDurable(std::uint64_t durable_offset) {
  while (!awaiting_.empty() && awaiting_.front().offset <= durable_offset) {
    const Awaiting a = awaiting_.front();
    awaiting_.pop_front();
    Publisher& p = *a.session->publisher;
    p.confirmed = std::max(p.confirmed, a.sequence);
    --a.session->awaiting;
    Owe(*a.session);
    // A newer session of the publisher may be waiting for what an older one logged.
    if (p.session != nullptr && p.session != a.session) Owe(*p.session);
  }
}

void PublisherSessions::SendConfirm(Session& s) {
  const Publisher& p = *s.publisher;
  v1::PublishConfirm confirm;
  confirm.set_publisher_id(p.id);
  // Never beyond what this session settled itself: another connection's events do not
  // confirm this one's.
  std::uint64_t through = std::min(p.confirmed, s.next - 1);
  // What the publisher no longer holds needs no word.
  s.rejections.erase(s.rejections.begin(), s.rejections.lower_bound(s.floor));
  for (const auto& [sequence, rejected] : s.rejections) {
    if (static_cast<std::size_t>(confirm.rejections_size()) == kMaxListedRejections) {
      through = std::min(through, sequence - 1);
      break;
    }
    v1::PublishRejection* r = confirm.add_rejections();
    r->set_sequence(sequence);
    r->set_reason(rejected.reason);
    if (!rejected.detail.empty()) r->set_detail(rejected.detail);
  }
  confirm.set_durable_through(through);
  if (s.resend_from != 0) confirm.set_resend_from(s.resend_from);
  s.resend_from = 0;
  confirm.SerializeToString(&buffer_);
  send_(s.peer, kConfirmKind, buffer_);
  metrics_.CountConfirmSent();
}

void PublisherSessions::SendConfirms() {
  std::vector<Session*> owed;
  owed.swap(owed_);
  for (Session* s : owed) {
    s->owed = false;
    SendConfirm(*s);
    if (s->taken_over && s->awaiting == 0) {
      Refusal reason = Refusal::kTakenOver;
      Reply(s->peer, v1::SessionReply::TAKEN_OVER, s->publisher->id, s->next - 1, &reason,
            "a newer connection opened a session for this publisher id; events up to the last confirm are "
            "stored, nothing more is accepted here");
      Close(*s);
    }
  }
}

void PublisherSessions::Close(Session& session) {
  Publisher& p = *session.publisher;
  if (p.session == &session) p.session = nullptr;
  if (last_ == &session) last_ = nullptr;
  --p.sessions;
  sessions_.erase(session.peer);  // `session` is gone from here on
  UpdateGauges();
}

void PublisherSessions::Maintain(TimePoint now) {
  if (!owed_.empty()) return;  // owed_ points at sessions; the next call forgets
  const TimePoint cutoff = now - options_.forget_after;
  for (auto it = publishers_.begin(); it != publishers_.end();) {
    Publisher& p = *it->second;
    const bool busy = p.sessions > (p.session != nullptr ? 1 : 0) || (p.session && p.session->awaiting > 0);
    if (p.last_seen >= cutoff || busy) {
      ++it;
      continue;
    }
    if (p.session != nullptr) Close(*p.session);
    Disown(p);
    it = publishers_.erase(it);
  }
  UpdateGauges();
}

void PublisherSessions::UpdateGauges() { metrics_.SetPublisherGauges(publishers_.size(), sessions_.size()); }

}  // namespace signalbus::broker
