// Record and index-entry codec. The checksum of a record covers every byte after the
// checksum field, so a damaged length, offset or timestamp is caught as surely as a
// damaged payload.
#include "log_record.h"

#include <charconv>
#include <cstdio>

#include "signalbus/log/crc32c.h"

namespace signalbus::eventlog {

namespace lf = log_format;

void EncodeRecord(std::string* dst, std::uint64_t offset, std::int64_t timestamp_ms,
                  std::string_view topic, std::string_view event) {
  const std::size_t start = dst->size();
  const std::size_t payload = topic.size() + event.size();
  dst->resize(start + lf::kHeaderSize + payload);
  char* p = dst->data() + start;
  EncodeFixed32(p + lf::kLengthOffset, static_cast<std::uint32_t>(payload));
  p[lf::kTypeOffset] = static_cast<char>(lf::kFullType);
  p[lf::kFlagsOffset] = 0;
  EncodeFixed16(p + lf::kTopicLengthOffset, static_cast<std::uint16_t>(topic.size()));
  EncodeFixed64(p + lf::kOffsetOffset, offset);
  EncodeFixed64(p + lf::kTimestampOffset, static_cast<std::uint64_t>(timestamp_ms));
  if (!topic.empty()) std::memcpy(p + lf::kHeaderSize, topic.data(), topic.size());
  if (!event.empty()) std::memcpy(p + lf::kHeaderSize + topic.size(), event.data(), event.size());
  std::uint32_t crc = crc32c::Value(p + lf::kLengthOffset, lf::kHeaderSize - lf::kLengthOffset + payload);
  EncodeFixed32(p + lf::kCrcOffset, crc32c::Mask(crc));
}

Status CheckBatch(const std::vector<EventRef>& events) {
  if (events.empty()) return InvalidArgument("a batch needs at least one event");
  if (events.size() > lf::kMaxBatchEvents) return InvalidArgument("a batch holds at most 65535 events");
  for (const EventRef& e : events) {
    if (e.topic.size() > lf::kMaxTopicBytes) return InvalidArgument("topic is over 65535 bytes");
  }
  if (BatchPayloadSize(events) > lf::kMaxPayloadBytes) return InvalidArgument("batch is over 64 MiB");
  return Status::Ok();
}

std::uint64_t BatchPayloadSize(const std::vector<EventRef>& events) {
  std::uint64_t n = 0;
  for (const EventRef& e : events) n += lf::kBatchEntryHeaderSize + e.topic.size() + e.event.size();
  return n;
}

void EncodeBatchRecord(std::string* dst, std::uint64_t offset, std::int64_t timestamp_ms, bool atomic,
                       const std::vector<EventRef>& events) {
  const std::size_t start = dst->size();
  const std::uint64_t payload = BatchPayloadSize(events);
  dst->resize(start + lf::kHeaderSize + payload);
  char* p = dst->data() + start;
  EncodeFixed32(p + lf::kLengthOffset, static_cast<std::uint32_t>(payload));
  p[lf::kTypeOffset] = static_cast<char>(lf::kBatchType);
  p[lf::kFlagsOffset] = static_cast<char>(atomic ? lf::kAtomicFlag : 0);
  EncodeFixed16(p + lf::kTopicLengthOffset, static_cast<std::uint16_t>(events.size()));
  EncodeFixed64(p + lf::kOffsetOffset, offset);
  EncodeFixed64(p + lf::kTimestampOffset, static_cast<std::uint64_t>(timestamp_ms));
  char* q = p + lf::kHeaderSize;
  for (const EventRef& e : events) {
    EncodeFixed16(q, static_cast<std::uint16_t>(e.topic.size()));
    EncodeFixed32(q + 2, static_cast<std::uint32_t>(e.event.size()));
    q += lf::kBatchEntryHeaderSize;
    if (!e.topic.empty()) std::memcpy(q, e.topic.data(), e.topic.size());
    q += e.topic.size();
    if (!e.event.empty()) std::memcpy(q, e.event.data(), e.event.size());
    q += e.event.size();
  }
  std::uint32_t crc = crc32c::Value(p + lf::kLengthOffset, lf::kHeaderSize - lf::kLengthOffset + payload);
  EncodeFixed32(p + lf::kCrcOffset, crc32c::Mask(crc));
}

bool NextBatchEntry(std::string_view* entries, std::string_view* topic, std::string_view* event) {
  if (entries->size() < lf::kBatchEntryHeaderSize) return false;
  const std::size_t topic_length = DecodeFixed16(entries->data());
  const std::size_t event_length = DecodeFixed32(entries->data() + 2);
  if (entries->size() - lf::kBatchEntryHeaderSize < topic_length + std::uint64_t{event_length}) return false;
  *topic = entries->substr(lf::kBatchEntryHeaderSize, topic_length);
  *event = entries->substr(lf::kBatchEntryHeaderSize + topic_length, event_length);
  entries->remove_prefix(lf::kBatchEntryHeaderSize + topic_length + event_length);
  return true;
}

const char* ParseResultName(ParseResult r) {
  switch (r) {
    case ParseResult::kOk: return "ok";
    case ParseResult::kIncomplete: return "incomplete record";
    case ParseResult::kBadHeader: return "malformed header";
    case ParseResult::kBadChecksum: return "checksum mismatch";
  }
  return "?";
}

ParseResult CheckHeader(const char* data, std::size_t available, std::uint64_t* size, std::uint32_t* count) {
  if (available < lf::kHeaderSize) return ParseResult::kIncomplete;
  const std::uint32_t length = DecodeFixed32(data + lf::kLengthOffset);
  const auto type = static_cast<std::uint8_t>(data[lf::kTypeOffset]);
  const auto flags = static_cast<std::uint8_t>(data[lf::kFlagsOffset]);
  const std::uint16_t field = DecodeFixed16(data + lf::kTopicLengthOffset);
  if (length > lf::kMaxPayloadBytes) return ParseResult::kBadHeader;
  std::uint32_t events = 1;
  if (type == lf::kFullType) {
    if (flags != 0 || field > length) return ParseResult::kBadHeader;
  } else if (type == lf::kBatchType) {
    // Every event takes at least its entry header.
    if ((flags & ~lf::kAtomicFlag) != 0 || field == 0 ||
        std::uint64_t{field} * lf::kBatchEntryHeaderSize > length) {
      return ParseResult::kBadHeader;
    }
    events = field;
  } else {
    return ParseResult::kBadHeader;
  }
  *size = lf::kHeaderSize + std::uint64_t{length};
  if (count != nullptr) *count = events;
  return ParseResult::kOk;
}

ParseResult ParseRecord(const char* data, std::size_t available, RecordView* out) {
  std::uint64_t size = 0;
  ParseResult r = CheckHeader(data, available, &size);
  if (r != ParseResult::kOk) return r;
  if (available < size) return ParseResult::kIncomplete;
  const std::uint32_t expected = crc32c::Unmask(DecodeFixed32(data + lf::kCrcOffset));
  const std::uint32_t actual = crc32c::Value(data + lf::kLengthOffset, size - lf::kLengthOffset);
  if (expected != actual) return ParseResult::kBadChecksum;
  out->offset = DecodeFixed64(data + lf::kOffsetOffset);
  out->timestamp_ms = static_cast<std::int64_t>(DecodeFixed64(data + lf::kTimestampOffset));
  out->size = size;
  const std::uint16_t field = DecodeFixed16(data + lf::kTopicLengthOffset);
  if (static_cast<std::uint8_t>(data[lf::kTypeOffset]) == lf::kBatchType) {
    out->batch = true;
    out->atomic = (data[lf::kFlagsOffset] & lf::kAtomicFlag) != 0;
    out->count = field;
    out->topic = out->event = std::string_view();
    out->entries = std::string_view(data + lf::kHeaderSize, size - lf::kHeaderSize);
    // A checksum-valid batch whose entries do not add up was never written by us.
    std::string_view rest = out->entries, topic, event;
    for (std::uint32_t i = 0; i < out->count; ++i) {
      if (!NextBatchEntry(&rest, &topic, &event)) return ParseResult::kBadHeader;
    }
    if (!rest.empty()) return ParseResult::kBadHeader;
    return ParseResult::kOk;
  }
  out->batch = out->atomic = false;
  out->count = 1;
  out->entries = std::string_view();
  out->topic = std::string_view(data + lf::kHeaderSize, field);
  out->event = std::string_view(data + lf::kHeaderSize + field, size - lf::kHeaderSize - field);
  return ParseResult::kOk;
}

void EncodeIndexEntry(std::string* dst, lf::IndexEntryKind kind, std::uint64_t a, std::uint64_t b,
                      std::int64_t c) {
  char p[lf::kIndexEntrySize];
  EncodeFixed64(p, a);
  EncodeFixed64(p + 8, b);
  EncodeFixed64(p + 16, static_cast<std::uint64_t>(c));
  EncodeFixed32(p + 24, static_cast<std::uint32_t>(kind));
  EncodeFixed32(p + 28, crc32c::Mask(crc32c::Value(p, 28)));
  dst->append(p, sizeof(p));
}

std::optional<DecodedIndexEntry> DecodeIndexEntry(const char* p) {
  if (crc32c::Unmask(DecodeFixed32(p + 28)) != crc32c::Value(p, 28)) return std::nullopt;
  std::uint32_t kind = DecodeFixed32(p + 24);
  if (kind > static_cast<std::uint32_t>(lf::IndexEntryKind::kSeal)) return std::nullopt;
  return DecodedIndexEntry{static_cast<lf::IndexEntryKind>(kind), DecodeFixed64(p), DecodeFixed64(p + 8),
                           static_cast<std::int64_t>(DecodeFixed64(p + 16))};
}

std::string SegmentFileName(std::uint64_t base_offset, std::string_view suffix) {
  char digits[32];
  std::snprintf(digits, sizeof(digits), "%020llu", static_cast<unsigned long long>(base_offset));
  return std::string(digits) + std::string(suffix);
}

std::optional<std::uint64_t> ParseSegmentFileName(std::string_view name, std::string_view suffix) {
  const std::size_t digits = lf::kFileNameDigits;
  if (name.size() != digits + suffix.size() || name.substr(digits) != suffix) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
  }
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + digits, value);
  if (ec != std::errc() || ptr != name.data() + digits) return std::nullopt;
  return value;
}

}  // namespace signalbus::eventlog
