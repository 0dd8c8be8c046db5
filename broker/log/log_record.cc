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

const char* ParseResultName(ParseResult r) {
  switch (r) {
    case ParseResult::kOk: return "ok";
    case ParseResult::kIncomplete: return "incomplete record";
    case ParseResult::kBadHeader: return "malformed header";
    case ParseResult::kBadChecksum: return "checksum mismatch";
  }
  return "?";
}

ParseResult CheckHeader(const char* data, std::size_t available, std::uint64_t* size) {
  if (available < lf::kHeaderSize) return ParseResult::kIncomplete;
  const std::uint32_t length = DecodeFixed32(data + lf::kLengthOffset);
  if (static_cast<std::uint8_t>(data[lf::kTypeOffset]) != lf::kFullType || data[lf::kFlagsOffset] != 0 ||
      length > lf::kMaxPayloadBytes || DecodeFixed16(data + lf::kTopicLengthOffset) > length) {
    return ParseResult::kBadHeader;
  }
  *size = lf::kHeaderSize + std::uint64_t{length};
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
  const std::uint16_t topic_length = DecodeFixed16(data + lf::kTopicLengthOffset);
  out->offset = DecodeFixed64(data + lf::kOffsetOffset);
  out->timestamp_ms = static_cast<std::int64_t>(DecodeFixed64(data + lf::kTimestampOffset));
  out->topic = std::string_view(data + lf::kHeaderSize, topic_length);
  out->event = std::string_view(data + lf::kHeaderSize + topic_length, size - lf::kHeaderSize - topic_length);
  out->size = size;
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
