// Group commit: a syncer thread that makes appended records durable in batches and
// reports each new durable offset, so the broker can confirm to publishers without
// ever calling fdatasync on its poll thread.
//
//   poll thread: store.Append(...) x N; committer.Notify();      (cheap: an atomic load)
//   syncer:      store.Sync() -> on_durable(offset)              (wake the poll loop)
//
// Appends that arrive while an fdatasync runs are batched into the next one, so the
// sync rate adapts to the disk: one fdatasync covers everything appended during the
// previous one. Under `always` the next fdatasync also waits until `min_gap` has passed
// since the last one ended: a disk asked for more syncs a second than its IOPS allow
// stalls every writer for milliseconds (docs/performance.md, "A disk's sync budget").
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "signalbus/core/status.h"
#include "signalbus/log/event_store.h"

namespace signalbus::eventlog {

// The default least time between two fdatasyncs under `always`: at most ~3,000 syncs a
// second with a ~100 us sync, the IOPS of a common cloud disk (docs/performance.md).
inline constexpr std::chrono::microseconds kDefaultSyncGap{200};

// When the syncer makes records durable.
struct SyncPolicy {
  enum class Kind {
    // fdatasync as soon as anything is pending. Lowest confirm latency; batches
    // naturally under load.
    kAlways,
    // fdatasync every `interval` if anything is pending. Bounds the fdatasync rate; adds
    // up to `interval` to confirm latency.
    kInterval,
    // No fdatasync: write(2) as soon as anything is pending and report that as durable.
    // Survives a crash of the broker process, NOT of the machine or the OS: a power cut
    // loses confirmed events. For tests and throwaway setups only.
    kNever,
  };
  Kind kind = Kind::kAlways;
  std::chrono::milliseconds interval{0};  // kInterval only; > 0
  // kAlways only: the least time from the end of one fdatasync to the start of the next
  // (appends meanwhile join it). 0: back to back.
  std::chrono::microseconds min_gap = kDefaultSyncGap;
};

// "always", "never", "interval:10ms" (any duration core/duration.h parses, > 0).
Result<SyncPolicy> ParseSyncPolicy(std::string_view text);
std::string FormatSyncPolicy(const SyncPolicy& policy);

class GroupCommitter {
 public:
  // Called on the syncer thread, with strictly increasing offsets: every record up to
  // the offset is durable (per the policy). Must not block for long and must not call
  // back into the committer.
  using DurableCallback = std::function<void(std::uint64_t durable_offset)>;
  // Called once on the syncer thread when Sync (or Flush) fails. The store then
  // refuses every write (see EventStore::Append) and the committer stops syncing: the
  // owner should stop taking events and reopen the store.
  using ErrorCallback = std::function<void(const Status&)>;

  // `store` must outlive the committer. Nothing runs before Start().
  GroupCommitter(EventStore* store, SyncPolicy policy, DurableCallback on_durable, ErrorCallback on_error);
  // Stop().
  ~GroupCommitter();

  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Starts the syncer thread. REQUIRES: not started before.
  void Start();
  // Tells the syncer that records were appended. Call after an append or a batch of
  // appends; costs one atomic load unless the syncer is asleep waiting for work.
  // Thread-safe.
  void Notify();
  // Makes pending records durable one last time (per the policy), reports it, and joins
  // the thread. Idempotent. Not from the callbacks.
  void Stop();

  // The last offset reported to on_durable (0 if none). Thread-safe.
  std::uint64_t durable_offset() const { return reported_.load(std::memory_order_acquire); }
  // Number of Sync (or Flush, for kNever) calls made. Thread-safe.
  std::uint64_t sync_count() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  void Run();
  bool Pending() const;
  // One Sync/Flush and report; false after an error.
  bool CommitOnce();

  EventStore* const store_;
  const SyncPolicy policy_;
  DurableCallback on_durable_;
  ErrorCallback on_error_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<bool> sleeping_{false};
  std::atomic<std::uint64_t> reported_{0};
  std::atomic<std::uint64_t> syncs_{0};
  bool failed_ = false;  // syncer thread only
  std::thread thread_;
};

}  // namespace signalbus::eventlog
