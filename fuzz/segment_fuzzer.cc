// Fuzzes the durable log's recovery: the input becomes the segment files (and an index
// file) of a log directory, and FileStore::Open scans them (broker/log/segment.cc
// ScanSegment, file_store.cc Recover), then the target reads everything, appends, and
// reopens. Input: a flags byte, base offsets, then frames: the first segment, its index
// file, the second segment (fuzz_support.h). Flags: 1 fix the records' checksums (see
// log_record_fuzzer.cc), 2 a second segment, 4 skip_corrupt, 8 trust sealed segments'
// index files (verify_all_segments off), 16 write the index file, 32 base offsets from
// the input (else 1 and 1 + 2nd base byte).
// Asserts, beyond not crashing:
//   - reads return offsets in [first_offset, next_offset), strictly increasing, and no
//     more events or bytes than the files hold (the scanner invents nothing);
//   - with every segment verified at open, a read never fails;
//   - what recovery kept can be appended to: an appended event reads back at the next
//     offset, also after closing and reopening the store.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "fuzz_support.h"
#include "log_record.h"
#include "signalbus/log/crc32c.h"
#include "signalbus/log/file_store.h"

namespace eventlog = signalbus::eventlog;
namespace lf = signalbus::eventlog::log_format;
using signalbus::fuzz::FuzzInput;

namespace {

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

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::uint64_t U64(FuzzInput& in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{in.Byte()} << (8 * i);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  signalbus::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static signalbus::fuzz::ScratchDir scratch;
  FuzzInput in(data, size);
  const std::uint8_t flags = in.Byte();
  std::uint64_t base1 = 1;
  std::uint64_t base2 = 0;
  if ((flags & 32) != 0) {
    base1 = U64(in);
    base2 = U64(in);
  } else {
    base2 = 1 + in.Byte();
  }
  std::string seg1(in.Frame());
  const std::string_view index1 = in.Frame();
  std::string seg2(in.Frame());
  if ((flags & 1) != 0) {
    FixChecksums(seg1);
    FixChecksums(seg2);
  }
  const bool two = (flags & 2) != 0 && base2 != base1;

  const std::string& dir = scratch.Fresh();
  WriteFile(dir + "/" + eventlog::FileStore::SegmentFileName(base1), seg1);
  if ((flags & 16) != 0) WriteFile(dir + "/" + eventlog::FileStore::IndexFileName(base1), index1);
  if (two) WriteFile(dir + "/" + eventlog::FileStore::SegmentFileName(base2), seg2);
  const std::uint64_t file_bytes = seg1.size() + (two ? seg2.size() : 0);

  eventlog::FileStore::Options options;
  options.skip_corrupt = (flags & 4) != 0;
  options.verify_all_segments = (flags & 8) == 0;
  options.index_interval_bytes = 64;
  options.segment_bytes = 1 << 20;
  auto opened = eventlog::FileStore::Open(dir, options);
  if (!opened.ok()) return 0;
  std::unique_ptr<eventlog::FileStore> store = std::move(*opened);

  const std::uint64_t first = store->first_offset();
  const std::uint64_t next = store->next_offset();
  SIGNALBUS_FUZZ_CHECK(first <= next);
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  std::uint64_t last = 0;
  bool read_failed = false;
  for (std::uint64_t from = 0; events <= file_bytes;) {
    auto records = store->Read(from, 16, 4096);
    if (!records.ok()) {
      read_failed = true;
      break;
    }
    if (records->empty()) break;
    for (const eventlog::Record& r : *records) {
      SIGNALBUS_FUZZ_CHECK(r.offset >= first && r.offset < next);
      SIGNALBUS_FUZZ_CHECK(events == 0 || r.offset > last);
      last = r.offset;
      ++events;
      bytes += r.topic.size() + r.event.size();
    }
    from = last + 1;
  }
  // Every event takes at least a batch entry's header of the files' bytes.
  SIGNALBUS_FUZZ_CHECK(events * lf::kBatchEntryHeaderSize <= file_bytes);
  SIGNALBUS_FUZZ_CHECK(bytes <= file_bytes);
  if (options.verify_all_segments) SIGNALBUS_FUZZ_CHECK(!read_failed);
  if (next == UINT64_MAX) return 0;  // no room for one more offset

  // What recovery left is a log that takes appends.
  auto appended = store->Append("fuzz.Target/appended", "event", 1);
  SIGNALBUS_FUZZ_CHECK(appended.ok() && *appended == next);
  SIGNALBUS_FUZZ_CHECK(store->Sync().ok());
  store.reset();
  auto reopened = eventlog::FileStore::Open(dir, options);
  SIGNALBUS_FUZZ_CHECK(reopened.ok());
  SIGNALBUS_FUZZ_CHECK((*reopened)->next_offset() == next + 1);
  auto back = (*reopened)->Read(next, 1, 1);
  SIGNALBUS_FUZZ_CHECK(back.ok() && back->size() == 1);
  SIGNALBUS_FUZZ_CHECK(back->front().offset == next && back->front().topic == "fuzz.Target/appended");
  return 0;
}
