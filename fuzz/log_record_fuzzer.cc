// Fuzzes the durable log's record and index-entry codec (broker/log/log_record.cc,
// segment.cc ParseIndex): ParseRecord walked over a buffer of records, as a scan does,
// and ParseIndex on the same bytes. Input: a flags byte, then the bytes. With flag bit 0
// the target first fixes the checksum of every record whose header parses, so that the
// fuzzer gets past the CRC to the fields behind it (a batch's entries, lengths).
// Asserts, beyond not crashing:
//   - a parsed record lies within the bytes given; its views point inside it;
//   - CheckHeader agrees with ParseRecord on the size and the event count;
//   - ForEachEvent visits exactly `count` events with offsets offset .. offset+count-1;
//   - re-encoding a parsed record (EncodeRecord / EncodeBatchRecord) gives back exactly
//     its bytes: the parser accepts only what the writer writes;
//   - a parsed index, serialized and parsed again, says the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "log_record.h"
#include "segment.h"
#include "signalbus/log/crc32c.h"

namespace eventlog = signalbus::eventlog;
namespace lf = signalbus::eventlog::log_format;
using signalbus::fuzz::FuzzInput;

namespace {

// Rewrites the checksum of each record whose header parses, walking record by record.
void FixChecksums(std::string& bytes) {
  std::size_t pos = 0;
  while (pos + lf::kHeaderSize <= bytes.size()) {
    std::uint64_t size = 0;
    if (eventlog::CheckHeader(bytes.data() + pos, bytes.size() - pos, &size) != eventlog::ParseResult::kOk ||
        size > bytes.size() - pos) {
      return;
    }
    char* p = bytes.data() + pos;
    eventlog::EncodeFixed32(p, eventlog::crc32c::Mask(eventlog::crc32c::Value(p + 4, size - 4)));
    pos += size;
  }
}

bool Inside(std::string_view part, const std::string& whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  const std::uint8_t flags = in.Byte();
  std::string bytes(in.Rest());
  if ((flags & 1) != 0) FixChecksums(bytes);

  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const char* p = bytes.data() + pos;
    const std::size_t available = bytes.size() - pos;
    eventlog::RecordView rec;
    const eventlog::ParseResult r = eventlog::ParseRecord(p, available, &rec);
    std::uint64_t header_size = 0;
    std::uint32_t header_count = 0;
    const eventlog::ParseResult h = eventlog::CheckHeader(p, available, &header_size, &header_count);
    if (r != eventlog::ParseResult::kOk) {
      // A header refused is refused by both; one that runs past the bytes is incomplete.
      if (h == eventlog::ParseResult::kBadHeader) SIGNALBUS_FUZZ_CHECK(r == eventlog::ParseResult::kBadHeader);
      if (h == eventlog::ParseResult::kOk && header_size > available) {
        SIGNALBUS_FUZZ_CHECK(r == eventlog::ParseResult::kIncomplete);
      }
      break;
    }
    SIGNALBUS_FUZZ_CHECK(h == eventlog::ParseResult::kOk);
    SIGNALBUS_FUZZ_CHECK(rec.size == header_size && rec.count == header_count);
    SIGNALBUS_FUZZ_CHECK(rec.size >= lf::kHeaderSize && rec.size <= available);
    SIGNALBUS_FUZZ_CHECK(rec.count >= 1);
    const std::string record(p, rec.size);

    std::vector<eventlog::EventRef> events;
    std::uint64_t next = rec.offset;
    const bool whole = eventlog::ForEachEvent(rec, [&](std::uint64_t offset, std::string_view topic,
                                                       std::string_view event) {
      SIGNALBUS_FUZZ_CHECK(offset == next);
      ++next;
      SIGNALBUS_FUZZ_CHECK(Inside(topic, bytes) && Inside(event, bytes));
      events.push_back({topic, event});
    });
    SIGNALBUS_FUZZ_CHECK(whole);
    SIGNALBUS_FUZZ_CHECK(events.size() == rec.count);

    std::string again;
    if (rec.batch) {
      SIGNALBUS_FUZZ_CHECK(eventlog::CheckBatch(events).ok());
      eventlog::EncodeBatchRecord(&again, rec.offset, rec.timestamp_ms, rec.atomic, events);
    } else {
      eventlog::EncodeRecord(&again, rec.offset, rec.timestamp_ms, rec.topic, rec.event);
    }
    SIGNALBUS_FUZZ_CHECK(again == record);
    pos += rec.size;
  }

  // The same bytes as an index file of a segment of (flags-chosen) size.
  const std::uint64_t base = 1 + (flags >> 4);
  for (std::uint64_t log_bytes : {std::uint64_t{bytes.size()}, std::uint64_t{1} << 20}) {
    if (std::optional<eventlog::SegmentIndex> index = eventlog::ParseIndex(bytes, base, log_bytes)) {
      // (A skipped range's unused third field is not checked: compare what it means.)
      SIGNALBUS_FUZZ_CHECK(eventlog::ParseIndex(eventlog::SerializeIndex(*index), base, log_bytes) == index);
      SIGNALBUS_FUZZ_CHECK(index->log_bytes == log_bytes && index->next_offset >= base);
      SIGNALBUS_FUZZ_CHECK(index->first_offset >= base || index->entries.empty());
    }
  }
  return 0;
}
