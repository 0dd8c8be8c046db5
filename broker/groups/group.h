// Group: one consumer group's delivery state machine — its members and their credits,
// its cursor in the log, the events between its ack floor and its cursor (waiting for a
// key, ready, in flight, awaiting a retry), its timers and its dead-letter queue.
//
//   log --Read--> lookahead --Admit--> KeyGate --> ready --Deliver--> member batch
//                                        ^                               |
//                    Release on ack/DLQ  '--- in flight <---------------'
//                                              | nack: retry heap, timeout: FIFO
//
// Per-event work is O(1) amortised (flat hash maps, FIFO queues) except retries (a
// heap), with no allocation of its own beyond the record the log hands over.
// Not thread-safe: the Coordinator calls it from one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ack_tracker.h"
#include "dead_letter_store.h"
#include "flat_map.h"
#include "group_config.h"
#include "key_cache.h"
#include "key_gate.h"
#include "signalbus/core/logging.h"
#include "signalbus/groups/coordinator.h"
#include "signalbus/log/event_store.h"
#include "state_file.h"

namespace signalbus::groups {

using MemberId = std::uint64_t;

// Most credits a member may hold: bounds the deliveries kept per member (its byte
// window bounds their bytes).
inline constexpr std::uint64_t kMaxCredits = 1 << 20;

// What every group shares, owned by the Coordinator.
struct GroupEnv {
  eventlog::EventStore* store = nullptr;
  const CoordinatorOptions* options = nullptr;
  KeyCache* keys = nullptr;
  CoordinatorCounters* counters = nullptr;
  const Coordinator::SendFn* send = nullptr;
  std::function<std::chrono::system_clock::time_point()> wall_clock;
};

class Group {
 public:
  // A group whose floor is `state.ack_floor` (a new group: start position - 1).
  // `dead_letters` must be loaded already.
  Group(GroupSettings settings, const GroupStateData& state, std::unique_ptr<DeadLetterStore> dead_letters,
        GroupEnv env);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  const std::string& name() const { return name_; }
  const GroupSettings& settings() const { return settings_; }
  // The lowest offset this group may still read from the log and admit (it may go back
  // on a seek): keys of offsets below it are not needed.
  std::uint64_t next_unread() const {
    return lookahead_pos_ < lookahead_.size() ? lookahead_[lookahead_pos_].offset : cursor_;
  }

  // ---- Members. Unknown ids are ignored.
  // `window_bytes`: the member's byte window, already resolved against the options.
  // `subscriptions`: the member's own (resolved from its Join); it is given only events
  // they match. The group's subscriptions become the union of its members' (see
  // docs/consumer-groups.md, "Changing subscriptions"). REQUIRES: the union stays within
  // the coordinator's limit (it checks before).
  void AddMember(MemberId id, std::string peer, std::string member_name, std::uint32_t credits,
                 std::uint64_t window_bytes, const GroupSettings& subscriptions);
  // The subscriptions in force if `subscriptions` joined, and how many: the coordinator's
  // limit check.
  std::size_t UnionSizeWith(const std::vector<std::string>& subscriptions) const;
  // Its in-flight deliveries go back to the group at once. `expired`: the member stopped
  // heartbeating, so each counts as a failed attempt (dead-lettered at max_deliver, with
  // "member expired"); a Leave does not count.
  void RemoveMember(MemberId id, bool expired, TimePoint now);
  void AddCredit(MemberId id, std::uint32_t credits);
  // Counts only if `ref` names the current attempt of a delivery in flight to this
  // member; otherwise it is a stale ack. Either way the member gets a credit back, and
  // the bytes of that delivery if it was taken back from the member.
  void Ack(MemberId id, std::uint64_t offset, std::uint32_t attempt);
  // Ack of (first, attempt) .. (first + count - 1, attempt), walking only the offsets
  // that can be pending: a range's cost is bounded by the group's, not by `count`.
  void AckRange(MemberId id, std::uint64_t first, std::uint32_t count, std::uint32_t attempt);
  void Nack(MemberId id, const v1::DeliveryRef& ref, std::string_view error, TimePoint now);
  std::size_t member_count() const { return members_.size(); }
  // A member's own subscriptions; nullptr for no such member.
  const std::vector<std::string>* MemberSubscriptions(MemberId id) const;

  // ---- Flow. Every call sends what it delivered before returning.
  // Hands ready events to members with credit and reads more of the log, up to
  // `durable` and at most options.max_scan records.
  void Pump(TimePoint now, std::uint64_t durable);
  // Ack timeouts and due retries, then Pump.
  void Tick(TimePoint now, std::uint64_t durable);
  // The earliest time Tick has work; `now` itself when the group could read more of the
  // log right away (it stopped at max_scan).
  TimePoint NextDeadline(TimePoint now, std::uint64_t durable) const;

  // ---- Admin.
  v1::GroupInfo Info(std::uint64_t durable) const;
  // Letters above `after`, at most `limit` and about `max_bytes` (at least one);
  // reply->more when some were left for the next page.
  void ListDeadLetters(std::uint64_t after, std::size_t limit, std::size_t max_bytes, v1::AdminReply* reply) const;
  // Dead letters (all when `offsets` is empty) become fresh deliveries (attempt 1).
  // Returns how many.
  std::uint64_t Replay(const std::vector<std::uint64_t>& offsets);
  std::uint64_t Purge(const std::vector<std::uint64_t>& offsets);
  // Abandons everything pending (acks for it become stale) and restarts at `position`:
  // the floor becomes position - 1. Returns how many pending events were abandoned.
  std::uint64_t Seek(std::uint64_t position);

  // ---- Persistence. The Coordinator's StateWriter writes the state file.
  // A new group: it delivers nothing (reads nothing) until its first state file is
  // reported on disk by OnStateFileWritten, so a broker restart finds every group that
  // delivered anything. Groups loaded from their files, or kept in memory only, are on
  // disk from the start.
  void AwaitFirstStateFile() {
    on_disk_ = false;
    dirty_ = true;
  }
  bool on_disk() const { return on_disk_; }
  // Something is not on disk yet: a change since the last snapshot taken, dead letters
  // not synced, or a snapshot whose write has not been reported done.
  bool dirty() const { return needs_snapshot() || written_version_ < snapshot_version_; }
  // Something changed that no snapshot taken covers yet (the next TakeStateFile has
  // work); a snapshot handed to the writer and not reported back is not this.
  bool needs_snapshot() const { return dirty_ || dead_letters_->dirty(); }
  GroupStateData Snapshot() const;
  struct StateFileContents {
    std::uint64_t version = 0;  // 1, 2, ... per group object
    std::string bytes;          // the whole state file
  };
  // Puts pending dead letters on disk (fdatasync) and then, if the state changed since
  // the last snapshot taken, takes and encodes one: a state file never marks an offset
  // dead-lettered unless its letter is on disk. nullopt: nothing new to write.
  Result<std::optional<StateFileContents>> TakeStateFile();
  // What became of writing snapshot `version`. A failed write of the newest snapshot
  // makes the state dirty again (the next TakeStateFile takes a new one) and is
  // returned; a failed older one is covered by the newer snapshot already handed out.
  Status OnStateFileWritten(std::uint64_t version, const Status& status);

  // For tests: checks internal invariants, aborting on a broken one.
  void CheckInvariants() const;

 private:
  // A member's deliveries are charged to it, in credits and in bytes, from delivery
  // until it answers them (or goes away): also those taken back by an ack timeout or a
  // seek, which may still sit in its queue. It takes the next event if it has a credit
  // and the event fits its byte window, or it holds no bytes at all.
  struct Member {
    MemberId id = 0;
    std::string peer;
    std::string name;
    std::uint64_t window = 0;     // credits granted
    std::uint64_t available = 0;  // credits not in use; never above window
    std::uint64_t window_bytes = 0;
    std::uint64_t bytes_in_use = 0;
    // The next event did not fit its byte window: out of the ring until bytes come back.
    bool blocked = false;
    bool in_ring = false;  // == available > 0 && !blocked
    bool in_flush = false;
    // Bytes of deliveries taken back while in flight to it, by (offset, attempt): an
    // answer naming one gives them back. At most `window` entries.
    std::map<std::pair<std::uint64_t, std::uint32_t>, std::uint64_t> taken_back;
    v1::GroupReply batch;  // deliveries not yet sent; its objects are reused
    std::size_t batch_bytes = 0;
    // Its own subscriptions; `all`: they are the group's, so nothing is matched per event.
    std::vector<std::string> subscriptions;
    PatternSet patterns;
    bool all = true;
    bool Wants(std::string_view topic) const { return all || patterns.Matches(topic); }
    bool Fits(std::uint64_t bytes) const { return bytes_in_use == 0 || bytes_in_use + bytes <= window_bytes; }
  };

  enum class State : std::uint8_t { kWaiting, kReady, kInFlight, kRetryWait };

  // Another event of an atomic batch delivered as one unit with the entry's own (its
  // first offset's): the unit is delivered, answered, retried and dead-lettered whole.
  struct UnitPart {
    std::uint64_t offset = 0;
    std::uint64_t key = 0;
    std::string topic;
    std::string event;
  };

  // Attempts counted toward max_deliver are attempt - base.
  struct Entry {
    State state = State::kReady;
    bool replay = false;           // a replayed dead letter: finishing it removes the letter
    std::uint32_t attempt = 0;     // the attempt number last sent (0: never delivered)
    std::uint32_t base = 0;        // attempt numbers used before a seek; see Seek()
    std::uint64_t serial = 0;      // names the current in-flight or retry-wait period
    Member* member = nullptr;      // kInFlight: who has it
    std::uint64_t key = 0;         // KeyHash of the ordering key; 0: none
    std::uint32_t keys_waiting = 0;  // kWaiting: keys not yet held (a unit needs all of its own)
    std::string topic;
    std::string event;
    std::vector<UnitPart> parts;   // the rest of its unit, by offset; empty: it stands alone
  };
  // By offset. Entry pointers do not survive an insert or erase (FlatMap).
  using Entries = FlatMap<Entry>;

  struct Timer {
    TimePoint at;
    std::uint64_t offset = 0;
    std::uint64_t serial = 0;
  };
  struct Later {
    bool operator()(const Timer& a, const Timer& b) const { return a.at > b.at; }
  };

  // What a delivery costs its member's byte window.
  static std::uint64_t DeliveryBytes(const Entry& e) {
    std::uint64_t bytes = e.topic.size() + e.event.size();
    for (const UnitPart& p : e.parts) bytes += p.topic.size() + p.event.size();
    return bytes;
  }
  // The distinct non-zero keys an entry needs through the gate.
  static std::vector<std::uint64_t> KeysOf(const Entry& e);
  Member* FindMember(MemberId id);
  // The member answered a delivery: a credit back (never above its window) and
  // `bytes` released.
  void Settled(Member& m, std::uint64_t bytes);
  // Charges the answer to `ref` if it names a delivery taken back from `m`; its bytes.
  std::uint64_t TakenBackBytes(Member& m, std::uint64_t offset, std::uint32_t attempt);
  void KeepCharged(Member& m, std::uint64_t offset, const Entry& e);
  void RingUpdate(Member& m);
  // The member that gets an event of `bytes` next (round-robin), or nullptr: members
  // it does not fit are blocked on the way.
  // A member with credit that subscribes to `e` and whose window `bytes` fits.
  Member* TakerFor(std::uint64_t bytes, const Entry& e);
  bool HasTaker() const { return !ring_.empty(); }
  // Whether `m` subscribes to every event of `e` (an atomic unit goes whole, and only to
  // a member that may read each of its events).
  static bool Wants(const Member& m, const Entry& e);
  // Whether a connected member subscribes to `e`.
  bool AnyMemberWants(const Entry& e) const;
  // Makes the group's subscriptions the union of its members' (none: they stay); events
  // parked for want of a member go back to the ready queue when one joins.
  void UpdateSubscriptions();

 public:
  // SetGroupSettings: the nonzero fields replace the settings in force (from the next
  // delivery, retry or deadline on). InvalidArgument for a value ResolveSettings refuses.
  Status SetSettings(const v1::SetGroupSettings& change);

 private:

  bool Refill(std::uint64_t durable, std::size_t* budget);
  void Admit(eventlog::Record& record);
  // The `count` records of one atomic batch at `records` (as read: all there unless the
  // group started inside it): one entry for those the group subscribes to.
  void AdmitUnit(eventlog::Record* records, std::size_t count);
  // Takes the entry's keys (queueing it behind their holders) and makes it ready when
  // it holds them all. `first`: it jumps the keys' queues (a replay).
  void PassGate(std::uint64_t offset, Entry& e, bool first);
  // An offset delivered before a Seek numbers its attempts on from the abandoned ones.
  void ContinueAttempts(std::uint64_t offset, Entry& e);
  // KeyHash of the record's ordering key, from the KeyCache or by scanning the event.
  Result<std::uint64_t> KeyOf(const eventlog::Record& record);
  void MakeReady(std::uint64_t offset, Entry& e, bool front);
  void Dispatch();
  void Deliver(std::uint64_t offset, Entry& e, Member& m);
  void SendBatch(Member& m);
  void Flush();

  bool IsCurrent(const Timer& t, State state) const;
  // REQUIRES: e is in flight.
  void TakeBack(std::uint64_t offset, Entry& e, bool counts_as_attempt, std::string_view reason);
  void DeadLetter(std::uint64_t offset, Entry& e, std::string error);
  void DeadLetterRecord(const eventlog::Record& record, std::string error);
  // The event is done (acked or dead-lettered): mark it, drop its entry, free its key.
  void Finish(std::uint64_t offset, Entry& e, bool acked);
  void CompactAckDeadlines();
  bool HasScanWork(std::uint64_t durable) const;
  void Abandon();

  const std::string name_;
  GroupSettings settings_;  // subscriptions follow the members (UpdateSubscriptions)
  GroupEnv env_;
  std::unique_ptr<DeadLetterStore> dead_letters_;

  AckTracker tracker_;
  KeyGate gate_;
  Entries entries_;
  std::deque<std::uint64_t> ready_;
  // Ready events no connected member subscribes to (its last such member left): they
  // wait here, holding their keys, for one that does. Ascending offsets.
  std::vector<std::uint64_t> parked_;
  // The union of subscriptions lost a pattern since the group was made: no member's are
  // taken for the group's without matching (Member::all).
  bool narrowed_ = false;
  std::size_t in_flight_ = 0;
  std::uint64_t next_serial_ = 0;

  // Ack deadlines in delivery order: every group has one ack timeout and time only moves
  // forward, so the order is the deadline order. Acked entries are left behind (stale)
  // and skipped; the queue is compacted when they dominate it.
  std::deque<Timer> ack_deadlines_;
  std::priority_queue<Timer, std::vector<Timer>, Later> retries_;

  // Attempt numbers of deliveries a Seek abandoned, by offset: when such an offset is
  // delivered again its attempts continue above them, so acks for the abandoned
  // deliveries stay stale. Bounded by what was in flight at the seek.
  std::unordered_map<std::uint64_t, std::uint32_t> abandoned_attempts_;

  std::uint64_t cursor_ = 1;  // next offset to read from the log
  std::vector<eventlog::Record> lookahead_;  // read, not yet admitted: [lookahead_pos_, end)
  std::size_t lookahead_pos_ = 0;
  TimePoint read_retry_at_{};  // after a failed or empty read
  std::string read_error_;     // the last read's failure, until a read succeeds or a seek

  std::unordered_map<MemberId, std::unique_ptr<Member>> members_;
  std::deque<Member*> ring_;          // members that can take an event, round-robin
  std::vector<Member*> flush_;        // members with unsent deliveries

  TimePoint now_{};
  RateLimiter dead_letter_log_{10, 20};  // a poison flood must not flood the log
  bool on_disk_ = true;
  bool dirty_ = false;  // changed since the last snapshot taken
  std::uint64_t snapshot_version_ = 0;  // of the last snapshot taken
  std::uint64_t written_version_ = 0;   // of the newest snapshot known to be on disk
  std::uint64_t acked_total_ = 0;
  std::uint64_t redelivered_total_ = 0;
};

}  // namespace signalbus::groups
