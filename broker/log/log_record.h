// Encoding and parsing of one log record and one index entry (layouts in
// log_format.h). Internal to the log library; no I/O here.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/log/event_store.h"
#include "signalbus/log/log_format.h"

namespace signalbus::eventlog {

inline void EncodeFixed16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
inline void EncodeFixed32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void EncodeFixed64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline std::uint16_t DecodeFixed16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint16_t>(u[0] | (u[1] << 8));
}
inline std::uint32_t DecodeFixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t{u[0]} | (std::uint32_t{u[1]} << 8) | (std::uint32_t{u[2]} << 16) |
         (std::uint32_t{u[3]} << 24);
}
inline std::uint64_t DecodeFixed64(const char* p) {
  return std::uint64_t{DecodeFixed32(p)} | (std::uint64_t{DecodeFixed32(p + 4)} << 32);
}

// Bytes a record of this topic and event takes in a segment.
inline std::uint64_t RecordSize(std::size_t topic_bytes, std::size_t event_bytes) {
  return log_format::kHeaderSize + topic_bytes + event_bytes;
}

// Appends one encoded record to *dst.
// REQUIRES: topic.size() <= kMaxTopicBytes, topic.size() + event.size() <= kMaxPayloadBytes.
void EncodeRecord(std::string* dst, std::uint64_t offset, std::int64_t timestamp_ms,
                  std::string_view topic, std::string_view event);

// Why AppendBatch refuses these events, or Ok: none, too many, a topic over
// kMaxTopicBytes, or entries over kMaxPayloadBytes in all.
Status CheckBatch(const std::vector<EventRef>& events);

// Payload bytes of a batch record holding these events.
std::uint64_t BatchPayloadSize(const std::vector<EventRef>& events);
// Appends one batch record (offsets offset, offset + 1, ...) to *dst.
// REQUIRES: 1 <= events.size() <= kMaxBatchEvents, each topic <= kMaxTopicBytes,
// BatchPayloadSize(events) <= kMaxPayloadBytes.
void EncodeBatchRecord(std::string* dst, std::uint64_t offset, std::int64_t timestamp_ms, bool atomic,
                       const std::vector<EventRef>& events);

// A parsed record; the views point into the buffer given to ParseRecord.
struct RecordView {
  std::uint64_t offset = 0;  // of its (first) event
  std::int64_t timestamp_ms = 0;
  std::uint64_t size = 0;    // header + payload
  std::uint32_t count = 1;   // events: offsets [offset, offset + count)
  bool batch = false;
  bool atomic = false;
  // A full record: its one event. A batch: empty (see entries).
  std::string_view topic;
  std::string_view event;
  // A batch: its entries, walked with NextBatchEntry.
  std::string_view entries;
};

// Takes the next event off the front of a batch's entries. False when they are used up
// or what is left is not a whole entry (damage a checksum did not catch: never written).
bool NextBatchEntry(std::string_view* entries, std::string_view* topic, std::string_view* event);

// Calls visit(offset, topic, event) for each event of a parsed record, in order; false
// if a batch's entries do not add up to its count (treated as damage).
template <typename Visit>
bool ForEachEvent(const RecordView& rec, Visit&& visit) {
  if (!rec.batch) {
    visit(rec.offset, rec.topic, rec.event);
    return true;
  }
  std::string_view rest = rec.entries;
  std::string_view topic, event;
  for (std::uint32_t i = 0; i < rec.count; ++i) {
    if (!NextBatchEntry(&rest, &topic, &event)) return false;
    visit(rec.offset + i, topic, event);
  }
  return rest.empty();
}

enum class ParseResult {
  kOk,
  kIncomplete,  // the header, or the payload it announces, runs past `available`
  kBadHeader,   // a field no writer produces (type, flags, lengths)
  kBadChecksum,
};

const char* ParseResultName(ParseResult r);

// Reads the header at data[0, available) and reports whether it could start a
// record, without looking at the payload or checksum: kOk (and *size, header plus
// payload, which may run past `available`, and *count, the offsets it holds),
// kIncomplete (fewer than kHeaderSize bytes) or kBadHeader.
ParseResult CheckHeader(const char* data, std::size_t available, std::uint64_t* size,
                        std::uint32_t* count = nullptr);

// Parses and verifies the record at data[0, available).
ParseResult ParseRecord(const char* data, std::size_t available, RecordView* out);

// One sparse-index entry of a segment.
struct IndexEntry {
  std::uint64_t offset = 0;
  std::uint64_t position = 0;
  // The largest timestamp of the records before this one in the segment.
  std::int64_t max_timestamp_before = INT64_MIN;
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

// [begin, end) bytes of a segment.
struct ByteRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// Appends one encoded index entry (kIndexEntrySize bytes) to *dst.
void EncodeIndexEntry(std::string* dst, log_format::IndexEntryKind kind, std::uint64_t a,
                      std::uint64_t b, std::int64_t c);
struct DecodedIndexEntry {
  log_format::IndexEntryKind kind;
  std::uint64_t a;
  std::uint64_t b;
  std::int64_t c;
};
// nullopt if the checksum or kind is wrong. REQUIRES: p holds kIndexEntrySize bytes.
std::optional<DecodedIndexEntry> DecodeIndexEntry(const char* p);

// "00000000000000000042.log" for base 42 and suffix ".log".
std::string SegmentFileName(std::uint64_t base_offset, std::string_view suffix);
// The base offset if `name` is exactly 20 digits followed by `suffix`.
std::optional<std::uint64_t> ParseSegmentFileName(std::string_view name, std::string_view suffix);

}  // namespace signalbus::eventlog
