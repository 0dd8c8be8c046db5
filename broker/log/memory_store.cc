// MemoryStore: segments of records in a deque, one mutex around everything.
#include "signalbus/log/memory_store.h"

#include <algorithm>

#include "log_record.h"
#include "signalbus/log/log_format.h"

namespace signalbus::eventlog {

MemoryStore::MemoryStore(Options options) : options_(options) {
  segments_.push_back(Segment{.base_offset = log_format::kFirstOffset});
}

Result<std::uint64_t> MemoryStore::Append(std::string_view topic, std::string_view event,
                                          std::int64_t timestamp_ms) {
  if (topic.size() > log_format::kMaxTopicBytes) return InvalidArgument("topic is over 65535 bytes");
  if (topic.size() + event.size() > log_format::kMaxPayloadBytes) {
    return InvalidArgument("record is over 64 MiB");
  }
  const std::uint64_t size = log_format::kHeaderSize + topic.size() + event.size();
  std::lock_guard lock(mu_);
  if (segments_.back().bytes > 0 && segments_.back().bytes + size > options_.segment_bytes) {
    segments_.push_back(Segment{.base_offset = next_offset_});
  }
  Segment& active = segments_.back();
  active.records.push_back(Record{next_offset_, timestamp_ms, std::string(topic), std::string(event)});
  active.bytes += size;
  active.max_timestamp = std::max(active.max_timestamp, timestamp_ms);
  return next_offset_++;
}

Result<std::uint64_t> MemoryStore::AppendBatch(const std::vector<EventRef>& events, bool atomic,
                                               std::int64_t timestamp_ms) {
  if (Status s = CheckBatch(events); !s.ok()) return s;
  const std::uint64_t size = log_format::kHeaderSize + BatchPayloadSize(events);
  std::lock_guard lock(mu_);
  if (segments_.back().bytes > 0 && segments_.back().bytes + size > options_.segment_bytes) {
    segments_.push_back(Segment{.base_offset = next_offset_});
  }
  Segment& active = segments_.back();
  const std::uint64_t first = next_offset_;
  for (const EventRef& e : events) {
    Record r{next_offset_++, timestamp_ms, std::string(e.topic), std::string(e.event)};
    if (atomic) {
      r.unit_first = first;
      r.unit_size = static_cast<std::uint32_t>(events.size());
    }
    active.records.push_back(std::move(r));
  }
  active.bytes += size;
  active.max_timestamp = std::max(active.max_timestamp, timestamp_ms);
  return first;
}

Status MemoryStore::Flush() {
  std::lock_guard lock(mu_);
  flushed_ = next_offset_ - 1;
  return Status::Ok();
}

Result<std::uint64_t> MemoryStore::Sync() {
  std::lock_guard lock(mu_);
  flushed_ = durable_ = next_offset_ - 1;
  return durable_;
}

std::uint64_t MemoryStore::durable_offset() const {
  std::lock_guard lock(mu_);
  return durable_;
}

std::uint64_t MemoryStore::flushed_offset() const {
  std::lock_guard lock(mu_);
  return flushed_;
}

std::uint64_t MemoryStore::first_offset() const {
  std::lock_guard lock(mu_);
  for (const Segment& s : segments_) {
    if (!s.records.empty()) return s.records.front().offset;
  }
  return next_offset_;
}

std::uint64_t MemoryStore::next_offset() const {
  std::lock_guard lock(mu_);
  return next_offset_;
}

Result<std::vector<Record>> MemoryStore::Read(std::uint64_t from, std::size_t max_records,
                                              std::size_t max_bytes) {
  std::lock_guard lock(mu_);
  std::vector<Record> out;
  std::size_t bytes = 0;
  for (const Segment& s : segments_) {
    if (s.records.empty() || s.records.back().offset < from) continue;
    // Offsets within a segment are dense, so the start is an index computation.
    std::size_t i = from > s.base_offset ? from - s.base_offset : 0;
    for (; i < s.records.size(); ++i) {
      const Record& r = s.records[i];
      std::size_t size = r.topic.size() + r.event.size();
      // An atomic batch is returned whole (unless `from` is inside it).
      const bool inside = !out.empty() && r.unit_size > 0 && r.unit_first == out.back().unit_first;
      if (!inside && (out.size() >= max_records || (!out.empty() && bytes + size > max_bytes))) return out;
      out.push_back(r);
      bytes += size;
    }
  }
  return out;
}

Result<std::uint64_t> MemoryStore::OffsetForTime(std::int64_t timestamp_ms) {
  std::lock_guard lock(mu_);
  for (const Segment& s : segments_) {
    if (s.max_timestamp < timestamp_ms) continue;
    for (const Record& r : s.records) {
      if (r.timestamp_ms >= timestamp_ms) return r.offset;
    }
  }
  return next_offset_;
}

Status MemoryStore::ApplyRetention(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::uint64_t total = 0;
  for (const Segment& s : segments_) total += s.bytes;
  const RetentionPolicy& r = options_.retention;
  while (segments_.size() > 1) {
    const Segment& oldest = segments_.front();
    bool too_big = r.max_bytes > 0 && total > r.max_bytes;
    bool too_old = r.max_age.count() > 0 && oldest.max_timestamp < now_ms - r.max_age.count();
    if (!too_big && !too_old) break;
    total -= oldest.bytes;
    segments_.pop_front();
  }
  return Status::Ok();
}

}  // namespace signalbus::eventlog
