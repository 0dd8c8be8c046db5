// FaultInjectionFileIo: a FileIo for tests that wraps a real one and can fail the Nth
// write or sync, fail reads, and simulate a machine crash: everything not fdatasynced
// is lost, and files whose creation was never made durable by a directory fsync vanish.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "signalbus/log/file_io.h"

namespace signalbus::eventlog::testing {

// Thread-safe.
class FaultInjectionFileIo final : public FileIo {
 public:
  explicit FaultInjectionFileIo(FileIo* base = DefaultFileIo()) : base_(base) {}

  // The nth WritableFile::Append from now (1 = the next one) fails with Unavailable,
  // after writing its first partial_bytes bytes (a short write then an error, as with
  // a disk filling up). 0 disarms.
  void FailNthWrite(std::uint64_t n, std::size_t partial_bytes = 0);
  // The nth WritableFile::Sync from now fails with Internal (EIO), having synced
  // nothing. 0 disarms.
  void FailNthSync(std::uint64_t n);
  // Every RandomAccessFile::Read fails while set.
  void FailReads(bool fail);

  // The machine dies now: from here on every write and sync fails (without effect)
  // until DropUnsyncedData, which then applies the loss.
  void Crash();

  // Simulates a power cut. Every file written through this FileIo is truncated to the
  // size it had at its last successful Sync (or when first opened, for files that
  // existed before); files created since their directory was last synced are removed.
  // REQUIRES: no store is open on these files (destroy it first: that is the crash).
  Status DropUnsyncedData();

  std::uint64_t writes() const;
  std::uint64_t syncs() const;

  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) override;
  Status WriteFile(const std::string& path, std::string_view contents) override;
  Result<std::uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Status Truncate(const std::string& path, std::uint64_t size) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Result<std::vector<std::string>> List(const std::string& dir) override { return base_->List(dir); }
  Status CreateDir(const std::string& dir) override { return base_->CreateDir(dir); }
  Status SyncDir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override { return base_->Lock(path); }

 private:
  friend class FaultWritableFile;
  friend class FaultRandomAccessFile;

  struct FileState {
    std::uint64_t synced_size = 0;
    bool created_since_dir_sync = false;
  };

  // Called by the wrapped files.
  Status BeforeWrite(std::size_t* partial_bytes);
  Status BeforeSync();
  void AfterSync(const std::string& path, std::uint64_t synced_size);
  bool reads_fail() const;
  // REQUIRES: mu_ held.
  void TrackLocked(const std::string& path, bool existed);

  FileIo* const base_;
  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;
  std::uint64_t writes_ = 0;
  std::uint64_t syncs_ = 0;
  std::uint64_t fail_write_at_ = 0;  // absolute count of writes_, 0: never
  std::size_t partial_bytes_ = 0;
  std::uint64_t fail_sync_at_ = 0;
  bool fail_reads_ = false;
  bool crashed_ = false;
};

}  // namespace signalbus::eventlog::testing
