// Group: the delivery lifecycle — members and credits, reading the log, per-key
// admission, delivery, acks, nacks, timeouts and dead-lettering. Admin operations and
// persistence are in group_admin.cc.
#include "group.h"

#include <algorithm>
#include <set>
#include <cassert>

#include <spdlog/spdlog.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/event_scan.h"

namespace signalbus::groups {

namespace {

// Records per store read: large enough to amortise the call, small enough that a
// group out of credit has not read (and holds) much it cannot deliver yet.
constexpr std::size_t kReadChunk = 512;
constexpr std::size_t kReadBytes = 1 << 20;
// After a failed (or unexpectedly empty) read, wait this long before the next one.
constexpr std::chrono::seconds kReadRetry{1};
}  // namespace

Group::Group(GroupSettings settings, const GroupStateData& state, std::unique_ptr<DeadLetterStore> dead_letters,
             GroupEnv env)
    : name_(state.name),
      settings_(std::move(settings)),
      env_(std::move(env)),
      dead_letters_(std::move(dead_letters)),
      acked_total_(state.acked),
      redelivered_total_(state.redelivered) {
  tracker_.Restore(state.ack_floor, state.finished_runs);
  // Resume just above the floor: whatever is finished above it is skipped as it is read.
  cursor_ = tracker_.floor() + 1;
}

Group::~Group() = default;

// ---- Members ----------------------------------------------------------------------

const std::vector<std::string>* Group::MemberSubscriptions(MemberId id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second->subscriptions;
}

Group::Member* Group::FindMember(MemberId id) {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : it->second.get();
}

void Group::AddMember(MemberId id, std::string peer, std::string member_name, std::uint32_t credits,
                      std::uint64_t window_bytes, const GroupSettings& subscriptions) {
  auto m = std::make_unique<Member>();
  m->id = id;
  m->peer = std::move(peer);
  m->name = std::move(member_name);
  m->window = std::min<std::uint64_t>(credits, kMaxCredits);
  m->available = m->window;
  m->window_bytes = std::max<std::uint64_t>(window_bytes, 1);
  m->subscriptions = subscriptions.subscriptions;
  m->patterns = subscriptions.patterns;
  Member& ref = *m;
  members_.emplace(id, std::move(m));
  UpdateSubscriptions();
  RingUpdate(ref);
  if (!parked_.empty()) {
    // A member that may want what waits here: back to the ready queue, in order.
    for (auto it = parked_.rbegin(); it != parked_.rend(); ++it) ready_.push_front(*it);
    parked_.clear();
  }
}

std::size_t Group::UnionSizeWith(const std::vector<std::string>& subscriptions) const {
  std::set<std::string> all(subscriptions.begin(), subscriptions.end());
  for (const auto& [id, m] : members_) all.insert(m->subscriptions.begin(), m->subscriptions.end());
  return all.size();
}

void Group::UpdateSubscriptions() {
  if (members_.empty()) return;  // the last union stays until a member joins
  std::set<std::string> all;
  for (const auto& [id, m] : members_) all.insert(m->subscriptions.begin(), m->subscriptions.end());
  std::vector<std::string> now(all.begin(), all.end());
  if (now != settings_.subscriptions) {
    v1::GroupConfig config = settings_.config;
    config.clear_subscriptions();
    for (const std::string& text : now) config.add_subscriptions(text);
    Result<GroupSettings> resolved = ResolveSettings(config);
    if (resolved.ok()) {  // each pattern was resolved once already
      // Events admitted under the wider union may still be pending: from now on every
      // member's own subscriptions are matched, not taken as the group's.
      if (!std::includes(now.begin(), now.end(), settings_.subscriptions.begin(), settings_.subscriptions.end())) {
        narrowed_ = true;
      }
      spdlog::info("group {}: subscriptions [{}] -> [{}]", name_, JoinSubscriptions(settings_.subscriptions),
                   JoinSubscriptions(resolved->subscriptions));
      settings_.config = resolved->config;
      settings_.patterns = std::move(resolved->patterns);
      settings_.subscriptions = std::move(resolved->subscriptions);
      dirty_ = true;
    }
  }
  for (auto& [id, m] : members_) m->all = !narrowed_ && m->subscriptions == settings_.subscriptions;
}

bool Group::Wants(const Member& m, const Entry& e) {
  if (!m.Wants(e.topic)) return false;
  return std::all_of(e.parts.begin(), e.parts.end(), [&](const UnitPart& p) { return m.Wants(p.topic); });
}

bool Group::AnyMemberWants(const Entry& e) const {
  for (const auto& [id, m] : members_) {
    if (Wants(*m, e)) return true;
  }
  return false;
}

void Group::RemoveMember(MemberId id, bool expired, TimePoint now) {
  auto mit = members_.find(id);
  if (mit == members_.end()) return;
  Member* m = mit->second.get();
  now_ = std::max(now_, now);
  // Out of the rotation first, so nothing taken back below goes straight back to it.
  m->available = 0;
  RingUpdate(*m);
  if (m->in_flush) flush_.erase(std::find(flush_.begin(), flush_.end(), m));
  // Members leave rarely; a walk over the pending entries is cheaper than keeping a
  // per-member index up to date on every delivery.
  std::vector<std::uint64_t> taken;
  entries_.ForEach([&](std::uint64_t offset, const Entry& e) {
    if (e.state == State::kInFlight && e.member == m) taken.push_back(offset);
  });
  std::sort(taken.begin(), taken.end());
  for (std::uint64_t offset : taken) {
    TakeBack(offset, *entries_.Find(offset), expired, expired ? "member expired" : "member left");
  }
  members_.erase(mit);
  UpdateSubscriptions();
}

void Group::AddCredit(MemberId id, std::uint32_t credits) {
  Member* m = FindMember(id);
  if (m == nullptr) return;
  std::uint64_t window = std::min<std::uint64_t>(m->window + credits, kMaxCredits);
  m->available += window - m->window;
  m->window = window;
  RingUpdate(*m);
}

void Group::Settled(Member& m, std::uint64_t bytes) {
  // Capped at the window: acks for deliveries a member never had (or acked twice) do
  // not grow its window.
  if (m.available < m.window) ++m.available;
  if (bytes > 0) {
    m.bytes_in_use -= std::min(bytes, m.bytes_in_use);
    m.blocked = false;
  }
  RingUpdate(m);
}

std::uint64_t Group::TakenBackBytes(Member& m, std::uint64_t offset, std::uint32_t attempt) {
  if (m.taken_back.empty()) return 0;
  auto it = m.taken_back.find({offset, attempt});
  if (it == m.taken_back.end()) return 0;
  std::uint64_t bytes = it->second;
  m.taken_back.erase(it);
  return bytes;
}

void Group::KeepCharged(Member& m, std::uint64_t offset, const Entry& e) {
  m.taken_back[{offset, e.attempt}] = DeliveryBytes(e);
}

void Group::RingUpdate(Member& m) {
  bool can_take = m.available > 0 && !m.blocked;
  if (can_take == m.in_ring) return;
  m.in_ring = can_take;
  if (can_take) {
    ring_.push_back(&m);
  } else {
    ring_.erase(std::find(ring_.begin(), ring_.end(), &m));
  }
}

Group::Member* Group::TakerFor(std::uint64_t bytes, const Entry& e) {
  for (auto it = ring_.begin(); it != ring_.end();) {
    Member* m = *it;
    if (!Wants(*m, e)) {
      ++it;  // another member's turn; this one keeps its place
      continue;
    }
    if (m->Fits(bytes)) return m;  // Deliver moves it to the back
    // It has deliveries in flight; their answers unblock it.
    m->blocked = true;
    m->in_ring = false;
    it = ring_.erase(it);
  }
  return nullptr;
}

void Group::Ack(MemberId id, std::uint64_t offset, std::uint32_t attempt) {
  Member* m = FindMember(id);
  if (m == nullptr) return;
  Entry* e = entries_.Find(offset);
  if (e == nullptr || e->state != State::kInFlight || e->member != m || e->attempt != attempt) {
    Settled(*m, TakenBackBytes(*m, offset, attempt));
    ++env_.counters->stale_acks;
    return;
  }
  Settled(*m, DeliveryBytes(*e));
  --in_flight_;
  ++acked_total_;
  ++env_.counters->acked;
  Finish(offset, *e, /*acked=*/true);
}

void Group::AckRange(MemberId id, std::uint64_t first, std::uint32_t count, std::uint32_t attempt) {
  Member* m = FindMember(id);
  if (m == nullptr || count == 0) return;
  // Only offsets above the floor and below the cursor can be in flight: the others are
  // stale acks, answered at once however many a hostile range names.
  const std::uint64_t last = first + std::min<std::uint64_t>(count - 1, ~std::uint64_t{0} - first);
  const std::uint64_t begin = std::max(first, tracker_.floor() + 1);
  const std::uint64_t end = std::min(last, cursor_ - 1);  // inclusive; cursor_ >= 1
  std::uint64_t walked = 0;
  for (std::uint64_t offset = begin; begin <= end; ++offset) {
    Ack(id, offset, attempt);
    ++walked;
    if (offset == end) break;  // (end may be the largest offset there is)
  }
  if (const std::uint64_t outside = static_cast<std::uint64_t>(count) - walked; outside > 0) {
    env_.counters->stale_acks += outside;
    m->available = std::min<std::uint64_t>(m->window, m->available + outside);
    RingUpdate(*m);
  }
}

void Group::Nack(MemberId id, const v1::DeliveryRef& ref, std::string_view error, TimePoint now) {
  Member* m = FindMember(id);
  if (m == nullptr) return;
  now_ = std::max(now_, now);
  Entry* found = entries_.Find(ref.offset());
  if (found == nullptr || found->state != State::kInFlight || found->member != m ||
      found->attempt != ref.attempt()) {
    Settled(*m, TakenBackBytes(*m, ref.offset(), ref.attempt()));
    ++env_.counters->stale_acks;
    return;
  }
  Settled(*m, DeliveryBytes(*found));
  ++env_.counters->nacked;
  --in_flight_;
  Entry& e = *found;
  e.member = nullptr;
  if (e.attempt - e.base >= settings_.max_deliver) {
    DeadLetter(ref.offset(), e, std::string(error));
    return;
  }
  // The key stays taken while the event waits: later events of the key keep waiting.
  e.state = State::kRetryWait;
  e.serial = ++next_serial_;
  retries_.push(Timer{now_ + settings_.Backoff(e.attempt - e.base), ref.offset(), e.serial});
}

// ---- Reading the log ----------------------------------------------------------------

void Group::Pump(TimePoint now, std::uint64_t durable) {
  now_ = std::max(now_, now);
  if (!on_disk_) return;
  Dispatch();
  std::size_t budget = env_.options->max_scan;
  // Read only while someone can take what is read: a group without credit (or with too
  // many events waiting for their keys) leaves the log where it is.
  // (Members may want only some topics: the ready queue is bounded too.)
  while (HasTaker() && gate_.waiting() < env_.options->max_held && ready_.size() < env_.options->max_held) {
    if (lookahead_pos_ == lookahead_.size()) {
      if (budget == 0 || cursor_ > durable || now_ < read_retry_at_) break;
      if (!Refill(durable, &budget)) break;
      continue;
    }
    eventlog::Record& next = lookahead_[lookahead_pos_];
    std::size_t unit = 1;
    while (next.unit_size > 1 && lookahead_pos_ + unit < lookahead_.size() &&
           lookahead_[lookahead_pos_ + unit].unit_first == next.unit_first) {
      ++unit;
    }
    if (unit > 1) {
      AdmitUnit(&next, unit);
    } else {
      Admit(next);
    }
    lookahead_pos_ += unit;
  }
  Flush();
}

bool Group::Refill(std::uint64_t durable, std::size_t* budget) {
  lookahead_.clear();
  lookahead_pos_ = 0;
  std::size_t n = std::min<std::uint64_t>({*budget, durable - cursor_ + 1, kReadChunk});
  Result<std::vector<eventlog::Record>> read = env_.store->Read(cursor_, n, kReadBytes);
  if (!read.ok()) {
    read_error_ = "cannot read the log at offset " + std::to_string(cursor_) + ": " + read.status().ToString();
    spdlog::error("group {}: {}", name_, read_error_);
    read_retry_at_ = now_ + kReadRetry;
    return false;
  }
  read_error_.clear();
  lookahead_ = std::move(*read);
  *budget -= std::min(*budget, std::max<std::size_t>(lookahead_.size(), 1));
  // Offsets missing from the log (deleted by retention, or a damaged range skipped at
  // open) can never be delivered: they count as skipped.
  std::uint64_t expected = cursor_;
  std::size_t keep = 0;
  for (eventlog::Record& r : lookahead_) {
    if (r.offset > durable) break;  // only past a gap; never deliver non-durable records
    if (r.offset > expected) {
      tracker_.MarkRange(expected, r.offset - 1);
      dirty_ = true;
    }
    expected = r.offset + 1;
    ++keep;
  }
  lookahead_.resize(keep);
  if (keep == 0) {
    std::uint64_t first = env_.store->first_offset();
    if (cursor_ < first && first <= durable + 1) {
      tracker_.MarkRange(cursor_, first - 1);
      dirty_ = true;
      cursor_ = first;
      return true;
    }
    if (first > durable) {
      // Retention removed everything up to the durable offset.
      tracker_.MarkRange(cursor_, durable);
      dirty_ = true;
      cursor_ = durable + 1;
      return false;
    }
    read_retry_at_ = now_ + kReadRetry;
    return false;
  }
  cursor_ = expected;
  return true;
}

Result<std::uint64_t> Group::KeyOf(const eventlog::Record& record) {
  if (std::optional<std::uint64_t> noted = env_.keys->Get(record.offset)) return *noted;
  // The event was validated at ingest: it is scanned for the key, not decoded (its
  // top-level framing checked). It fails only for a log written by something else.
  std::optional<std::string_view> ordering_key =
      record.event.empty() ? std::nullopt : ScanOrderingKey(record.event);
  if (!ordering_key) return InvalidArgument("its fields do not parse");
  std::uint64_t key = KeyHash(*ordering_key);
  env_.keys->Put(record.offset, key);  // the next group reading it is spared
  return key;
}

void Group::Admit(eventlog::Record& record) {
  const std::uint64_t offset = record.offset;
  // Finished before a restart, or already here as a replayed dead letter.
  if (tracker_.IsFinished(offset) || entries_.Contains(offset)) return;
  if (!settings_.Matches(record.topic)) {
    tracker_.Mark(offset);
    dirty_ = true;
    return;
  }
  Result<std::uint64_t> key = KeyOf(record);
  if (!key.ok()) {
    DeadLetterRecord(record, "undecodable event: " + key.status().message());
    return;
  }
  Entry& e = *entries_.Emplace(offset).first;
  e.topic = std::move(record.topic);
  e.event = std::move(record.event);
  e.key = *key;
  ContinueAttempts(offset, e);
  PassGate(offset, e, /*first=*/false);
}

void Group::AdmitUnit(eventlog::Record* records, std::size_t count) {
  std::vector<std::pair<eventlog::Record*, std::uint64_t>> wanted;  // with their keys
  for (std::size_t i = 0; i < count; ++i) {
    eventlog::Record& record = records[i];
    if (tracker_.IsFinished(record.offset) || entries_.Contains(record.offset)) continue;
    if (!settings_.Matches(record.topic)) {
      tracker_.Mark(record.offset);
      dirty_ = true;
      continue;
    }
    Result<std::uint64_t> key = KeyOf(record);
    if (!key.ok()) {
      DeadLetterRecord(record, "undecodable event: " + key.status().message());
      continue;
    }
    wanted.emplace_back(&record, *key);
  }
  if (wanted.empty()) return;
  const std::uint64_t offset = wanted[0].first->offset;
  Entry& e = *entries_.Emplace(offset).first;
  e.topic = std::move(wanted[0].first->topic);
  e.event = std::move(wanted[0].first->event);
  e.key = wanted[0].second;
  for (std::size_t i = 1; i < wanted.size(); ++i) {
    e.parts.push_back(UnitPart{wanted[i].first->offset, wanted[i].second, std::move(wanted[i].first->topic),
                               std::move(wanted[i].first->event)});
  }
  ContinueAttempts(offset, e);
  PassGate(offset, e, /*first=*/false);
}

void Group::ContinueAttempts(std::uint64_t offset, Entry& e) {
  if (abandoned_attempts_.empty()) return;
  if (auto a = abandoned_attempts_.find(offset); a != abandoned_attempts_.end()) {
    e.attempt = e.base = a->second;
    abandoned_attempts_.erase(a);
  }
}

std::vector<std::uint64_t> Group::KeysOf(const Entry& e) {
  std::vector<std::uint64_t> keys;
  if (e.key != 0) keys.push_back(e.key);
  for (const UnitPart& p : e.parts) {
    if (p.key != 0 && std::find(keys.begin(), keys.end(), p.key) == keys.end()) keys.push_back(p.key);
  }
  return keys;
}

void Group::PassGate(std::uint64_t offset, Entry& e, bool first) {
  e.keys_waiting = 0;
  if (e.parts.empty()) {  // the common case, without a vector
    if (e.key != 0 && !(first ? gate_.AdmitFirst(e.key, offset) : gate_.Admit(e.key, offset))) e.keys_waiting = 1;
  } else {
    for (std::uint64_t key : KeysOf(e)) {
      if (!(first ? gate_.AdmitFirst(key, offset) : gate_.Admit(key, offset))) ++e.keys_waiting;
    }
  }
  if (e.keys_waiting == 0) {
    MakeReady(offset, e, /*front=*/false);
  } else {
    e.state = State::kWaiting;
  }
}

// ---- Delivering -----------------------------------------------------------------------

void Group::MakeReady(std::uint64_t offset, Entry& e, bool front) {
  if (ready_.empty()) {
    if (Member* m = TakerFor(DeliveryBytes(e), e)) {
      Deliver(offset, e, *m);
      return;
    }
  }
  e.state = State::kReady;
  e.member = nullptr;
  if (front) {
    ready_.push_front(offset);
  } else {
    ready_.push_back(offset);
  }
}

void Group::Dispatch() {
  while (!ready_.empty() && HasTaker()) {
    std::uint64_t offset = ready_.front();
    Entry* e = entries_.Find(offset);
    assert(e != nullptr && e->state == State::kReady);
    Member* m = TakerFor(DeliveryBytes(*e), *e);
    if (m == nullptr) {
      if (AnyMemberWants(*e)) return;  // those that want it have no credit or room now
      // No connected member subscribes to it any more: it waits for one, and the events
      // behind it go on.
      ready_.pop_front();
      parked_.insert(std::upper_bound(parked_.begin(), parked_.end(), offset), offset);
      continue;
    }
    ready_.pop_front();
    Deliver(offset, *e, *m);
  }
}

void Group::Deliver(std::uint64_t offset, Entry& e, Member& m) {
  const std::uint64_t bytes = DeliveryBytes(e);
  e.state = State::kInFlight;
  e.member = &m;
  e.serial = ++next_serial_;
  ++e.attempt;
  ++in_flight_;
  --m.available;
  m.bytes_in_use += bytes;
  if (m.bytes_in_use >= m.window_bytes) m.blocked = true;
  // Round-robin: to the back of the ring, or out of it.
  if (m.in_ring) {
    if (ring_.front() == &m) {
      ring_.pop_front();
    } else {
      ring_.erase(std::find(ring_.begin(), ring_.end(), &m));
    }
    m.in_ring = false;
  }
  RingUpdate(m);
  ack_deadlines_.push_back(Timer{now_ + settings_.ack_timeout, offset, e.serial});
  if (ack_deadlines_.size() > 2 * in_flight_ + 1024) CompactAckDeadlines();
  ++env_.counters->delivered;
  if (e.attempt > 1) {
    ++env_.counters->redelivered;
    ++redelivered_total_;
    dirty_ = true;
  }
  // A batch is bounded in bytes and count too: this delivery (a unit: all of it) starts
  // the next one if it would not fit (alone, it goes however large it is).
  const int deliveries = 1 + static_cast<int>(e.parts.size());
  if (m.batch_bytes > 0 && (m.batch_bytes + bytes > env_.options->max_batch_bytes ||
                            m.batch.deliveries().deliveries_size() + deliveries >
                                static_cast<int>(env_.options->max_batch))) {
    SendBatch(m);
  }
  // The one copy of the event bytes on the delivery path: into a Delivery reused from
  // the member's previous batch, so its buffers are usually big enough already.
  auto add = [&](std::uint64_t at, const std::string& topic, const std::string& event) {
    v1::Delivery* d = m.batch.mutable_deliveries()->add_deliveries();
    d->set_offset(at);
    d->set_attempt(e.attempt);
    d->set_topic(topic);
    d->set_event(event);
    d->set_unit_offset(e.parts.empty() ? 0 : offset);
    d->set_unit_size(e.parts.empty() ? 0 : static_cast<std::uint32_t>(deliveries));
  };
  add(offset, e.topic, e.event);
  for (const UnitPart& p : e.parts) add(p.offset, p.topic, p.event);
  m.batch_bytes += bytes;
  if (!m.in_flush) {
    m.in_flush = true;
    flush_.push_back(&m);
  }
  if (static_cast<std::size_t>(m.batch.deliveries().deliveries_size()) >= env_.options->max_batch) SendBatch(m);
}

void Group::SendBatch(Member& m) {
  if (m.batch.deliveries().deliveries_size() == 0) return;
  (*env_.send)(m.peer, m.batch);
  m.batch_bytes = 0;
  // Clear() keeps the Delivery objects (and their string buffers) for the next batch,
  // unless one was left holding an event larger than a batch.
  if (m.batch.ByteSizeLong() > 2 * env_.options->max_batch_bytes) {
    m.batch.Clear();
  } else {
    m.batch.mutable_deliveries()->mutable_deliveries()->Clear();
  }
}

void Group::Flush() {
  for (Member* m : flush_) {
    SendBatch(*m);
    m->in_flush = false;
  }
  flush_.clear();
}

// ---- Timers -----------------------------------------------------------------------------

bool Group::IsCurrent(const Timer& t, State state) const {
  const Entry* e = entries_.Find(t.offset);
  return e != nullptr && e->state == state && e->serial == t.serial;
}

void Group::Tick(TimePoint now, std::uint64_t durable) {
  now_ = std::max(now_, now);
  while (!ack_deadlines_.empty()) {
    const Timer t = ack_deadlines_.front();
    if (!IsCurrent(t, State::kInFlight)) {
      ack_deadlines_.pop_front();
      continue;
    }
    if (t.at > now_) break;
    ack_deadlines_.pop_front();
    TakeBack(t.offset, *entries_.Find(t.offset), /*counts_as_attempt=*/true, "ack timeout");
  }
  while (!retries_.empty() && retries_.top().at <= now_) {
    const Timer t = retries_.top();
    retries_.pop();
    if (!IsCurrent(t, State::kRetryWait)) continue;
    MakeReady(t.offset, *entries_.Find(t.offset), /*front=*/true);
  }
  Pump(now_, durable);
}

void Group::TakeBack(std::uint64_t offset, Entry& e, bool counts_as_attempt, std::string_view reason) {
  assert(e.state == State::kInFlight);
  --in_flight_;
  // Its bytes stay charged to the member until it answers (the delivery may still sit
  // in its queue) or goes away.
  KeepCharged(*e.member, offset, e);
  e.member = nullptr;
  e.state = State::kReady;
  if (counts_as_attempt && e.attempt - e.base >= settings_.max_deliver) {
    DeadLetter(offset, e, std::string(reason));
    return;
  }
  // Older than anything read since: first in line. The member that had it keeps its
  // credit until it acks (late, stale) or goes away.
  MakeReady(offset, e, /*front=*/true);
}

void Group::CompactAckDeadlines() {
  std::deque<Timer> live;
  for (const Timer& t : ack_deadlines_) {
    if (IsCurrent(t, State::kInFlight)) live.push_back(t);
  }
  ack_deadlines_.swap(live);
}

bool Group::HasScanWork(std::uint64_t durable) const {
  return HasTaker() && gate_.waiting() < env_.options->max_held &&
         (lookahead_pos_ < lookahead_.size() || (cursor_ <= durable && now_ >= read_retry_at_));
}

TimePoint Group::NextDeadline(TimePoint now, std::uint64_t durable) const {
  TimePoint next = TimePoint::max();
  if (!on_disk_) return next;
  // The front may be stale (already acked): then Tick merely drops it.
  if (!ack_deadlines_.empty()) next = std::min(next, ack_deadlines_.front().at);
  if (!retries_.empty()) next = std::min(next, retries_.top().at);
  if (HasScanWork(durable)) next = std::min(next, std::max(now, now_));
  if (HasTaker() && cursor_ <= durable && now_ < read_retry_at_) next = std::min(next, read_retry_at_);
  return next;
}

// ---- Finishing ------------------------------------------------------------------------

void Group::DeadLetter(std::uint64_t offset, Entry& e, std::string error) {
  // A unit's other events: a letter each, with the same error (each replays alone).
  for (UnitPart& p : e.parts) {
    v1::DeadLetter part;
    part.set_offset(p.offset);
    part.set_attempts(e.attempt - e.base);
    part.set_error(error + " (with its atomic batch from offset " + std::to_string(offset) + ")");
    part.set_topic(p.topic);
    part.set_event(std::move(p.event));
    auto wall = env_.wall_clock().time_since_epoch();
    part.mutable_dead_lettered_at()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(wall).count());
    dead_letters_->Add(std::move(part));
    ++env_.counters->dead_lettered;
  }
  v1::DeadLetter letter;
  letter.set_offset(offset);
  letter.set_attempts(e.attempt - e.base);
  letter.set_error(std::move(error));
  letter.set_topic(e.topic);
  letter.set_event(std::move(e.event));
  auto wall = env_.wall_clock().time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(wall);
  letter.mutable_dead_lettered_at()->set_seconds(seconds.count());
  letter.mutable_dead_lettered_at()->set_nanos(
      static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(wall - seconds).count()));
  if (dead_letter_log_.Allow(now_)) {
    spdlog::warn("group {}: offset {} dead-lettered after {} attempts: {} ({} similar lines suppressed)", name_,
                 offset, letter.attempts(), letter.error(), dead_letter_log_.TakeSuppressed());
  }
  dead_letters_->Add(std::move(letter));
  ++env_.counters->dead_lettered;
  Finish(offset, e, /*acked=*/false);
}

void Group::DeadLetterRecord(const eventlog::Record& record, std::string error) {
  v1::DeadLetter letter;
  letter.set_offset(record.offset);
  letter.set_attempts(0);
  letter.set_error(std::move(error));
  letter.set_topic(record.topic);
  letter.set_event(record.event);
  auto wall = env_.wall_clock().time_since_epoch();
  letter.mutable_dead_lettered_at()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(wall).count());
  if (dead_letter_log_.Allow(now_)) {
    spdlog::error("group {}: offset {} dead-lettered: {} ({} similar lines suppressed)", name_, record.offset,
                  letter.error(), dead_letter_log_.TakeSuppressed());
  }
  dead_letters_->Add(std::move(letter));
  ++env_.counters->dead_lettered;
  tracker_.Mark(record.offset);
  dirty_ = true;
}

void Group::Finish(std::uint64_t offset, Entry& e, bool acked) {
  tracker_.Mark(offset);
  for (const UnitPart& p : e.parts) tracker_.Mark(p.offset);
  dirty_ = true;
  if (e.replay && acked) dead_letters_->FinishReplay(offset);
  std::vector<std::uint64_t> keys;
  if (e.parts.empty()) {
    if (e.key != 0) keys.push_back(e.key);
  } else {
    keys = KeysOf(e);
  }
  entries_.Erase(offset);  // `e` is gone from here on
  for (std::uint64_t key : keys) {
    std::optional<std::uint64_t> next = gate_.Release(key);
    if (!next) continue;
    // The key's next event was read before anything now in the ready queue behind it.
    Entry& waiter = *entries_.Find(*next);
    if (--waiter.keys_waiting == 0) MakeReady(*next, waiter, /*front=*/true);
  }
}

}  // namespace signalbus::groups
