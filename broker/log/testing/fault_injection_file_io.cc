// FaultInjectionFileIo: tracks, per file, the size at its last fdatasync and whether
// its creation is durable, and injects failures on request.
#include "fault_injection_file_io.h"

#include <algorithm>

namespace signalbus::eventlog::testing {

namespace {

std::string DirOf(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionFileIo* io, std::unique_ptr<WritableFile> base) : io_(io), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    std::size_t partial = 0;
    if (Status s = io_->BeforeWrite(&partial); !s.ok()) {
      if (partial > 0) (void)base_->Append(data.substr(0, std::min(partial, data.size())));
      return s;
    }
    return base_->Append(data);
  }

  Status Sync() override {
    if (Status s = io_->BeforeSync(); !s.ok()) return s;
    // What was written before fdatasync began is what it makes durable: a size read
    // after it could include another thread's later write, and two syncs racing
    // could record their sizes in either order.
    Result<std::uint64_t> size = io_->FileSize(base_->path());
    Status s = base_->Sync();
    if (s.ok() && size.ok()) io_->AfterSync(base_->path(), *size);
    return s;
  }

  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileIo* io_;
  std::unique_ptr<WritableFile> base_;
};

class FaultRandomAccessFile final : public RandomAccessFile {
 public:
  FaultRandomAccessFile(const FaultInjectionFileIo* io, std::unique_ptr<RandomAccessFile> base)
      : io_(io), base_(std::move(base)) {}

  Result<std::size_t> Read(std::uint64_t position, std::size_t n, char* scratch) const override {
    if (io_->reads_fail()) return Internal("injected read error on " + base_->path());
    return base_->Read(position, n, scratch);
  }
  const std::string& path() const override { return base_->path(); }

 private:
  const FaultInjectionFileIo* io_;
  std::unique_ptr<RandomAccessFile> base_;
};

void FaultInjectionFileIo::FailNthWrite(std::uint64_t n, std::size_t partial_bytes) {
  std::lock_guard lock(mu_);
  fail_write_at_ = n == 0 ? 0 : writes_ + n;
  partial_bytes_ = partial_bytes;
}

void FaultInjectionFileIo::FailNthSync(std::uint64_t n) {
  std::lock_guard lock(mu_);
  fail_sync_at_ = n == 0 ? 0 : syncs_ + n;
}

void FaultInjectionFileIo::Crash() {
  std::lock_guard lock(mu_);
  crashed_ = true;
}

void FaultInjectionFileIo::FailReads(bool fail) {
  std::lock_guard lock(mu_);
  fail_reads_ = fail;
}

bool FaultInjectionFileIo::reads_fail() const {
  std::lock_guard lock(mu_);
  return fail_reads_;
}

std::uint64_t FaultInjectionFileIo::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

std::uint64_t FaultInjectionFileIo::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

Status FaultInjectionFileIo::BeforeWrite(std::size_t* partial_bytes) {
  std::lock_guard lock(mu_);
  ++writes_;
  if (crashed_) return Unavailable("injected crash: the machine is down");
  if (fail_write_at_ != 0 && writes_ == fail_write_at_) {
    *partial_bytes = partial_bytes_;
    return Unavailable("injected write failure (no space left on device)");
  }
  return Status::Ok();
}

Status FaultInjectionFileIo::BeforeSync() {
  std::lock_guard lock(mu_);
  ++syncs_;
  if (crashed_) return Unavailable("injected crash: the machine is down");
  if (fail_sync_at_ != 0 && syncs_ == fail_sync_at_) return Internal("injected fdatasync failure (EIO)");
  return Status::Ok();
}

void FaultInjectionFileIo::AfterSync(const std::string& path, std::uint64_t synced_size) {
  std::lock_guard lock(mu_);
  std::uint64_t& synced = files_[path].synced_size;
  synced = std::max(synced, synced_size);
}

void FaultInjectionFileIo::TrackLocked(const std::string& path, bool existed) {
  if (files_.count(path) > 0) return;
  FileState state;
  if (existed) {
    Result<std::uint64_t> size = base_->FileSize(path);
    state.synced_size = size.ok() ? *size : 0;
  } else {
    state.created_since_dir_sync = true;
  }
  files_[path] = state;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionFileIo::OpenAppendable(const std::string& path) {
  const bool existed = base_->FileSize(path).ok();
  Result<std::unique_ptr<WritableFile>> file = base_->OpenAppendable(path);
  if (!file.ok()) return file.status();
  {
    std::lock_guard lock(mu_);
    TrackLocked(path, existed);
  }
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, std::move(*file)));
}

Result<std::unique_ptr<RandomAccessFile>> FaultInjectionFileIo::OpenReadable(const std::string& path) {
  Result<std::unique_ptr<RandomAccessFile>> file = base_->OpenReadable(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<RandomAccessFile>(new FaultRandomAccessFile(this, std::move(*file)));
}

Status FaultInjectionFileIo::WriteFile(const std::string& path, std::string_view contents) {
  std::size_t partial = 0;
  if (Status s = BeforeWrite(&partial); !s.ok()) return s;
  const bool existed = base_->FileSize(path).ok();
  if (Status s = base_->WriteFile(path, contents); !s.ok()) return s;
  std::lock_guard lock(mu_);
  TrackLocked(path, existed);
  files_[path].synced_size = 0;  // O_TRUNC, then nothing synced
  return Status::Ok();
}

Status FaultInjectionFileIo::Truncate(const std::string& path, std::uint64_t size) {
  if (Status s = base_->Truncate(path, size); !s.ok()) return s;
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second.synced_size = std::min(it->second.synced_size, size);
  return Status::Ok();
}

Status FaultInjectionFileIo::Rename(const std::string& from, const std::string& to) {
  if (Status s = base_->Rename(from, to); !s.ok()) return s;
  std::lock_guard lock(mu_);
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(from);
  }
  return Status::Ok();
}

Status FaultInjectionFileIo::Remove(const std::string& path) {
  if (Status s = base_->Remove(path); !s.ok()) return s;
  std::lock_guard lock(mu_);
  files_.erase(path);
  return Status::Ok();
}

Status FaultInjectionFileIo::SyncDir(const std::string& dir) {
  {
    std::lock_guard lock(mu_);
    if (crashed_) return Unavailable("injected crash: the machine is down");
  }
  if (Status s = base_->SyncDir(dir); !s.ok()) return s;
  std::lock_guard lock(mu_);
  for (auto& [path, state] : files_) {
    if (DirOf(path) == dir) state.created_since_dir_sync = false;
  }
  return Status::Ok();
}

Status FaultInjectionFileIo::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  for (const auto& [path, state] : files_) {
    Result<std::uint64_t> size = base_->FileSize(path);
    if (!size.ok()) continue;
    if (state.created_since_dir_sync) {
      if (Status s = base_->Remove(path); !s.ok()) return s;
    } else if (*size > state.synced_size) {
      if (Status s = base_->Truncate(path, state.synced_size); !s.ok()) return s;
    }
  }
  files_.clear();
  crashed_ = false;
  return Status::Ok();
}

}  // namespace signalbus::eventlog::testing
