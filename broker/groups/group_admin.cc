// Group: what signalbus-admin can ask of a group (info, dead letters, replay, purge,
// seek), its persistence, and the invariant check the tests use.
#include <algorithm>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "group.h"
#include "signalbus/core/codec.h"

namespace signalbus::groups {

v1::GroupInfo Group::Info(std::uint64_t durable) const {
  v1::GroupInfo info;
  info.set_name(name_);
  for (const std::string& s : settings_.subscriptions) info.add_subscriptions(s);
  info.set_members(static_cast<std::uint32_t>(members_.size()));
  info.set_head_offset(durable);
  info.set_ack_floor(tracker_.floor());
  // Offsets up to the head not yet finished: in flight, waiting, unread — including
  // unread events the group does not subscribe to, which it has not looked at yet.
  std::uint64_t open = durable > tracker_.floor() ? durable - tracker_.floor() : 0;
  info.set_lag(open - std::min(open, tracker_.finished_above_floor()));
  std::uint64_t pending = 0;
  entries_.ForEach([&](std::uint64_t, const Entry& e) {
    if (e.attempt > e.base) ++pending;
  });
  info.set_pending(pending);
  info.set_redelivered(redelivered_total_);
  info.set_dead_lettered(dead_letters_->size());
  info.set_acked(acked_total_);
  info.set_read_error(read_error_);
  info.set_ack_timeout_ms(static_cast<std::uint32_t>(settings_.ack_timeout.count()));
  info.set_max_deliver(settings_.max_deliver);
  info.set_backoff_initial_ms(static_cast<std::uint32_t>(settings_.backoff_initial.count()));
  info.set_backoff_max_ms(static_cast<std::uint32_t>(settings_.backoff_max.count()));
  return info;
}

void Group::ListDeadLetters(std::uint64_t after, std::size_t limit, std::size_t max_bytes,
                            v1::AdminReply* reply) const {
  // One more than asked, to tell whether there is more.
  std::vector<const v1::DeadLetter*> letters = dead_letters_->List(after, limit + 1);
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < letters.size(); ++i) {
    std::size_t size = letters[i]->ByteSizeLong();
    if (i == limit || (i > 0 && bytes + size > max_bytes)) {
      reply->set_more(true);
      return;
    }
    bytes += size;
    *reply->add_dead_letters() = *letters[i];
  }
}

std::uint64_t Group::Replay(const std::vector<std::uint64_t>& offsets) {
  std::vector<std::uint64_t> chosen = offsets.empty() ? dead_letters_->VisibleOffsets() : offsets;
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  std::uint64_t replayed = 0;
  for (std::uint64_t offset : chosen) {
    std::optional<v1::DeadLetter> letter = dead_letters_->TakeForReplay(offset);
    if (!letter) continue;
    ++replayed;
    if (Entry* pending = entries_.Find(offset)) {
      // Already on its way again (after a seek): its ack will also retire the letter.
      pending->replay = true;
      continue;
    }
    Entry& e = *entries_.Emplace(offset).first;
    e.replay = true;
    e.topic = std::move(*letter->mutable_topic());
    e.event = std::move(*letter->mutable_event());
    // A replay keeps the one-at-a-time rule for its key but jumps the key's queue: it is
    // older than anything queued, and its order relative to later events of the key
    // that were already delivered cannot be restored.
    if (Result<v1::Event> event = DecodeEvent(e.event, std::max<std::size_t>(e.event.size(), 1)); event.ok()) {
      e.key = KeyHash(event->ordering_key());
    }
    PassGate(offset, e, /*first=*/true);
  }
  return replayed;
}

std::uint64_t Group::Purge(const std::vector<std::uint64_t>& offsets) {
  std::vector<std::uint64_t> chosen = offsets.empty() ? dead_letters_->VisibleOffsets() : offsets;
  std::uint64_t purged = 0;
  for (std::uint64_t offset : chosen) {
    if (dead_letters_->Purge(offset)) ++purged;
  }
  return purged;
}

void Group::Abandon() {
  entries_.ForEach([&](std::uint64_t offset, const Entry& e) {
    if (e.replay) dead_letters_->ReturnReplay(offset);
    // Acks for it become stale; they give its bytes back to the member.
    if (e.state == State::kInFlight) KeepCharged(*e.member, offset, e);
  });
  entries_.Clear();
  ready_.clear();
  parked_.clear();
  gate_.Clear();
  ack_deadlines_.clear();
  retries_ = {};
  in_flight_ = 0;
  lookahead_.clear();
  lookahead_pos_ = 0;
  for (auto& [id, m] : members_) {
    if (m->in_flush) m->batch.mutable_deliveries()->mutable_deliveries()->Clear();
    m->in_flush = false;
    m->batch_bytes = 0;
  }
  flush_.clear();
}

std::uint64_t Group::Seek(std::uint64_t position) {
  position = std::max<std::uint64_t>(position, 1);
  std::uint64_t abandoned = 0;
  // Offsets at or above the position come round again: their next attempt numbers
  // continue above the abandoned ones, so late acks for these stay stale.
  std::unordered_map<std::uint64_t, std::uint32_t> keep;
  for (const auto& [offset, attempt] : abandoned_attempts_) {
    if (offset >= position) keep[offset] = attempt;
  }
  entries_.ForEach([&](std::uint64_t offset, const Entry& e) {
    if (e.attempt == e.base) return;  // not delivered since it was read
    ++abandoned;
    if (offset >= position) keep[offset] = std::max(keep[offset], e.attempt);
  });
  abandoned_attempts_.swap(keep);
  Abandon();
  tracker_.Reset(position - 1);
  cursor_ = position;
  read_retry_at_ = {};
  read_error_.clear();
  dirty_ = true;
  spdlog::info("group {}: seeked to offset {} ({} pending deliveries abandoned)", name_, position, abandoned);
  return abandoned;
}

GroupStateData Group::Snapshot() const {
  GroupStateData state;
  state.name = name_;
  state.config = settings_.config;
  state.ack_floor = tracker_.floor();
  state.finished_runs = tracker_.Runs();
  state.acked = acked_total_;
  state.redelivered = redelivered_total_;
  return state;
}

Result<std::optional<Group::StateFileContents>> Group::TakeStateFile() {
  if (Status s = dead_letters_->Sync(); !s.ok()) return s;
  if (!dirty_) return std::optional<StateFileContents>();
  dirty_ = false;
  return std::optional<StateFileContents>(StateFileContents{++snapshot_version_, EncodeGroupState(Snapshot())});
}

Status Group::OnStateFileWritten(std::uint64_t version, const Status& status) {
  if (status.ok()) {
    written_version_ = std::max(written_version_, version);
    on_disk_ = true;
    return Status::Ok();
  }
  if (version != snapshot_version_) return Status::Ok();
  dirty_ = true;
  return status;
}

void Group::CheckInvariants() const {
  auto fail = [&](const char* what) {
    spdlog::critical("group {}: invariant broken: {}", name_, what);
    std::abort();
  };
  std::size_t in_flight = 0, ready = 0, waiting = 0;
  std::unordered_map<std::uint64_t, int> through_gate;  // key -> entries holding it
  std::size_t keys_waiting = 0, keys_held_by_waiting = 0;
  entries_.ForEach([&](std::uint64_t offset, const Entry& e) {
    for (const UnitPart& p : e.parts) {
      if (p.offset <= offset) fail("a unit's parts out of order");
      if (tracker_.IsFinished(p.offset) && !e.replay) fail("a finished offset is pending in a unit");
    }
    if (tracker_.IsFinished(offset) && !e.replay) fail("a finished offset is pending");
    switch (e.state) {
      case State::kInFlight:
        ++in_flight;
        if (e.member == nullptr) fail("in flight without a member");
        break;
      case State::kReady: ++ready; break;
      case State::kWaiting: ++waiting; break;
      case State::kRetryWait: break;
    }
    const std::vector<std::uint64_t> keys = KeysOf(e);
    if (e.state == State::kWaiting) {
      if (e.keys_waiting == 0 || e.keys_waiting > keys.size()) fail("waiting without a key to wait for");
      keys_waiting += e.keys_waiting;
      keys_held_by_waiting += keys.size() - e.keys_waiting;
    } else {
      if (e.keys_waiting != 0) fail("through the gate while waiting for a key");
      for (std::uint64_t key : keys) {
        if (++through_gate[key] > 1) fail("two events of one key through the gate");
      }
    }
  });
  if (through_gate.size() + keys_held_by_waiting != gate_.keys()) fail("keys held");
  if (in_flight != in_flight_) fail("in-flight count");
  if (ready != ready_.size() + parked_.size()) fail("ready count");
  if (keys_waiting != gate_.waiting()) fail("waiting count");
  (void)waiting;
  std::unordered_map<const Member*, std::uint64_t> charged;  // bytes in flight, by member
  entries_.ForEach([&](std::uint64_t, const Entry& e) {
    if (e.state == State::kInFlight) charged[e.member] += DeliveryBytes(e);
  });
  for (const auto& [id, m] : members_) {
    if (m->available > m->window) fail("credit above window");
    if ((m->available > 0 && !m->blocked) != m->in_ring) fail("ring membership");
    std::uint64_t bytes = charged[m.get()];
    for (const auto& [ref, taken] : m->taken_back) bytes += taken;
    if (bytes != m->bytes_in_use) fail("bytes charged to a member");
    if (m->blocked && m->bytes_in_use == 0) fail("blocked while holding nothing");
  }
  std::size_t in_ring = 0;
  for (const auto& [id, m] : members_) in_ring += m->in_ring ? 1 : 0;
  if (in_ring != ring_.size()) fail("ring size");
  for (const Member* m : ring_) {
    if (!m->in_ring) fail("ring membership");
  }
  if (!ready_.empty()) {
    const Entry* first = entries_.Find(ready_.front());
    for (const Member* m : ring_) {
      if (first != nullptr && m->Wants(first->topic) && m->Fits(DeliveryBytes(*first))) {
        fail("ready events while a member could take the first");
      }
    }
  }
  for (std::uint64_t offset : parked_) {
    const Entry* e = entries_.Find(offset);
    if (e == nullptr || e->state != State::kReady) fail("parked entry not ready");
  }
}

Status Group::SetSettings(const v1::SetGroupSettings& change) {
  v1::GroupConfig config = settings_.config;
  if (change.ack_timeout_ms() != 0) config.set_ack_timeout_ms(change.ack_timeout_ms());
  if (change.max_deliver() != 0) config.set_max_deliver(change.max_deliver());
  if (change.backoff_initial_ms() != 0) config.set_backoff_initial_ms(change.backoff_initial_ms());
  if (change.backoff_max_ms() != 0) config.set_backoff_max_ms(change.backoff_max_ms());
  Result<GroupSettings> resolved = ResolveSettings(config);
  if (!resolved.ok()) return resolved.status();
  if (resolved->backoff_initial > resolved->backoff_max) {
    return InvalidArgument("the first retry delay is longer than the longest");
  }
  spdlog::info("group {}: settings ack_timeout {} -> {}ms, max_deliver {} -> {}, backoff {} -> {}ms, backoff_max {} -> "
               "{}ms",
               name_, settings_.ack_timeout.count(), resolved->ack_timeout.count(), settings_.max_deliver,
               resolved->max_deliver, settings_.backoff_initial.count(), resolved->backoff_initial.count(),
               settings_.backoff_max.count(), resolved->backoff_max.count());
  settings_.config = resolved->config;
  settings_.ack_timeout = resolved->ack_timeout;
  settings_.max_deliver = resolved->max_deliver;
  settings_.backoff_initial = resolved->backoff_initial;
  settings_.backoff_max = resolved->backoff_max;
  dirty_ = true;
  return Status::Ok();
}

}  // namespace signalbus::groups
