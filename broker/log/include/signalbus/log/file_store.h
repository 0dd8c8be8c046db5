// FileStore: the broker's durable log. Records go to append-only segment files in one
// directory, each checksummed (CRC32C), each segment with a sparse index; format in
// log_format.h and docs/log-format.md. Open recovers: it verifies every record, cuts a
// torn tail, and refuses (or, if asked, skips) corruption.
//
// Write path: Append encodes into an in-memory buffer (no system call); Flush hands
// the buffer to the OS in one write(2); Sync flushes and fdatasyncs. Sync is meant to
// run on a group-commit thread (group_commit.h) while the owner keeps appending.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "signalbus/log/event_store.h"
#include "signalbus/log/file_io.h"

namespace signalbus::eventlog {

class SegmentWindow;

struct FileSegment;  // file_store.cc
struct RecordView;   // log_record.h

class FileStore final : public EventStore {
 public:
  struct Options {
    // A segment is sealed and a new one started when the next record would take the
    // active segment past this size (a larger record gets a segment of its own).
    std::uint64_t segment_bytes = kDefaultSegmentBytes;
    RetentionPolicy retention;
    // Append writes the buffer to the OS once it holds this much.
    std::size_t write_buffer_bytes = 1 << 20;
    // One index entry per this many bytes of records: a Read or OffsetForTime parses at
    // most this much before the record it wants. Memory: 16 bytes per entry.
    std::uint64_t index_interval_bytes = 16 << 10;
    // true: Open reads and verifies every record of every segment. false: a sealed
    // segment with a complete index file is trusted without reading it (faster open of
    // a large log; damage is then found only when a Read reaches it).
    bool verify_all_segments = true;
    // false: damage that is not a torn tail makes Open fail with DataLoss. true: the
    // damaged byte ranges are skipped (reported in recovery().skipped, logged as errors)
    // and the records in them are never delivered. The bytes stay in the file, so keep
    // this on for that directory until the segment ages out.
    bool skip_corrupt = false;
    bool create_if_missing = true;
    // nullptr: the real file system. Not owned; must outlive the store.
    FileIo* file_io = nullptr;
  };

  // A damaged range skipped at open (skip_corrupt).
  struct SkippedRange {
    std::string segment;  // file name
    std::uint64_t begin_byte = 0;
    std::uint64_t end_byte = 0;
    std::uint64_t first_offset = 0;  // offsets [first_offset, last_offset] are lost
    std::uint64_t last_offset = 0;   // 0: unknown (damage reached the end of a segment)
    std::string description;
  };

  // What Open found and did.
  struct RecoveryReport {
    std::size_t segments = 0;
    std::size_t segments_verified = 0;  // read in full (the rest trusted their index)
    std::uint64_t records_verified = 0;
    std::uint64_t bytes_verified = 0;
    std::chrono::microseconds open_time{0};
    std::string torn_segment;  // file name; empty if no torn tail
    std::uint64_t torn_bytes = 0;
    std::vector<SkippedRange> skipped;
    std::size_t indexes_written = 0;  // missing, damaged or stale index files replaced
  };

  // Opens (creating if allowed) the log in `dir` and recovers it (see the class
  // comment). Holds dir/LOCK until destroyed: Unavailable if another process has it.
  static Result<std::unique_ptr<FileStore>> Open(const std::string& dir, Options options);

  // Writes the buffer to the OS (no fdatasync). REQUIRES: no other thread is using the
  // store (stop the group committer first).
  ~FileStore() override;

  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  Result<std::uint64_t> Append(std::string_view topic, std::string_view event,
                               std::int64_t timestamp_ms) override;
  Result<std::uint64_t> AppendBatch(const std::vector<EventRef>& events, bool atomic,
                                    std::int64_t timestamp_ms) override;
  Status Flush() override;
  Result<std::uint64_t> Sync() override;
  std::uint64_t durable_offset() const override { return durable_.load(std::memory_order_acquire); }
  std::uint64_t flushed_offset() const override { return flushed_next_.load(std::memory_order_acquire) - 1; }
  std::uint64_t first_offset() const override { return first_offset_.load(std::memory_order_acquire); }
  std::uint64_t next_offset() const override { return next_offset_.load(std::memory_order_seq_cst); }
  Result<std::vector<Record>> Read(std::uint64_t from, std::size_t max_records,
                                   std::size_t max_bytes) override;
  Result<std::uint64_t> OffsetForTime(std::int64_t timestamp_ms) override;
  Status ApplyRetention(std::int64_t now_ms) override;

  // Owner thread only.
  const RecoveryReport& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }
  std::size_t segment_count() const { return segments_.size(); }
  // Total bytes of all segments (including buffered records).
  std::uint64_t total_bytes() const;

  // "00000000000000000001.log" for the segment whose first offset is 1.
  static std::string SegmentFileName(std::uint64_t base_offset);
  static std::string IndexFileName(std::uint64_t base_offset);

 private:
  FileStore(std::string dir, Options options, FileIo* io);

  Status Recover();
  Status Roll();
  // REQUIRES: write_mu_ held.
  Status FlushLocked();
  // The reads' buffer, kept from one Read to the next (owner thread only).
  std::unique_ptr<SegmentWindow> read_window_;
  // Appends one record of `size` bytes holding `count` offsets; encode(first offset)
  // writes it into buffer_ (under buffer_mu_).
  Result<std::uint64_t> AppendRecord(std::uint64_t size, std::uint32_t count, std::int64_t timestamp_ms,
                                     const std::function<void(std::uint64_t)>& encode);
  void WriteIndexFile(const FileSegment& segment);
  Status Fail(Status status);
  Status failure() const;
  void UpdateFirstOffset();
  Result<const RandomAccessFile*> ReaderFor(FileSegment& segment);
  // How many bytes of `segment` can be read now. For the active segment, flushes the
  // write buffer first if `need_pos` is not readable yet, or if `flush`.
  Result<std::uint64_t> ReadableLimit(FileSegment& segment, std::uint64_t need_pos, bool flush);
  // Calls visit for each record of `segment` from byte `pos` (where the record with
  // offset `expected` starts, or a later one after a range skipped at open) until visit
  // returns false or the segment ends. DataLoss at the first record that fails its
  // checks. Records whose offset is known by counting to be below `step_below` are not
  // visited and not verified: they are stepped over by their length field, so damage
  // inside one does not hide the records after it; the first record verified after
  // them must then carry exactly the counted offset, or the walk lost its way (a
  // damaged length) and it is DataLoss too.
  Status VisitRecords(FileSegment& segment, std::uint64_t pos, std::uint64_t expected,
                      const std::function<bool(const RecordView&)>& visit, std::uint64_t step_below = 0);
  std::string PathOf(const std::string& name) const { return dir_ + "/" + name; }

  const std::string dir_;
  const Options options_;
  FileIo* const io_;
  std::unique_ptr<FileLock> lock_;
  RecoveryReport recovery_;

  // Owner thread. back() is the active segment.
  std::deque<std::unique_ptr<FileSegment>> segments_;
  std::uint64_t read_tick_ = 0;
  std::size_t open_readers_ = 0;

  // Records appended but not yet written. Guards buffer_ and the increment of
  // next_offset_, so a swapped-out buffer always ends at the next_offset_ it saw.
  std::mutex buffer_mu_;
  std::string buffer_;

  // Serialises writes to the active file and the switch to a new one (Roll).
  std::mutex write_mu_;
  std::shared_ptr<WritableFile> active_file_;  // guarded by write_mu_
  std::string spare_;                          // guarded by write_mu_
  // Bytes of the active segment handed to the OS. Written under write_mu_.
  std::atomic<std::uint64_t> active_flushed_bytes_{0};

  std::mutex sync_mu_;  // one Sync at a time
  std::atomic<std::uint64_t> next_offset_{1};
  std::atomic<std::uint64_t> flushed_next_{1};  // one past the last offset written to the OS
  std::atomic<std::uint64_t> durable_{0};
  std::atomic<std::uint64_t> first_offset_{1};

  // Set once, by the first I/O error; every later write path returns it.
  std::atomic<bool> failed_{false};
  mutable std::mutex failure_mu_;
  Status failure_;
};

}  // namespace signalbus::eventlog
