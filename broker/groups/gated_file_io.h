// GatedFileIo: a FileIo for tests that holds back the opening of state-file temporaries
// (`*.state.tmp`) while its gate is shut, so a test can catch the state writer in the
// middle of a write. Everything else passes straight to the wrapped FileIo. Test-only.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include "signalbus/log/file_io.h"

namespace signalbus::groups::testing {

// Thread-safe.
class GatedFileIo final : public eventlog::FileIo {
 public:
  explicit GatedFileIo(eventlog::FileIo* base = eventlog::DefaultFileIo()) : base_(base) {}

  void Shut() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Blocks until a write is held at the shut gate.
  void WaitUntilHeld() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return held_ > 0; });
  }

  Result<std::unique_ptr<eventlog::WritableFile>> OpenAppendable(const std::string& path) override {
    if (path.ends_with(".state.tmp")) {
      std::unique_lock lock(mu_);
      ++held_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      --held_;
    }
    return base_->OpenAppendable(path);
  }
  Result<std::unique_ptr<eventlog::RandomAccessFile>> OpenReadable(const std::string& path) override {
    return base_->OpenReadable(path);
  }
  Status WriteFile(const std::string& path, std::string_view contents) override {
    return base_->WriteFile(path, contents);
  }
  Result<std::uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Status Truncate(const std::string& path, std::uint64_t size) override { return base_->Truncate(path, size); }
  Status Rename(const std::string& from, const std::string& to) override { return base_->Rename(from, to); }
  Status Remove(const std::string& path) override { return base_->Remove(path); }
  Result<std::vector<std::string>> List(const std::string& dir) override { return base_->List(dir); }
  Status CreateDir(const std::string& dir) override { return base_->CreateDir(dir); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Result<std::unique_ptr<eventlog::FileLock>> Lock(const std::string& path) override { return base_->Lock(path); }

 private:
  eventlog::FileIo* const base_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int held_ = 0;
};

}  // namespace signalbus::groups::testing
