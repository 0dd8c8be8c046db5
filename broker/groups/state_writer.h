// StateWriter: the thread that puts group state files on disk, so that their fsyncs do
// not stall the broker's poll thread. The poll thread encodes a snapshot of a group's
// state and hands over the whole file; the writer replaces the file with it the way
// WriteFileAtomically does (tmp, fdatasync, rename, fsync of the directory) and hands
// back, per write, whether it reached the disk.
//
// Per file only the newest contents waiting are written: contents handed over while an
// older version still waits replace it (the older one is never written and reports
// nothing), and a version is never written after a newer one. Files are written in the
// order they were first queued, in batches of what waits: each file's tmp written and
// fdatasynced, renamed, then one fsync of the directory for the batch (a burst of new
// groups costs one directory sync per batch, not per group).
//
// The writer signals an eventfd (wake_fd()) whenever outcomes are ready, so the poll
// thread can wait for them with the rest of its sockets.
//
// Thread-safe. Submit, TakeOutcomes and WaitIdle are meant for one thread (the poll
// thread); the writing happens on the writer's own thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/log/file_io.h"

namespace signalbus::groups {

class StateWriter {
 public:
  struct Outcome {
    std::string name;  // the file name in the writer's directory
    std::uint64_t version = 0;
    Status status;  // OK: this version is on disk
  };

  // REQUIRES: io outlives the writer (it must be thread-safe, as FileIo is).
  StateWriter(eventlog::FileIo* io, std::string dir);
  // Writes everything still waiting, then stops the thread.
  ~StateWriter();
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  // Queues `contents` as `dir/name`, replacing an older version of it still waiting.
  // REQUIRES: version is above every version handed over before for `name` (aborts).
  void Submit(const std::string& name, std::uint64_t version, std::string contents);
  // What became of the writes finished since the last call, in the order they finished.
  std::vector<Outcome> TakeOutcomes();
  // Blocks until nothing waits and nothing is being written.
  void WaitIdle();
  // Forgets the versions handed over for `name`, so a new file of that name (a group
  // deleted and created again) may start from version 1.
  // REQUIRES: nothing of `name` waits or is being written (after WaitIdle).
  void Forget(const std::string& name);
  // Nothing waits, nothing is being written, and every outcome has been taken.
  bool idle() const;
  // Readable while outcomes wait to be taken; TakeOutcomes() resets it.
  int wake_fd() const { return wake_fd_; }

 private:
  struct Waiting {
    std::uint64_t version = 0;
    std::string contents;
  };

  void Run();
  void Wake();

  eventlog::FileIo* const io_;
  const std::string dir_;
  const int wake_fd_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // something to write, or stop
  std::condition_variable idle_cv_;  // the queue ran dry
  std::unordered_map<std::string, Waiting> waiting_;
  std::deque<std::string> order_;  // names in waiting_, oldest first
  std::unordered_map<std::string, std::uint64_t> last_version_;  // highest handed over, per name
  std::vector<Outcome> outcomes_;
  bool writing_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace signalbus::groups
