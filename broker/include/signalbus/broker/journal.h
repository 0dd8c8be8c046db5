// The journal: the durable step between ingest and delivery. It drops duplicates by
// (publisher_id, sequence) — also across a broker restart, within a window — appends
// new events to the durable log, forwards them to the live fan-out, and, as the group
// committer makes them durable, builds the publish confirms.
//
//   Ingest --accepted--> Journal --append--> FileStore (group commit on its own thread)
//                           |--forward--> LiveFanout
//                           '--durable offset--> confirms (TakeConfirms), groups
//
// Not thread-safe: the poll thread calls everything. The committer's thread only
// stores the durable offset and writes to wake_fd().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "signalbus/broker/event_sink.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/core/status.h"
#include "signalbus/log/event_store.h"
#include "signalbus/log/file_store.h"
#include "signalbus/log/group_commit.h"
#include "signalbus/v1/groups.pb.h"
#include "signalbus/v1/publish.pb.h"

namespace signalbus::broker {

struct JournalOptions {
  std::string data_dir = "var/broker";
  eventlog::SyncPolicy sync{eventlog::SyncPolicy::Kind::kAlways, std::chrono::milliseconds(0)};
  eventlog::RetentionPolicy retention;
  std::uint64_t segment_bytes = eventlog::kDefaultSegmentBytes;
  bool skip_corrupt = false;
  // How far back duplicates are recognised after a restart (by the events' stored time).
  // While running, every publisher seen within this window is remembered.
  std::chrono::milliseconds dedupe_window{std::chrono::minutes(2)};
};

class Journal : public EventSink {
 public:
  // `downstream` (the live fan-out) gets every new event; it must outlive the journal.
  Journal(JournalOptions options, Metrics& metrics, EventSink& downstream);
  ~Journal() override;

  // Opens (recovering) the log, rebuilds the dedupe table from its recent records, and
  // starts the group committer. An error names the log directory and what is wrong.
  Status Open();

  // EventSink: drop a duplicate, else append and forward.
  void Accept(const AcceptedEvent& event) override;
  // A message ingest rejected: if its bytes name a publisher and sequence, that
  // publisher is told in its next confirm.
  void OnRejected(std::string_view event_bytes, std::string_view reason);

  // Readable (for zmq::poll) when the durable offset advanced.
  int wake_fd() const { return wake_fd_; }
  // Clears the wake-up and applies durability: returns the new durable offset if it
  // advanced since the last call.
  std::optional<std::uint64_t> TakeDurable();
  // The confirms owed to publishers, or nullopt when nobody is owed one.
  std::optional<v1::ConfirmBatch> TakeConfirms();
  // Retention and forgetting idle publishers. Call now and then (seconds apart).
  void Maintain();
  // A log write or sync failure: once set, the broker must stop (publishers re-send
  // what was not confirmed to the next broker).
  Status failure() const;

  eventlog::EventStore& store() { return *store_; }
  const eventlog::FileStore::RecoveryReport& recovery() const { return store_->recovery(); }
  std::uint64_t durable_offset() const { return durable_.load(std::memory_order_acquire); }

  // Told the offset and ordering key of every newly logged event (the consumer groups
  // use it to avoid decoding events again). Set before Open().
  void set_on_logged(std::function<void(std::uint64_t offset, std::string_view ordering_key)> f) {
    on_logged_ = std::move(f);
  }

  // Stops the committer after a last sync. Idempotent.
  void Close();

 private:
  struct PublisherState {
    std::string id;
    std::uint64_t logged = 0;     // every sequence up to this one was appended (or recovered, or rejected)
    bool synced = false;          // `logged` is known (else the next event's fields set it)
    std::uint64_t resend_from = 0;  // nonzero: a gap was seen; ask for a re-send from here
    std::uint64_t confirmed = 0;  // highest sequence known durable
    std::vector<std::pair<std::uint64_t, std::string>> rejections;
    bool owed = false;            // a confirm should go out
    std::chrono::steady_clock::time_point last_seen;
  };
  struct AwaitingDurable {
    std::uint64_t offset;
    PublisherState* publisher;
    std::uint64_t sequence;
  };
  Status RebuildDedupe();
  PublisherState& Publisher(std::string_view id);
  void Owe(PublisherState& publisher);

  JournalOptions options_;
  Metrics& metrics_;
  EventSink& downstream_;
  std::unique_ptr<eventlog::FileStore> store_;
  std::unique_ptr<eventlog::GroupCommitter> committer_;
  int wake_fd_ = -1;
  std::atomic<std::uint64_t> durable_{0};
  std::uint64_t applied_durable_ = 0;
  mutable std::mutex failure_mu_;
  Status failure_;
  std::unordered_map<std::string, PublisherState> publishers_;
  PublisherState* last_publisher_ = nullptr;  // the last one Publisher() found; in publishers_
  std::deque<AwaitingDurable> awaiting_;
  std::function<void(std::uint64_t, std::string_view)> on_logged_;
  std::vector<PublisherState*> owed_;  // each at most once (PublisherState::owed)
};

}  // namespace signalbus::broker
