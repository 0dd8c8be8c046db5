// The consumer-group engine: which member of which group gets which logged event, acks,
// redelivery, backoff, the dead-letter queue, per-key ordering, credits, and the state
// that survives a broker restart. A state machine: no sockets, no clock of its own. The
// broker's poll thread feeds it requests, new durable offsets and the time, and sends
// what it returns through `send`. Its one thread of its own (when state_dir is set)
// writes and fsyncs the groups' state files, from snapshots taken on the calling thread.
//
// Thread-compatible: every call from one thread (the broker's poll thread).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/log/event_store.h"
#include "signalbus/log/file_io.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::groups {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

struct CoordinatorOptions {
  // Where group positions and dead-letter queues are kept ("<data-dir>/groups"); created
  // by Open() if missing. Empty: nothing is persisted (tests, benchmarks).
  std::string state_dir;
  // Most deliveries in one DeliveryBatch message, and most bytes of events and topics
  // in one (a single larger event goes alone).
  std::size_t max_batch = 256;
  std::size_t max_batch_bytes = 256 << 10;
  // Most records read from the log per group per call, so one lagging group cannot
  // stall the poll thread.
  std::size_t max_scan = 4096;
  // Most events held back per group because their key has one in flight.
  std::size_t max_held = 100'000;

  // ---- What one peer may make the broker keep (each refusal is counted by reason).
  // Groups in total: a Join that would create one more is refused.
  std::size_t max_groups = 10'000;
  // Members of one group at once.
  std::size_t max_members = 1'000;
  // Members one principal (HandleRequest's `principal`) may have in all groups together
  // (0: no bound of its own), so that one service cannot fill the others' groups.
  std::size_t max_members_per_principal = 0;
  // Subscription patterns of one group (each at most 255 bytes).
  std::size_t max_subscriptions = 1'000;
  // A member's byte window: the bytes of events and topics it may hold unacknowledged
  // at once, besides its credits (a count). Join.window_bytes asks for one; 0 gets
  // default_window_bytes; neither exceeds max_window_bytes. A member holding nothing
  // always gets the next event, however large.
  std::uint64_t default_window_bytes = 8 << 20;
  std::uint64_t max_window_bytes = 64 << 20;
  // Most bytes in one admin reply (a page of ListGroups or ListDeadLetters; a single
  // larger item goes alone), so that replies a client never reads stay small.
  std::size_t max_admin_reply_bytes = 64 << 10;
  // How often changed group state is handed to the state-file writer (which replaces
  // each file atomically), and failed writes retried.
  std::chrono::milliseconds persist_interval{100};
  // Ordering keys remembered by NoteKey(), by offset: a group that reads one of these
  // offsets does not decode the event to learn its key. Only offsets no group has read
  // yet are kept, at most this many (8 bytes each: 32 MiB for a group lagging by 4M
  // events). 0: no cache.
  std::size_t key_cache_size = 1 << 22;
  // File system for state files (nullptr: the real one). Not owned; must outlive the
  // Coordinator. Tests inject failures through it.
  eventlog::FileIo* file_io = nullptr;
  // Wall-clock time stamped on dead letters (nullptr: system_clock::now). Everything else
  // runs on the TimePoints the caller passes in.
  std::function<std::chrono::system_clock::time_point()> wall_clock;
};

// Why a request was refused (signalbus_group_refused_total{reason=...}).
enum class Refusal : std::uint8_t {
  kMalformed,      // not one GroupRequest frame, or no known kind
  kGroupName,      // the group name breaks the grammar
  kMemberName,     // member_name too long
  kHeartbeat,      // heartbeat_ms outside the bounds
  kConfig,         // no or bad subscriptions
  kSubscriptions,  // more subscriptions than max_subscriptions
  kGroups,         // max_groups reached
  kMembers,        // max_members reached
  kPosition,       // a start or seek offset past the head of the log
};
inline constexpr std::size_t kRefusalCount = 9;
// "malformed", "group_name", ...: the metric's label.
const char* RefusalName(Refusal reason);

// Totals across groups, for /metrics.
struct CoordinatorCounters {
  std::uint64_t delivered = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t acked = 0;
  std::uint64_t nacked = 0;
  std::uint64_t stale_acks = 0;      // acks/nacks naming an attempt that is no longer current
  std::uint64_t dead_lettered = 0;
  std::uint64_t members_expired = 0; // members dropped after missed heartbeats
  std::uint64_t bad_requests = 0;    // refused, all reasons
  std::array<std::uint64_t, kRefusalCount> refused{};  // by Refusal
};

class Coordinator {
 public:
  // `peer` is the ROUTER routing id of the DEALER to send to.
  using SendFn = std::function<void(std::string_view peer, const v1::GroupReply& reply)>;

  // REQUIRES: store outlives the Coordinator; it is read only up to the durable offset
  // (the store's at construction, then the highest given to OnDurable).
  Coordinator(eventlog::EventStore* store, CoordinatorOptions options, SendFn send);
  ~Coordinator();

  // Loads every group's persisted position and dead-letter queue. A damaged state file is
  // an error naming it (never silently reset). Call once, before anything else.
  Status Open();

  // A request from a peer: members (join, credit, ack, nack, heartbeat, leave) and
  // signalbus-admin (list, dead letters, replay, purge, seek). Bad requests get a
  // GroupError reply and are counted; they never throw. `caller`: who the peer
  // authenticated as, kept with a member it joins (max_members_per_principal, Expel).
  struct Caller {
    std::string_view principal;  // "": no one (counts for no principal)
    std::string_view key;        // its CURVE key (Z85), or ""
  };
  void HandleRequest(std::string_view peer, const v1::GroupRequest& request, TimePoint now, Caller caller = {});

  // Every member: its peer, group, own subscriptions, and who joined it.
  struct MemberView {
    std::string_view peer;
    const std::string& group;
    const std::vector<std::string>& subscriptions;
    std::string_view principal;
    std::string_view key;
  };
  void ForEachMember(const std::function<void(const MemberView&)>& fn) const;
  // Removes the member of `peer` as a Leave would (what it holds goes to the others) and
  // tells it `why` in a fatal GroupError. Nothing when `peer` is no member.
  void Expel(std::string_view peer, const std::string& why, TimePoint now);

  // Everything up to `durable_offset` may now be delivered.
  void OnDurable(std::uint64_t durable_offset, TimePoint now);

  // Optional: the ordering key of the event stored at `offset`, which the broker learnt
  // when it validated the event at ingest; call it before the OnDurable that covers
  // `offset`. Saves every group a decode of the event (a decode costs ~3x the rest of
  // a delivery); a group that reads an offset not noted, or more than key_cache_size
  // offsets behind the newest noted one, decodes it instead.
  void NoteKey(std::uint64_t offset, std::string_view ordering_key);

  // Timers: ack timeouts, retries after backoff, member expiry, persistence. Call at or
  // after NextDeadline(), and after any other call (cheap when nothing is due).
  void Tick(TimePoint now);
  // The earliest time Tick() has work; TimePoint::max() when none. At or before the
  // latest `now` given when a group stopped at max_scan and can read more right away.
  TimePoint NextDeadline() const;

  // Readable when the state-file writer has outcomes for Tick() to take in (a new
  // group's first file on disk lets it deliver): poll it with the sockets. -1 without
  // state_dir.
  int wake_fd() const;

  // Writes all changed state now and returns once it is on disk, or the first error
  // (also called on shutdown). Between calls, Tick hands changed state to the
  // background writer at most every persist_interval; a write that failed is reported
  // back, logged by Tick and retried, and its group stays dirty until one succeeds.
  Status Persist();
  // Blocks until every state file handed to the background writer is written or has
  // failed, and takes in the outcomes (as the next Tick would). For tests.
  void WaitForStateWrites();

  std::vector<v1::GroupInfo> ListGroups() const;
  CoordinatorCounters counters() const;

  // For tests: aborts with a log line if an internal invariant is broken. O(pending).
  void CheckInvariants() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signalbus::groups
