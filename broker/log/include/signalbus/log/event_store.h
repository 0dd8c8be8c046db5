// EventStore: where the broker keeps every accepted event, in order, by offset. Two
// implementations: FileStore (file_store.h, the durable segmented log) and
// MemoryStore (memory_store.h, for unit tests; nothing survives the process).
//
//   ingest --Append--> EventStore --Read(from)--> consumer groups, dedupe at start-up
//                          ^
//                 GroupCommitter (group_commit.h) calls Sync on its own thread and
//                 reports each new durable offset, which the broker confirms.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/status.h"

namespace signalbus::eventlog {

// One stored event.
struct Record {
  std::uint64_t offset = 0;
  std::int64_t timestamp_ms = 0;
  std::string topic;
  std::string event;  // a serialized signalbus.v1.Event
  // The atomic batch it was appended in (AppendBatch with atomic): the offset of that
  // batch's first event and how many it has. 0: not part of one.
  std::uint64_t unit_first = 0;
  std::uint32_t unit_size = 0;

  friend bool operator==(const Record&, const Record&) = default;
};

// One event to append: views that need live only for the call.
struct EventRef {
  std::string_view topic;
  std::string_view event;
};

// Most events in one AppendBatch.
inline constexpr std::size_t kMaxBatchEvents = 0xFFFF;

// What ApplyRetention may delete. Only whole sealed segments are ever deleted, oldest
// first, so a log keeps at least its active segment whatever the limits say.
struct RetentionPolicy {
  // Delete oldest segments while the log's total size is above this. 0: no limit.
  std::uint64_t max_bytes = 0;
  // Delete oldest segments whose newest record is older than this. 0: no limit.
  std::chrono::milliseconds max_age{0};
};

inline constexpr std::uint64_t kDefaultSegmentBytes = 64ull << 20;

// Offsets are dense and start at 1: each Append gets next_offset(), then it grows by
// one. An offset is never handed out twice, across restarts and after retention —
// except that records above durable_offset() can vanish in a crash, and then their
// offsets are handed out again. So a caller that lets anything outside the process
// see an offset (a confirm, a delivery) does so only once it is <= durable_offset().
//
// Thread-safety. One "owner" thread calls Append, Read, OffsetForTime and
// ApplyRetention (never two of these at once). Flush, Sync and the offset accessors
// may be called from any thread, concurrently with the owner (group commit: one
// syncer thread calls Sync while the owner keeps appending).
class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends a record and returns its offset. It is buffered: it reaches the OS at the
  // next Flush or Sync (or when the buffer fills), the disk at the next Sync.
  // InvalidArgument for a topic over 65535 bytes or topic + event over 64 MiB. After an
  // I/O error every later Append, Flush and Sync fails with that error: the store must
  // be reopened (a failed fdatasync cannot be retried safely).
  virtual Result<std::uint64_t> Append(std::string_view topic, std::string_view event,
                                       std::int64_t timestamp_ms) = 0;

  // Appends several events as one record (offsets first, first + 1, ...; returns first):
  // they reach the OS in one write and are durable, or lost to a crash, all together.
  // `atomic`: Read reports them as one unit (Record::unit_first, unit_size).
  // InvalidArgument for no events, more than kMaxBatchEvents, a topic over 65535 bytes
  // or entries over 64 MiB in total; I/O errors as Append.
  virtual Result<std::uint64_t> AppendBatch(const std::vector<EventRef>& events, bool atomic,
                                            std::int64_t timestamp_ms) = 0;

  // Hands every buffered record to the OS (write(2)); it survives a crash of this
  // process, not of the machine.
  virtual Status Flush() = 0;

  // Makes every record appended before the call durable (fdatasync) and returns the
  // durable offset (0 if there is no record).
  virtual Result<std::uint64_t> Sync() = 0;

  // Highest offset known durable (0: none); every lower offset is durable too.
  virtual std::uint64_t durable_offset() const = 0;
  // Highest offset handed to the OS (0: none).
  virtual std::uint64_t flushed_offset() const = 0;
  // Offset of the oldest record still stored; next_offset() when there is none.
  virtual std::uint64_t first_offset() const = 0;
  // Offset the next Append will return.
  virtual std::uint64_t next_offset() const = 0;

  // Records in offset order starting at `from`: at most max_records, and no more than
  // max_bytes of topic + event in total — except that the first record is returned
  // whatever its size, so a reader always makes progress. `from` below first_offset()
  // (deleted by retention, or 0) reads from first_offset(); `from` at or past
  // next_offset() gives an empty vector. Records above durable_offset() are returned
  // too (see the class comment). Offsets may have gaps only where a damaged range was
  // skipped at open (FileStore, skip_corrupt). A record whose checksum fails is never
  // returned: DataLoss naming the segment file, offset and byte position. The events of
  // one AppendBatch are returned together (past max_records and max_bytes if need be)
  // unless `from` falls inside them.
  virtual Result<std::vector<Record>> Read(std::uint64_t from, std::size_t max_records,
                                           std::size_t max_bytes) = 0;

  // Offset of the first record (in offset order) whose timestamp is >= timestamp_ms;
  // next_offset() if there is none.
  virtual Result<std::uint64_t> OffsetForTime(std::int64_t timestamp_ms) = 0;

  // Deletes the oldest sealed segments the retention policy allows (never the active
  // one). `now_ms` is the current time in ms since the epoch, compared with record
  // timestamps.
  virtual Status ApplyRetention(std::int64_t now_ms) = 0;
};

}  // namespace signalbus::eventlog
