// The file system as the log sees it: the few operations it needs, behind an
// interface so tests can inject failures and simulate crashes
// (testing/fault_injection_file_io.h). posix_file_io.cc is the real one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/status.h"

namespace signalbus::eventlog {

// A file open for appending. Thread-safety: Append and Sync may run concurrently
// (one appender, one syncer), as write(2) and fdatasync(2) on one descriptor may.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the end of the file (retrying short writes). On error,
  // part of `data` may have been written.
  virtual Status Append(std::string_view data) = 0;
  // fdatasync: everything appended before the call is durable when it returns OK.
  virtual Status Sync() = 0;
  virtual const std::string& path() const = 0;
};

// A file open for positional reads. Thread-safe.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at `position` into scratch; returns the count, which is less
  // than n only at the end of the file.
  virtual Result<std::size_t> Read(std::uint64_t position, std::size_t n, char* scratch) const = 0;
  virtual const std::string& path() const = 0;
};

// Held while it lives; released by the destructor.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// Thread-safe.
class FileIo {
 public:
  virtual ~FileIo() = default;
  // Opens `path` for appending, creating it empty if missing.
  virtual Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) = 0;
  // Writes a whole new file at once (not synced): for small caches such as indexes.
  virtual Status WriteFile(const std::string& path, std::string_view contents) = 0;
  virtual Result<std::uint64_t> FileSize(const std::string& path) = 0;
  virtual Status Truncate(const std::string& path, std::uint64_t size) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..".
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;
  // Creates `dir` (and its parents) if missing.
  virtual Status CreateDir(const std::string& dir) = 0;
  // fsync on the directory: makes created, renamed and removed names durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // An exclusive advisory lock on `path` (created if missing); Unavailable if another
  // process holds it.
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;
};

// The POSIX implementation. Lives for the whole program.
FileIo* DefaultFileIo();

}  // namespace signalbus::eventlog
