// The journal: the broker's durable log and its group committer. It appends admitted
// events, tells when they are durable (the committer's thread fdatasyncs and wakes the
// poll thread through an eventfd), applies retention, and at start hands the recent
// records' publisher fields to whoever rebuilds the publishers' state.
//
//   Broker --Append--> FileStore (group commit on its own thread) --durable offset--> TakeDurable
//
// Not thread-safe: the poll thread calls everything. The committer's thread only
// stores the durable offset and writes to wake_fd().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "signalbus/broker/metrics.h"
#include "signalbus/core/event_scan.h"
#include "signalbus/core/status.h"
#include "signalbus/log/event_store.h"
#include "signalbus/log/file_store.h"
#include "signalbus/log/group_commit.h"

namespace signalbus::broker {

struct JournalOptions {
  std::string data_dir = "var/broker";
  eventlog::SyncPolicy sync{eventlog::SyncPolicy::Kind::kAlways, std::chrono::milliseconds(0)};
  eventlog::RetentionPolicy retention;
  std::uint64_t segment_bytes = eventlog::kDefaultSegmentBytes;
  bool skip_corrupt = false;
  // How far back the records are read at start to rebuild the publishers' state (by the
  // events' stored time), so that re-sends after a restart are recognised.
  std::chrono::milliseconds dedupe_window{std::chrono::minutes(2)};
};

class Journal {
 public:
  Journal(JournalOptions options, Metrics& metrics);
  ~Journal();

  // Opens (recovering) the log, hands `recover` the publisher fields of every record
  // stored within the dedupe window, in log order, and starts the group committer. An
  // error names the log directory and what is wrong.
  Status Open(const std::function<void(const PublisherFields&)>& recover);

  // Appends one event. An error also lands in failure(): the broker must stop then
  // (nothing appended after it is confirmed; publishers re-send to the next broker).
  Result<std::uint64_t> Append(std::string_view topic, std::string_view event);
  // Several events as one record (see EventStore::AppendBatch); the first one's offset.
  Result<std::uint64_t> AppendBatch(const std::vector<eventlog::EventRef>& events, bool atomic);

  // Readable (for zmq::poll) when the durable offset advanced.
  int wake_fd() const { return wake_fd_; }
  // Clears the wake-up and returns the new durable offset if it advanced since the last
  // call.
  std::optional<std::uint64_t> TakeDurable();
  // Retention. Call now and then (seconds apart).
  void Maintain();
  // A log write or sync failure: once set, the broker must stop.
  Status failure() const;

  eventlog::EventStore& store() { return *store_; }
  const eventlog::FileStore::RecoveryReport& recovery() const { return store_->recovery(); }
  std::uint64_t durable_offset() const { return durable_.load(std::memory_order_acquire); }

  // Stops the committer after a last sync. Idempotent.
  void Close();

 private:
  // Counts and wakes the committer for `events` appended at *offset, or records the failure.
  Result<std::uint64_t> Appended(Result<std::uint64_t> offset, std::size_t events);
  Status Recover(const std::function<void(const PublisherFields&)>& recover);

  JournalOptions options_;
  Metrics& metrics_;
  std::unique_ptr<eventlog::FileStore> store_;
  std::unique_ptr<eventlog::GroupCommitter> committer_;
  int wake_fd_ = -1;
  std::atomic<std::uint64_t> durable_{0};
  std::uint64_t applied_durable_ = 0;
  mutable std::mutex failure_mu_;
  Status failure_;
};

}  // namespace signalbus::broker
