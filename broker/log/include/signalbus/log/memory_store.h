// MemoryStore: the EventStore for unit tests. Records live in memory and are lost
// with the process; Sync only moves the durable offset. It groups records into
// segments with the same size rule as FileStore (kHeaderSize + topic + event bytes
// per record), so retention deletes exactly what FileStore would.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "signalbus/log/event_store.h"

namespace signalbus::eventlog {

class MemoryStore final : public EventStore {
 public:
  struct Options {
    std::uint64_t segment_bytes = kDefaultSegmentBytes;
    RetentionPolicy retention;
  };

  MemoryStore() : MemoryStore(Options{}) {}
  explicit MemoryStore(Options options);

  // Thread-safety: every method is safe from any thread (one mutex).
  Result<std::uint64_t> Append(std::string_view topic, std::string_view event,
                               std::int64_t timestamp_ms) override;
  Result<std::uint64_t> AppendBatch(const std::vector<EventRef>& events, bool atomic,
                                    std::int64_t timestamp_ms) override;
  Status Flush() override;
  Result<std::uint64_t> Sync() override;
  std::uint64_t durable_offset() const override;
  std::uint64_t flushed_offset() const override;
  std::uint64_t first_offset() const override;
  std::uint64_t next_offset() const override;
  Result<std::vector<Record>> Read(std::uint64_t from, std::size_t max_records,
                                   std::size_t max_bytes) override;
  Result<std::uint64_t> OffsetForTime(std::int64_t timestamp_ms) override;
  Status ApplyRetention(std::int64_t now_ms) override;

 private:
  struct Segment {
    std::uint64_t base_offset = 0;
    std::uint64_t bytes = 0;
    std::int64_t max_timestamp = INT64_MIN;
    std::vector<Record> records;
  };

  const Options options_;
  mutable std::mutex mu_;
  std::deque<Segment> segments_;  // never empty; back() is the active one
  std::uint64_t next_offset_ = 1;
  std::uint64_t flushed_ = 0;
  std::uint64_t durable_ = 0;
};

}  // namespace signalbus::eventlog
