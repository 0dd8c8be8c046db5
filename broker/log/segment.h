// One segment of the file store seen from the inside: a windowed reader over its
// bytes, the full scan that verifies every record at open (and decides torn tail
// versus corruption), and its index file. Internal to the log library.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "log_record.h"
#include "signalbus/core/status.h"
#include "signalbus/log/file_io.h"

namespace signalbus::eventlog {

// Reads a file through a buffer of window_bytes, so parsing costs one pread per
// window rather than per record. Not thread-safe.
class SegmentWindow {
 public:
  SegmentWindow(const RandomAccessFile* file, std::size_t window_bytes)
      : file_(file), window_bytes_(window_bytes) {}

  // Reads `file` from now on, forgetting what was read; the buffer is kept for reuse.
  void Reset(const RandomAccessFile* file) {
    file_ = file;
    size_ = 0;
    buf_pos_ = 0;
  }

  // The bytes [pos, pos + n) clipped to `limit` (and to the end of the file): fewer
  // than n only there. The view is valid until the next call.
  Result<std::string_view> Peek(std::uint64_t pos, std::size_t n, std::uint64_t limit);

 private:
  const RandomAccessFile* file_;
  std::size_t window_bytes_;
  std::unique_ptr<char[]> buf_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  std::uint64_t buf_pos_ = 0;  // file position of buf_[0]
};

// A damaged byte range found by a scan.
struct Damage {
  ByteRange bytes;
  std::uint64_t first_missing_offset = 0;  // the offset the damaged range should have held first
  std::optional<std::uint64_t> resume_offset;  // offset of the valid record at bytes.end, if any
  ParseResult why = ParseResult::kBadChecksum;
  bool out_of_sequence = false;  // a valid record whose offset was not the expected one
};

// What a full scan of one segment found. Offsets of valid records are
// [first_offset, next_offset) minus the offsets of damaged ranges.
struct SegmentScan {
  std::uint64_t first_offset = 0;  // == next_offset when it holds no valid record
  std::uint64_t next_offset = 0;
  std::uint64_t records = 0;
  std::uint64_t valid_bytes = 0;  // where the segment ends once a torn tail is cut
  std::int64_t max_timestamp = INT64_MIN;
  std::vector<IndexEntry> index;
  std::vector<Damage> damage;  // only with skip_corrupt; otherwise the scan fails
  std::uint64_t torn_bytes = 0;  // the cut tail (last segment only)
  ParseResult torn_why = ParseResult::kOk;
};

struct ScanOptions {
  bool is_last = false;  // the active segment: a damaged tail is a torn write, not corruption
  bool skip_corrupt = false;
  std::uint64_t index_interval_bytes = 16 << 10;
};

// Reads and verifies every record of `file` (file_bytes long, named `name`, holding
// offsets from base_offset). Fails with DataLoss naming the file, the byte range and
// the offsets when it finds damage that is not a torn tail, unless skip_corrupt.
Result<SegmentScan> ScanSegment(const RandomAccessFile& file, const std::string& name,
                                std::uint64_t file_bytes, std::uint64_t base_offset,
                                const ScanOptions& options);

// The DataLoss message for one damaged range of segment `name`.
std::string DescribeDamage(const std::string& name, const Damage& d, bool sealed);

// The contents of a complete index file.
struct SegmentIndex {
  std::vector<IndexEntry> entries;
  std::vector<ByteRange> skipped;
  std::uint64_t first_offset = 0;
  std::uint64_t next_offset = 0;
  std::uint64_t log_bytes = 0;
  std::int64_t max_timestamp = INT64_MIN;
  friend bool operator==(const SegmentIndex&, const SegmentIndex&) = default;
};

std::string SerializeIndex(const SegmentIndex& index);
// The index in `contents` if it is complete, consistent, and describes a log file of
// log_bytes bytes whose records start at base_offset; nullopt otherwise (then the segment is scanned and the index
// rewritten).
std::optional<SegmentIndex> ParseIndex(std::string_view contents, std::uint64_t base_offset,
                                       std::uint64_t log_bytes);

}  // namespace signalbus::eventlog
