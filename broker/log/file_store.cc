// FileStore: segments on disk, the buffered append path, group-commit Sync, reads
// through the sparse index, retention, and recovery at open.
//
// Crash windows, and why each is safe:
// - Append/Flush: a crash leaves the active segment ending in a partial record (or,
//   after a machine crash, missing any suffix that was not fdatasynced). Open cuts it
//   (a torn tail). Those records were above durable_offset(), never confirmed.
// - Roll: the old segment is fdatasynced, then the new file is created and the
//   directory fsynced, and only then does anything go into the new file. So every
//   segment but the last is complete on disk, and damage there is corruption.
// - The index file of a sealed segment is written after the roll, to a .tmp name,
//   then renamed. It is a cache: missing, torn or stale (its seal entry must match the
//   log's size) means it is rebuilt from the log at the next open.
// - Retention removes the .log first, then the .index: a crash between leaves an
//   orphan index, which Open removes.
#include "signalbus/log/file_store.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "log_record.h"
#include "segment.h"
#include "signalbus/log/log_format.h"

namespace signalbus::eventlog {

namespace lf = log_format;

struct FileSegment {
  std::uint64_t base_offset = 0;
  std::uint64_t first_offset = 0;  // == next_offset while it holds no record
  std::uint64_t next_offset = 0;
  std::uint64_t bytes = 0;  // valid bytes; for the active segment, including buffered ones
  std::int64_t max_timestamp = INT64_MIN;
  std::vector<IndexEntry> index;
  std::vector<ByteRange> skipped;  // damaged ranges skipped at open, in order
  std::string name;
  std::unique_ptr<RandomAccessFile> reader;  // opened on first read
  std::uint64_t last_used = 0;

  bool empty() const { return first_offset == next_offset; }
};

namespace {

constexpr std::size_t kMaxOpenReaders = 64;
constexpr std::size_t kReadWindowBytes = 32 << 10;

Result<std::string> ReadSmallFile(FileIo* io, const std::string& path) {
  Result<std::uint64_t> size = io->FileSize(path);
  if (!size.ok()) return size.status();
  Result<std::unique_ptr<RandomAccessFile>> file = io->OpenReadable(path);
  if (!file.ok()) return file.status();
  std::string contents(*size, '\0');
  Result<std::size_t> got = (*file)->Read(0, contents.size(), contents.data());
  if (!got.ok()) return got.status();
  contents.resize(*got);
  return contents;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

SegmentIndex IndexOf(const FileSegment& s) {
  SegmentIndex index;
  index.entries = s.index;
  index.skipped = s.skipped;
  index.first_offset = s.first_offset;
  index.next_offset = s.next_offset;
  index.log_bytes = s.bytes;
  index.max_timestamp = s.max_timestamp;
  return index;
}

void AtomicMax(std::atomic<std::uint64_t>& a, std::uint64_t v) {
  std::uint64_t cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
  }
}

}  // namespace

std::string FileStore::SegmentFileName(std::uint64_t base_offset) {
  return eventlog::SegmentFileName(base_offset, lf::kLogSuffix);
}

std::string FileStore::IndexFileName(std::uint64_t base_offset) {
  return eventlog::SegmentFileName(base_offset, lf::kIndexSuffix);
}

FileStore::FileStore(std::string dir, Options options, FileIo* io)
    : dir_(std::move(dir)), options_(options), io_(io) {
  buffer_.reserve(options_.write_buffer_bytes + (64 << 10));
  spare_.reserve(options_.write_buffer_bytes + (64 << 10));
}

FileStore::~FileStore() {
  std::lock_guard lock(write_mu_);
  if (active_file_ != nullptr) (void)FlushLocked();
}

Result<std::unique_ptr<FileStore>> FileStore::Open(const std::string& dir, Options options) {
  if (dir.empty()) return InvalidArgument("log directory is empty");
  if (options.segment_bytes < lf::kHeaderSize) return InvalidArgument("segment_bytes is too small");
  if (options.index_interval_bytes == 0) return InvalidArgument("index_interval_bytes must be > 0");
  FileIo* io = options.file_io != nullptr ? options.file_io : DefaultFileIo();
  std::unique_ptr<FileStore> store(new FileStore(dir, options, io));
  Status s = store->Recover();
  if (!s.ok()) return s;
  return store;
}

Status FileStore::Recover() {
  const auto start = std::chrono::steady_clock::now();
  Result<std::vector<std::string>> names = io_->List(dir_);
  if (!names.ok() && names.status().code() == StatusCode::kNotFound && options_.create_if_missing) {
    if (Status s = io_->CreateDir(dir_); !s.ok()) return s;
    // fdatasync of the segments inside does not make the directory's own name durable.
    std::filesystem::path path = std::filesystem::path(dir_).lexically_normal();
    if (!path.has_filename()) path = path.parent_path();  // "a/b/" -> "a/b"
    const std::string parent = path.parent_path().string();
    if (Status s = io_->SyncDir(parent.empty() ? "." : parent); !s.ok()) return s;
    names = io_->List(dir_);
  }
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) return NotFound("log directory " + dir_ + " does not exist");
    return names.status();
  }
  Result<std::unique_ptr<FileLock>> lock = io_->Lock(PathOf(lf::kLockFileName));
  if (!lock.ok()) return lock.status();
  lock_ = std::move(*lock);

  std::vector<std::uint64_t> bases;
  std::set<std::uint64_t> index_bases;
  bool dir_changed = false;
  for (const std::string& name : *names) {
    if (EndsWith(name, lf::kTempSuffix)) {
      (void)io_->Remove(PathOf(name));  // a half-written index; harmless if it stays
      continue;
    }
    if (auto base = ParseSegmentFileName(name, lf::kLogSuffix)) bases.push_back(*base);
    if (auto base = ParseSegmentFileName(name, lf::kIndexSuffix)) index_bases.insert(*base);
  }
  std::sort(bases.begin(), bases.end());
  for (std::uint64_t b : index_bases) {
    if (!std::binary_search(bases.begin(), bases.end(), b)) {
      (void)io_->Remove(PathOf(IndexFileName(b)));  // retention died between its two removes
      dir_changed = true;
    }
  }
  if (!bases.empty() && bases.front() == 0) {
    return DataLoss("log directory " + dir_ + " holds a segment with base offset 0; offsets start at 1");
  }
  const bool fresh = bases.empty();
  if (fresh) bases.push_back(lf::kFirstOffset);

  for (std::size_t i = 0; i < bases.size(); ++i) {
    const bool is_last = i + 1 == bases.size();
    auto seg = std::make_unique<FileSegment>();
    seg->base_offset = bases[i];
    seg->name = SegmentFileName(bases[i]);
    const std::string path = PathOf(seg->name);
    const std::string index_path = PathOf(IndexFileName(bases[i]));
    if (fresh) {
      Result<std::unique_ptr<WritableFile>> created = io_->OpenAppendable(path);  // a new log
      if (!created.ok()) return created.status();
      dir_changed = true;
    }
    Result<std::uint64_t> size = io_->FileSize(path);
    if (!size.ok()) return size.status();

    bool trusted_index = false;
    if (!is_last && !options_.verify_all_segments) {
      Result<std::string> contents = ReadSmallFile(io_, index_path);
      std::optional<SegmentIndex> index;
      if (contents.ok()) index = ParseIndex(*contents, seg->base_offset, *size);
      if (index) {
        seg->first_offset = index->first_offset;
        seg->next_offset = index->next_offset;
        seg->bytes = index->log_bytes;
        seg->max_timestamp = index->max_timestamp;
        seg->index = std::move(index->entries);
        seg->skipped = std::move(index->skipped);
        trusted_index = true;
      }
    }
    if (!trusted_index) {
      Result<std::unique_ptr<RandomAccessFile>> reader = io_->OpenReadable(path);
      if (!reader.ok()) return reader.status();
      ScanOptions scan_options{.is_last = is_last,
                               .skip_corrupt = options_.skip_corrupt,
                               .index_interval_bytes = options_.index_interval_bytes};
      Result<SegmentScan> scan = ScanSegment(**reader, seg->name, *size, seg->base_offset, scan_options);
      if (!scan.ok()) return scan.status();
      ++recovery_.segments_verified;
      recovery_.records_verified += scan->records;
      recovery_.bytes_verified += *size;
      seg->first_offset = scan->first_offset;
      seg->next_offset = scan->next_offset;
      seg->bytes = scan->valid_bytes;
      seg->max_timestamp = scan->max_timestamp;
      seg->index = std::move(scan->index);
      for (const Damage& d : scan->damage) {
        seg->skipped.push_back(d.bytes);
        SkippedRange r{seg->name, d.bytes.begin, d.bytes.end, d.first_missing_offset,
                       d.resume_offset ? *d.resume_offset - 1 : 0, DescribeDamage(seg->name, d, !is_last)};
        spdlog::error("log: skipping damaged range (skip_corrupt): {}", r.description);
        recovery_.skipped.push_back(std::move(r));
      }
      if (scan->torn_bytes > 0) {
        spdlog::warn(
            "log: segment {}: cut a torn tail of {} bytes at byte {} ({}): a write interrupted by a crash, "
            "never confirmed; not corruption",
            seg->name, scan->torn_bytes, scan->valid_bytes, ParseResultName(scan->torn_why));
        recovery_.torn_segment = seg->name;
        recovery_.torn_bytes = scan->torn_bytes;
        if (Status s = io_->Truncate(path, scan->valid_bytes); !s.ok()) return s;
      }
      if (!is_last) {
        const std::string wanted = SerializeIndex(IndexOf(*seg));
        Result<std::string> existing = ReadSmallFile(io_, index_path);
        if (!existing.ok() || *existing != wanted) {
          WriteIndexFile(*seg);
          ++recovery_.indexes_written;
        }
      } else if (index_bases.count(seg->base_offset) > 0) {
        (void)io_->Remove(index_path);  // the active segment's index lives in memory only
      }
    }

    if (!segments_.empty()) {
      FileSegment& prev = *segments_.back();
      if (seg->base_offset < prev.next_offset) {
        return DataLoss("segments " + prev.name + " and " + seg->name + " overlap: the first holds offsets up to " +
                        std::to_string(prev.next_offset - 1));
      }
      if (seg->base_offset > prev.next_offset) {
        const bool prev_ends_damaged = !prev.skipped.empty() && prev.skipped.back().end == prev.bytes &&
                                       !recovery_.skipped.empty() && recovery_.skipped.back().segment == prev.name;
        if (prev_ends_damaged) {
          recovery_.skipped.back().last_offset = seg->base_offset - 1;
        } else {
          std::string m = "offsets " + std::to_string(prev.next_offset) + " to " +
                          std::to_string(seg->base_offset - 1) + " are in no segment: " + prev.name + " ends and " +
                          seg->name + " starts there (a segment file removed by hand?)";
          if (!options_.skip_corrupt) return DataLoss(m + " (open with skip_corrupt to go on without them)");
          spdlog::error("log: skipping missing offsets (skip_corrupt): {}", m);
          recovery_.skipped.push_back(SkippedRange{"", 0, 0, prev.next_offset, seg->base_offset - 1, m});
        }
      }
    }
    segments_.push_back(std::move(seg));
  }

  FileSegment& active = *segments_.back();
  Result<std::unique_ptr<WritableFile>> file = io_->OpenAppendable(PathOf(active.name));
  if (!file.ok()) return file.status();
  // What was recovered may still be only in the page cache (the previous process
  // died, the machine did not); make it durable before calling it durable.
  if (Status s = (*file)->Sync(); !s.ok()) return s;
  if (dir_changed) {
    if (Status s = io_->SyncDir(dir_); !s.ok()) return s;
  }
  active_file_ = std::move(*file);
  active_flushed_bytes_.store(active.bytes);
  next_offset_.store(active.next_offset);
  flushed_next_.store(active.next_offset);
  durable_.store(active.next_offset - 1);
  UpdateFirstOffset();
  recovery_.segments = segments_.size();
  recovery_.open_time =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  spdlog::debug("log: opened {}: {} segments, offsets {} to {}; verified {} records ({} bytes) in {} ms", dir_,
               segments_.size(), first_offset(), active.next_offset - 1, recovery_.records_verified,
               recovery_.bytes_verified, recovery_.open_time.count() / 1000.0);
  return Status::Ok();
}

Status FileStore::Fail(Status status) {
  std::lock_guard lock(failure_mu_);
  if (!failed_.load(std::memory_order_relaxed)) {
    spdlog::error("log: {}: I/O failed, no more appends until reopened: {}", dir_, status.ToString());
    failure_ = std::move(status);
    failed_.store(true, std::memory_order_release);
  }
  return failure_;
}

Status FileStore::failure() const {
  std::lock_guard lock(failure_mu_);
  return failure_;
}

void FileStore::UpdateFirstOffset() {
  for (const auto& s : segments_) {
    if (!s->empty()) {
      first_offset_.store(s->first_offset, std::memory_order_release);
      return;
    }
  }
  first_offset_.store(next_offset_.load(), std::memory_order_release);
}

std::uint64_t FileStore::total_bytes() const {
  std::uint64_t total = 0;
  for (const auto& s : segments_) total += s->bytes;
  return total;
}

Result<std::uint64_t> FileStore::Append(std::string_view topic, std::string_view event, std::int64_t timestamp_ms) {
  if (topic.size() > lf::kMaxTopicBytes) return InvalidArgument("topic is over 65535 bytes");
  if (topic.size() + event.size() > lf::kMaxPayloadBytes) return InvalidArgument("record is over 64 MiB");
  return AppendRecord(RecordSize(topic.size(), event.size()), 1, timestamp_ms, [&](std::uint64_t offset) {
    EncodeRecord(&buffer_, offset, timestamp_ms, topic, event);
  });
}

Result<std::uint64_t> FileStore::AppendBatch(const std::vector<EventRef>& events, bool atomic,
                                             std::int64_t timestamp_ms) {
  if (Status s = CheckBatch(events); !s.ok()) return s;
  return AppendRecord(lf::kHeaderSize + BatchPayloadSize(events), static_cast<std::uint32_t>(events.size()),
                      timestamp_ms, [&](std::uint64_t offset) {
                        EncodeBatchRecord(&buffer_, offset, timestamp_ms, atomic, events);
                      });
}

Result<std::uint64_t> FileStore::AppendRecord(std::uint64_t size, std::uint32_t count, std::int64_t timestamp_ms,
                                              const std::function<void(std::uint64_t)>& encode) {
  if (failed_.load(std::memory_order_acquire)) return failure();
  FileSegment* seg = segments_.back().get();
  if (seg->bytes > 0 && seg->bytes + size > options_.segment_bytes) {
    if (Status s = Roll(); !s.ok()) return s;
    seg = segments_.back().get();
  }
  std::uint64_t offset;
  std::size_t buffered;
  {
    std::lock_guard lock(buffer_mu_);
    offset = next_offset_.load(std::memory_order_relaxed);
    encode(offset);
    // seq_cst: pairs with the group committer's check for pending work before it sleeps.
    next_offset_.store(offset + count, std::memory_order_seq_cst);
    buffered = buffer_.size();
  }
  if (seg->index.empty() || seg->bytes - seg->index.back().position >= options_.index_interval_bytes) {
    seg->index.push_back(IndexEntry{offset, seg->bytes, seg->max_timestamp});
  }
  // An empty store has first_offset() == next_offset() == offset already.
  if (seg->empty()) seg->first_offset = offset;
  seg->next_offset = offset + count;
  seg->bytes += size;
  seg->max_timestamp = std::max(seg->max_timestamp, timestamp_ms);
  if (buffered >= options_.write_buffer_bytes) {
    std::lock_guard lock(write_mu_);
    if (Status s = FlushLocked(); !s.ok()) return s;
  }
  return offset;
}

Status FileStore::FlushLocked() {
  if (failed_.load(std::memory_order_acquire)) return failure();
  std::uint64_t end;
  {
    std::lock_guard lock(buffer_mu_);
    if (buffer_.empty()) return Status::Ok();
    buffer_.swap(spare_);
    end = next_offset_.load(std::memory_order_relaxed);
  }
  // The write happens outside buffer_mu_: the owner keeps appending meanwhile.
  Status s = active_file_->Append(spare_);
  const std::size_t n = spare_.size();
  spare_.clear();
  if (spare_.capacity() > 4 * (options_.write_buffer_bytes + (64 << 10))) std::string().swap(spare_);
  if (!s.ok()) return Fail(std::move(s));
  active_flushed_bytes_.fetch_add(n, std::memory_order_release);
  flushed_next_.store(end, std::memory_order_release);
  return Status::Ok();
}

Status FileStore::Flush() {
  std::lock_guard lock(write_mu_);
  return FlushLocked();
}

Result<std::uint64_t> FileStore::Sync() {
  std::lock_guard sync_lock(sync_mu_);
  std::shared_ptr<WritableFile> file;
  std::uint64_t end;
  {
    std::lock_guard lock(write_mu_);
    if (Status s = FlushLocked(); !s.ok()) return s;
    file = active_file_;
    end = flushed_next_.load(std::memory_order_acquire);
  }
  if (end - 1 <= durable_.load(std::memory_order_acquire)) return durable_.load();
  // Appends go on while this fdatasync runs; they are batched into the next Sync. If
  // a Roll switched files meanwhile, it fdatasynced this file itself: syncing it again
  // is harmless, and records in the new file are not claimed here.
  if (Status s = file->Sync(); !s.ok()) return Fail(std::move(s));
  AtomicMax(durable_, end - 1);
  return durable_.load(std::memory_order_acquire);
}

Status FileStore::Roll() {
  FileSegment& old = *segments_.back();
  const std::uint64_t base = next_offset_.load(std::memory_order_relaxed);
  auto seg = std::make_unique<FileSegment>();
  seg->base_offset = seg->first_offset = seg->next_offset = base;
  seg->name = SegmentFileName(base);
  {
    std::lock_guard lock(write_mu_);
    if (Status s = FlushLocked(); !s.ok()) return s;
    // The old segment must be complete on disk before the new one exists: recovery
    // treats damage in any segment but the last as corruption, not a torn tail.
    if (Status s = active_file_->Sync(); !s.ok()) return Fail(std::move(s));
    Result<std::unique_ptr<WritableFile>> file = io_->OpenAppendable(PathOf(seg->name));
    if (!file.ok()) return Fail(file.status());
    // The new name must be durable before anything in the file is called durable.
    if (Status s = io_->SyncDir(dir_); !s.ok()) return Fail(std::move(s));
    active_file_ = std::move(*file);
    active_flushed_bytes_.store(0, std::memory_order_release);
  }
  AtomicMax(durable_, base - 1);
  WriteIndexFile(old);
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

void FileStore::WriteIndexFile(const FileSegment& segment) {
  const std::string path = PathOf(IndexFileName(segment.base_offset));
  const std::string tmp = path + lf::kTempSuffix;
  Status s = io_->WriteFile(tmp, SerializeIndex(IndexOf(segment)));
  if (s.ok()) s = io_->Rename(tmp, path);
  // Only a cache: without it the next open scans the segment.
  if (!s.ok()) spdlog::warn("log: could not write index {}: {}", path, s.ToString());
}

Result<const RandomAccessFile*> FileStore::ReaderFor(FileSegment& segment) {
  segment.last_used = ++read_tick_;
  if (segment.reader != nullptr) return segment.reader.get();
  if (open_readers_ >= kMaxOpenReaders) {
    FileSegment* lru = nullptr;
    for (auto& s : segments_) {
      if (s->reader != nullptr && s.get() != &segment && (lru == nullptr || s->last_used < lru->last_used)) {
        lru = s.get();
      }
    }
    if (lru != nullptr) {
      lru->reader.reset();
      --open_readers_;
    }
  }
  Result<std::unique_ptr<RandomAccessFile>> file = io_->OpenReadable(PathOf(segment.name));
  if (!file.ok()) return file.status();
  segment.reader = std::move(*file);
  ++open_readers_;
  return segment.reader.get();
}

Result<std::uint64_t> FileStore::ReadableLimit(FileSegment& segment, std::uint64_t need_pos, bool flush) {
  if (&segment != segments_.back().get()) return segment.bytes;
  std::uint64_t limit = active_flushed_bytes_.load(std::memory_order_acquire);
  if ((flush || need_pos >= limit) && segment.bytes > limit) {
    if (Status s = Flush(); !s.ok()) return s;
    limit = active_flushed_bytes_.load(std::memory_order_acquire);
  }
  return std::min(limit, segment.bytes);
}

Status FileStore::VisitRecords(FileSegment& seg, std::uint64_t pos, std::uint64_t expected,
                               const std::function<bool(const RecordView&)>& visit, std::uint64_t step_below) {
  Result<const RandomAccessFile*> reader = ReaderFor(seg);
  if (!reader.ok()) return reader.status();
  if (read_window_ == nullptr) read_window_ = std::make_unique<SegmentWindow>(*reader, kReadWindowBytes);
  read_window_->Reset(*reader);
  SegmentWindow& window = *read_window_;
  std::size_t skip = 0;
  bool counted = true;   // `expected` is the offset of the record at pos, not a lower bound
  bool stepped = false;  // records were stepped over unverified since the last verified one
  while (pos < seg.bytes) {
    while (skip < seg.skipped.size() && seg.skipped[skip].end <= pos) ++skip;
    if (skip < seg.skipped.size() && seg.skipped[skip].begin <= pos) {
      pos = seg.skipped[skip].end;
      counted = false;  // the offsets inside a skipped range are unknown:
      stepped = false;  // the next record may carry any higher one
      continue;
    }
    if (counted && expected < step_below) {
      Result<std::uint64_t> limit = ReadableLimit(seg, pos, false);
      if (!limit.ok()) return limit.status();
      Result<std::string_view> head = window.Peek(pos, lf::kHeaderSize, *limit);
      if (!head.ok()) return head.status();
      std::uint64_t size = 0;
      std::uint32_t count = 0;
      ParseResult r = CheckHeader(head->data(), head->size(), &size, &count);
      // A batch holding `step_below` is read, not stepped over.
      if (r == ParseResult::kOk && pos + size <= seg.bytes && expected + count <= step_below) {
        pos += size;
        expected += count;
        stepped = true;
        continue;
      }
      // Too short or implausible: the walk below verifies it and says what is wrong.
    }
    RecordView rec;
    ParseResult r = ParseResult::kIncomplete;
    // A record of the active segment may be partly still in the write buffer: then
    // flush once and parse again.
    for (bool flush = false;; flush = true) {
      Result<std::uint64_t> limit = ReadableLimit(seg, pos, flush);
      if (!limit.ok()) return limit.status();
      Result<std::string_view> head = window.Peek(pos, lf::kHeaderSize, *limit);
      if (!head.ok()) return head.status();
      std::uint64_t size = 0;
      r = CheckHeader(head->data(), head->size(), &size);
      if (r == ParseResult::kOk) {
        Result<std::string_view> whole = window.Peek(pos, size, *limit);
        if (!whole.ok()) return whole.status();
        r = ParseRecord(whole->data(), whole->size(), &rec);
      }
      if (r != ParseResult::kIncomplete || flush || *limit >= seg.bytes) break;
    }
    if (r == ParseResult::kOk && rec.offset < expected) r = ParseResult::kBadHeader;
    if (r == ParseResult::kOk && stepped && rec.offset != expected) r = ParseResult::kBadHeader;
    if (r != ParseResult::kOk) {
      return DataLoss("segment " + seg.name + ": " + ParseResultName(r) + " in the record at byte " +
                      std::to_string(pos) + " (offset " + std::to_string(expected) +
                      " or later); it is not returned. Reopen the log to see the damaged range");
    }
    if (!visit(rec)) return Status::Ok();
    expected = rec.offset + rec.count;
    counted = true;
    stepped = false;
    pos += rec.size;
  }
  return Status::Ok();
}

namespace {

// The index entry to start a search for `offset` at: the last one at or before it.
const IndexEntry* EntryFor(const std::vector<IndexEntry>& index, std::uint64_t offset) {
  auto it = std::upper_bound(index.begin(), index.end(), offset,
                             [](std::uint64_t o, const IndexEntry& e) { return o < e.offset; });
  return it == index.begin() ? nullptr : &*(it - 1);
}

}  // namespace

Result<std::vector<Record>> FileStore::Read(std::uint64_t from, std::size_t max_records, std::size_t max_bytes) {
  std::vector<Record> out;
  if (max_records == 0) return out;
  from = std::max(from, first_offset());
  if (from >= next_offset_.load(std::memory_order_relaxed)) return out;
  auto it = std::upper_bound(segments_.begin(), segments_.end(), from,
                             [](std::uint64_t o, const auto& s) { return o < s->base_offset; });
  std::size_t i = it == segments_.begin() ? 0 : static_cast<std::size_t>(it - segments_.begin()) - 1;
  std::size_t bytes = 0;
  bool full = false;
  for (; i < segments_.size() && !full; ++i) {
    FileSegment& seg = *segments_[i];
    if (seg.empty() || seg.next_offset <= from) continue;
    const IndexEntry* entry = EntryFor(seg.index, from);
    if (entry == nullptr && !seg.index.empty()) entry = &seg.index.front();
    const std::uint64_t pos = entry != nullptr ? entry->position : 0;
    const std::uint64_t expected = entry != nullptr ? entry->offset : seg.first_offset;
    Status s = VisitRecords(seg, pos, expected, [&](const RecordView& rec) {
      if (rec.offset + rec.count <= from) return true;
      const std::size_t size = rec.batch ? rec.entries.size() : rec.topic.size() + rec.event.size();
      if (!out.empty() && bytes + size > max_bytes) {
        full = true;
        return false;
      }
      // A batch's events come out together: no limit splits them.
      ForEachEvent(rec, [&](std::uint64_t offset, std::string_view topic, std::string_view event) {
        if (offset < from) return;
        Record& r = out.emplace_back(Record{offset, rec.timestamp_ms, std::string(topic), std::string(event)});
        if (rec.atomic) {
          r.unit_first = rec.offset;
          r.unit_size = rec.count;
        }
      });
      bytes += size;
      if (out.size() >= max_records) {
        full = true;
        return false;
      }
      return true;
    }, /*step_below=*/from);
    // Damage after some good records: return those; the next Read, starting at the
    // damaged record, reports it.
    if (!s.ok()) {
      if (s.code() == StatusCode::kDataLoss && !out.empty()) return out;
      return s;
    }
  }
  return out;
}

Result<std::uint64_t> FileStore::OffsetForTime(std::int64_t timestamp_ms) {
  for (auto& s : segments_) {
    FileSegment& seg = *s;
    if (seg.empty() || seg.max_timestamp < timestamp_ms) continue;
    // max_timestamp_before never decreases along the index: every record before the
    // first entry whose value reaches timestamp_ms is older, so start one entry back.
    auto it = std::partition_point(seg.index.begin(), seg.index.end(),
                                   [&](const IndexEntry& e) { return e.max_timestamp_before < timestamp_ms; });
    const IndexEntry* entry = it == seg.index.begin() ? (seg.index.empty() ? nullptr : &seg.index.front()) : &*(it - 1);
    std::optional<std::uint64_t> found;
    Status st = VisitRecords(seg, entry != nullptr ? entry->position : 0,
                             entry != nullptr ? entry->offset : seg.first_offset, [&](const RecordView& rec) {
                               if (rec.timestamp_ms < timestamp_ms) return true;
                               found = rec.offset;
                               return false;
                             });
    if (!st.ok()) return st;
    if (found) return *found;
  }
  return next_offset_.load(std::memory_order_relaxed);
}

Status FileStore::ApplyRetention(std::int64_t now_ms) {
  const RetentionPolicy& r = options_.retention;
  std::uint64_t total = total_bytes();
  while (segments_.size() > 1) {
    FileSegment& oldest = *segments_.front();
    const bool too_big = r.max_bytes > 0 && total > r.max_bytes;
    const bool too_old = r.max_age.count() > 0 && oldest.max_timestamp < now_ms - r.max_age.count();
    if (!too_big && !too_old) break;
    // Not made durable with a directory fsync: a segment that comes back after a crash
    // is still a valid, older part of the log, and the next ApplyRetention removes it.
    if (Status s = io_->Remove(PathOf(oldest.name)); !s.ok()) return s;
    Status s = io_->Remove(PathOf(IndexFileName(oldest.base_offset)));
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      spdlog::warn("log: could not remove index of {}: {}", oldest.name, s.ToString());
    }
    spdlog::info("log: retention removed {} (offsets {} to {}, {} bytes)", oldest.name, oldest.first_offset,
                 oldest.next_offset - 1, oldest.bytes);
    if (oldest.reader != nullptr) --open_readers_;
    total -= oldest.bytes;
    segments_.pop_front();
  }
  UpdateFirstOffset();
  return Status::Ok();
}

}  // namespace signalbus::eventlog
