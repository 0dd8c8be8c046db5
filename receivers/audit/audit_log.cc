// Appending NDJSON lines durably: one write() per batch on an O_APPEND descriptor, then
// fdatasync; a failed write is cut back so a retry does not follow a torn line.
#include "audit/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "signalbus/core/event_json.h"

namespace signalbus::audit {
namespace {

Status Errno(const std::string& what, const std::string& path, int error) {
  return Unavailable(what + " " + path + ": " + std::strerror(error));
}

}  // namespace

Result<AuditLog> AuditLog::Open(const std::string& path) {
  if (path.empty()) return InvalidArgument("audit file path is empty");
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return Unavailable("cannot create directory " + parent.string() + ": " + ec.message());
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot open", path, errno);
  AuditLog log(path, fd);

  struct stat st {};
  if (::fstat(fd, &st) != 0) return Errno("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + " is not a regular file");
  if (st.st_size > 0) {
    // A separate read-only descriptor: the log's own is write-only.
    int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (rfd < 0) return Errno("cannot read", path, errno);
    char last = '\n';
    ssize_t n = ::pread(rfd, &last, 1, st.st_size - 1);
    int error = errno;
    ::close(rfd);
    if (n != 1) return Errno("cannot read", path, n < 0 ? error : EIO);
    if (last != '\n') {
      log.batch_ = "\n";
      if (Status s = log.Sync(); !s.ok()) return s;
    }
  }
  return log;
}

AuditLog::AuditLog(AuditLog&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      batch_(std::move(other.batch_)),
      pending_lines_(std::exchange(other.pending_lines_, 0)) {}

AuditLog& AuditLog::operator=(AuditLog&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    batch_ = std::move(other.batch_);
    pending_lines_ = std::exchange(other.pending_lines_, 0);
  }
  return *this;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status AuditLog::Append(const v1::Event& event) {
  Result<std::string> json = EventToJson(event);
  if (!json.ok()) return json.status();
  batch_ += *json;
  batch_.push_back('\n');
  ++pending_lines_;
  return Status::Ok();
}

Status AuditLog::Sync() {
  if (batch_.empty()) return Status::Ok();
  struct stat st {};
  const bool sized = ::fstat(fd_, &st) == 0;
  std::size_t written = 0;
  Status status;
  while (written < batch_.size()) {
    ssize_t n = ::write(fd_, batch_.data() + written, batch_.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      status = Errno("cannot write to", path_, errno);
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (status.ok()) {
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) {
        status = Errno("cannot fdatasync", path_, errno);
        break;
      }
    }
  }
  if (!status.ok() && written > 0 && sized) {
    // Another process appending at the same time could have written after us; cutting
    // then would lose its lines. Only cut when the file ends where our write ended.
    struct stat now {};
    if (::fstat(fd_, &now) == 0 && now.st_size == st.st_size + static_cast<off_t>(written)) {
      (void)!::ftruncate(fd_, st.st_size);
    }
  }
  batch_.clear();
  pending_lines_ = 0;
  return status;
}

}  // namespace signalbus::audit
