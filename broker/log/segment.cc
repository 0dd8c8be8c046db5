// Scanning a segment at open, and its index file.
//
// How a scan tells a torn tail from corruption. A writer that dies mid-write(2), or a
// machine that loses its page cache, leaves the last record of the ACTIVE segment
// incomplete or with a bad checksum, and nothing valid after it. So: at the first
// record that does not parse, look forward for any valid record (byte by byte, with
// the header checks and an offset bound making false hits practically impossible).
// None up to the end of the last segment: a torn tail, cut off, not corruption. One
// found, or any damage in a sealed segment (rolling fdatasyncs the old segment before
// the next is created, so a sealed segment is always complete): corruption.
#include "segment.h"

#include <algorithm>
#include <cstring>

namespace signalbus::eventlog {

namespace lf = log_format;

Result<std::string_view> SegmentWindow::Peek(std::uint64_t pos, std::size_t n, std::uint64_t limit) {
  if (pos >= limit) return std::string_view();
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, limit - pos));
  if (pos >= buf_pos_ && pos + want <= buf_pos_ + size_) {
    return std::string_view(buf_.get() + (pos - buf_pos_), want);
  }
  const std::size_t read =
      static_cast<std::size_t>(std::min<std::uint64_t>(std::max(want, window_bytes_), limit - pos));
  if (read > capacity_) {
    buf_.reset(new char[read]);
    capacity_ = read;
  }
  size_ = 0;
  Result<std::size_t> got = file_->Read(pos, read, buf_.get());
  if (!got.ok()) return got.status();
  size_ = *got;
  buf_pos_ = pos;
  return std::string_view(buf_.get(), std::min(want, size_));
}

namespace {

// Position and offset of the first valid record after a damaged one at bad_pos, or
// nullopt if there is none before `limit`. A candidate's offset must be at least
// `expected` and at most one per kBatchEntryHeaderSize bytes skipped beyond it: no
// event takes fewer bytes (a batch's entries).
Result<std::optional<std::pair<std::uint64_t, std::uint64_t>>> FindNextValid(
    SegmentWindow& window, std::uint64_t bad_pos, std::uint64_t expected, std::uint64_t limit) {
  using Found = std::optional<std::pair<std::uint64_t, std::uint64_t>>;
  for (std::uint64_t p = bad_pos + 1; p + lf::kHeaderSize <= limit; ++p) {
    Result<std::string_view> head = window.Peek(p, lf::kHeaderSize, limit);
    if (!head.ok()) return head.status();
    std::uint64_t size = 0;
    if (head->size() < lf::kHeaderSize) return Found();
    if (CheckHeader(head->data(), head->size(), &size) == ParseResult::kBadHeader) continue;
    const std::uint64_t offset = DecodeFixed64(head->data() + lf::kOffsetOffset);
    if (offset < expected || offset - expected > (p - bad_pos) / lf::kBatchEntryHeaderSize) continue;
    if (p + size > limit) continue;
    Result<std::string_view> whole = window.Peek(p, size, limit);
    if (!whole.ok()) return whole.status();
    RecordView rec;
    if (ParseRecord(whole->data(), whole->size(), &rec) == ParseResult::kOk) return Found({p, offset});
  }
  return Found();
}

}  // namespace

std::string DescribeDamage(const std::string& name, const Damage& d, bool sealed) {
  std::string m = "segment " + name + ": " +
                  (d.out_of_sequence ? std::string("record out of offset sequence") : ParseResultName(d.why)) +
                  " at byte " + std::to_string(d.bytes.begin) + "; bytes [" + std::to_string(d.bytes.begin) +
                  ", " + std::to_string(d.bytes.end) + ") are unreadable, holding offsets from " +
                  std::to_string(d.first_missing_offset);
  if (d.resume_offset) {
    m += " to " + std::to_string(*d.resume_offset - 1) + "; valid records resume at offset " +
         std::to_string(*d.resume_offset);
  } else {
    m += " to the end of the " + std::string(sealed ? "sealed " : "") + "segment";
  }
  return m;
}

Result<SegmentScan> ScanSegment(const RandomAccessFile& file, const std::string& name, std::uint64_t file_bytes,
                                std::uint64_t base_offset, const ScanOptions& options) {
  SegmentWindow window(&file, 1 << 20);
  SegmentScan scan;
  scan.first_offset = 0;
  std::uint64_t expected = base_offset;
  std::uint64_t pos = 0;
  std::uint64_t last_index_pos = 0;
  bool any = false;
  while (pos < file_bytes) {
    Result<std::string_view> head = window.Peek(pos, lf::kHeaderSize, file_bytes);
    if (!head.ok()) return head.status();
    std::uint64_t size = 0;
    ParseResult r = CheckHeader(head->data(), head->size(), &size);
    RecordView rec;
    bool out_of_sequence = false;
    if (r == ParseResult::kOk) {
      Result<std::string_view> whole = window.Peek(pos, size, file_bytes);
      if (!whole.ok()) return whole.status();
      r = ParseRecord(whole->data(), whole->size(), &rec);
      if (r == ParseResult::kOk && rec.offset != expected) out_of_sequence = true;
    }
    if (r == ParseResult::kOk && !out_of_sequence) {
      if (!any || pos - last_index_pos >= options.index_interval_bytes) {
        scan.index.push_back(IndexEntry{rec.offset, pos, scan.max_timestamp});
        last_index_pos = pos;
      }
      if (!any) scan.first_offset = rec.offset;
      any = true;
      scan.max_timestamp = std::max(scan.max_timestamp, rec.timestamp_ms);
      scan.records += rec.count;
      expected += rec.count;
      pos += rec.size;
      continue;
    }

    Result<std::optional<std::pair<std::uint64_t, std::uint64_t>>> next =
        FindNextValid(window, pos, expected, file_bytes);
    if (!next.ok()) return next.status();
    if (!next->has_value() && options.is_last) {
      // The writer died mid-write (or the machine lost unsynced pages): the tail was
      // never confirmed durable, so cutting it loses nothing that was promised.
      scan.torn_bytes = file_bytes - pos;
      scan.torn_why = out_of_sequence ? ParseResult::kBadHeader : r;
      break;
    }
    Damage d;
    d.bytes = ByteRange{pos, next->has_value() ? (*next)->first : file_bytes};
    d.first_missing_offset = expected;
    if (next->has_value()) d.resume_offset = (*next)->second;
    d.why = r;
    d.out_of_sequence = out_of_sequence;
    if (!options.skip_corrupt) {
      return DataLoss(DescribeDamage(name, d, !options.is_last) +
                      " (open with skip_corrupt to skip the damaged range and lose those records)");
    }
    scan.damage.push_back(d);
    if (!next->has_value()) {
      pos = file_bytes;
      break;
    }
    pos = (*next)->first;
    expected = (*next)->second;
  }
  scan.valid_bytes = std::min(pos, file_bytes);
  scan.next_offset = expected;
  if (!any) scan.first_offset = expected;
  return scan;
}

std::string SerializeIndex(const SegmentIndex& index) {
  std::string out;
  out.reserve((index.entries.size() + index.skipped.size() + 1) * lf::kIndexEntrySize);
  for (const IndexEntry& e : index.entries) {
    EncodeIndexEntry(&out, lf::IndexEntryKind::kRecord, e.offset, e.position, e.max_timestamp_before);
  }
  for (const ByteRange& r : index.skipped) EncodeIndexEntry(&out, lf::IndexEntryKind::kSkipped, r.begin, r.end, 0);
  EncodeIndexEntry(&out, lf::IndexEntryKind::kSeal, index.next_offset, index.log_bytes, index.max_timestamp);
  return out;
}

std::optional<SegmentIndex> ParseIndex(std::string_view contents, std::uint64_t base_offset,
                                       std::uint64_t log_bytes) {
  if (contents.empty() || contents.size() % lf::kIndexEntrySize != 0) return std::nullopt;
  SegmentIndex index;
  const std::size_t n = contents.size() / lf::kIndexEntrySize;
  for (std::size_t i = 0; i < n; ++i) {
    std::optional<DecodedIndexEntry> e = DecodeIndexEntry(contents.data() + i * lf::kIndexEntrySize);
    if (!e) return std::nullopt;
    const bool last = i + 1 == n;
    switch (e->kind) {
      case lf::IndexEntryKind::kRecord:
        if (last || !index.skipped.empty()) return std::nullopt;
        if (!index.entries.empty() &&
            (e->a <= index.entries.back().offset || e->b <= index.entries.back().position ||
             e->c < index.entries.back().max_timestamp_before)) {
          return std::nullopt;
        }
        index.entries.push_back(IndexEntry{e->a, e->b, e->c});
        break;
      case lf::IndexEntryKind::kSkipped:
        if (last || e->a >= e->b || (!index.skipped.empty() && e->a < index.skipped.back().end)) return std::nullopt;
        index.skipped.push_back(ByteRange{e->a, e->b});
        break;
      case lf::IndexEntryKind::kSeal:
        if (!last) return std::nullopt;
        index.next_offset = e->a;
        index.log_bytes = e->b;
        index.max_timestamp = e->c;
        break;
    }
  }
  if (index.log_bytes != log_bytes || index.next_offset < base_offset) return std::nullopt;
  if (!index.entries.empty() && index.entries.front().offset < base_offset) return std::nullopt;
  if (!index.entries.empty() &&
      (index.entries.back().offset >= index.next_offset || index.entries.back().position >= log_bytes)) {
    return std::nullopt;
  }
  if (!index.skipped.empty() && index.skipped.back().end > log_bytes) return std::nullopt;
  index.first_offset = index.entries.empty() ? index.next_offset : index.entries.front().offset;
  return index;
}

}  // namespace signalbus::eventlog
