// AuditLog: the audit receiver's file. Every event becomes one line of NDJSON
// (EventToJson), appended. Lines are gathered in memory by Append() and written and
// fdatasync'ed by Sync(), which the receiver runs before it acks the batch: an acked
// event is on disk. Delivery is at-least-once, so the same event (same event_id) may
// appear more than once; readers that need each event once dedupe by event_id.
#pragma once

#include <cstddef>
#include <string>

#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus::audit {

// Not thread-safe: one writer (the Receiver's Run() thread). Several processes may append
// to one file: each Sync() is one write() of whole lines on an O_APPEND descriptor.
class AuditLog {
 public:
  // Opens or creates the file (and its directory) for appending. If the file ends in a
  // partial line (a writer died mid-write), a newline is added first so that the next
  // line starts clean; the partial line stays, for a person to look at.
  static Result<AuditLog> Open(const std::string& path);

  AuditLog(AuditLog&& other) noexcept;
  AuditLog& operator=(AuditLog&& other) noexcept;
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();

  // Adds the event's line to the batch. Fails only if the event cannot be printed.
  Status Append(const v1::Event& event);
  // Writes the batch and fdatasyncs. On failure the file is cut back to its size before
  // the write (best effort), the batch is dropped, and the error names the path: the
  // events were not acked, so the broker delivers them again.
  Status Sync();

  const std::string& path() const { return path_; }
  std::size_t pending_lines() const { return pending_lines_; }

 private:
  AuditLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_ = -1;
  std::string batch_;
  std::size_t pending_lines_ = 0;
};

}  // namespace signalbus::audit
