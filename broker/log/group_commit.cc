// The group-commit syncer thread.
//
// Sleeping without missing a wake-up: the syncer publishes sleeping_ = true and then
// checks for pending records; Append publishes next_offset and then Notify checks
// sleeping_. Both sides are seq_cst, so at least one of them sees the other's write:
// either the syncer sees the new record and does not sleep, or Notify sees it asleep
// and wakes it (under mu_, so the notify cannot slip in before the wait).
#include "signalbus/log/group_commit.h"

#include "signalbus/core/duration.h"
#include "signalbus/core/logging.h"

namespace signalbus::eventlog {

Result<SyncPolicy> ParseSyncPolicy(std::string_view text) {
  if (text == "always") return SyncPolicy{SyncPolicy::Kind::kAlways, std::chrono::milliseconds(0), kDefaultSyncGap};
  if (text == "never") return SyncPolicy{SyncPolicy::Kind::kNever, std::chrono::milliseconds(0), {}};
  constexpr std::string_view kInterval = "interval:";
  if (text.substr(0, kInterval.size()) == kInterval) {
    Result<std::chrono::milliseconds> d = ParseDuration(text.substr(kInterval.size()));
    if (d.ok() && d->count() > 0) return SyncPolicy{SyncPolicy::Kind::kInterval, *d, {}};
  }
  return InvalidArgument("sync policy '" + Printable(text) + "' is not always, never or interval:<duration> (e.g. interval:10ms)");
}

std::string FormatSyncPolicy(const SyncPolicy& policy) {
  switch (policy.kind) {
    case SyncPolicy::Kind::kAlways: return "always";
    case SyncPolicy::Kind::kNever: return "never";
    case SyncPolicy::Kind::kInterval: return "interval:" + FormatDuration(policy.interval);
  }
  return "?";
}

GroupCommitter::GroupCommitter(EventStore* store, SyncPolicy policy, DurableCallback on_durable,
                               ErrorCallback on_error)
    : store_(store), policy_(policy), on_durable_(std::move(on_durable)), on_error_(std::move(on_error)) {}

GroupCommitter::~GroupCommitter() { Stop(); }

void GroupCommitter::Start() { thread_ = std::thread([this] { Run(); }); }

void GroupCommitter::Notify() {
  if (sleeping_.load(std::memory_order_seq_cst)) {
    std::lock_guard lock(mu_);
    cv_.notify_one();
  }
}

void GroupCommitter::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool GroupCommitter::Pending() const {
  return store_->next_offset() - 1 > reported_.load(std::memory_order_relaxed);
}

bool GroupCommitter::CommitOnce() {
  std::uint64_t offset = 0;
  Status status;
  if (policy_.kind == SyncPolicy::Kind::kNever) {
    status = store_->Flush();
    offset = store_->flushed_offset();
  } else {
    Result<std::uint64_t> synced = store_->Sync();
    status = synced.status();
    if (synced.ok()) offset = *synced;
  }
  syncs_.fetch_add(1, std::memory_order_relaxed);
  if (!status.ok()) {
    failed_ = true;
    if (on_error_) on_error_(status);
    return false;
  }
  if (offset > reported_.load(std::memory_order_relaxed)) {
    reported_.store(offset, std::memory_order_release);
    if (on_durable_) on_durable_(offset);
  }
  return true;
}

void GroupCommitter::Run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next_tick = Clock::now() + policy_.interval;
  Clock::time_point last_sync_end = Clock::time_point::min();
  while (true) {
    std::unique_lock lock(mu_);
    if (policy_.kind == SyncPolicy::Kind::kInterval) {
      cv_.wait_until(lock, next_tick, [&] { return stop_; });
      if (stop_) break;
      lock.unlock();
      // Ticks missed while an fdatasync ran are not caught up in a burst.
      next_tick = std::max(next_tick + policy_.interval, Clock::now());
      if (!failed_ && Pending()) CommitOnce();
    } else {
      sleeping_.store(true, std::memory_order_seq_cst);
      cv_.wait(lock, [&] { return stop_ || (!failed_ && Pending()); });
      sleeping_.store(false, std::memory_order_relaxed);
      if (stop_) break;
      // Not before the gap is over: what is appended meanwhile joins this sync.
      if (policy_.kind == SyncPolicy::Kind::kAlways && policy_.min_gap.count() > 0 &&
          last_sync_end != Clock::time_point::min() &&
          cv_.wait_until(lock, last_sync_end + policy_.min_gap, [&] { return stop_; })) {
        break;
      }
      lock.unlock();
      CommitOnce();
      last_sync_end = Clock::now();
    }
  }
  if (!failed_ && Pending()) CommitOnce();
}

}  // namespace signalbus::eventlog
