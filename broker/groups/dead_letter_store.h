// DeadLetterStore: one group's dead-letter queue — events that failed max_deliver times
// (or could not be decoded), each with the error, attempts, time, topic and a copy of
// the event bytes, so they outlive log retention. Kept in memory and in
// <state_dir>/<group>.dlq, an append-only file of checksummed records (record_file.h):
// "add" records carry a v1::DeadLetter, "remove" records the offsets taken out. The file
// is rewritten atomically (compacted) when removed records dominate it.
//
// Replay is two-phase: a replayed letter leaves the visible queue at once but stays in
// the file until its new delivery is acked (FinishReplay), so a crash in between brings
// it back rather than losing it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/log/file_io.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::groups {

class DeadLetterStore {
 public:
  // io == nullptr or dir empty: memory only.
  DeadLetterStore(eventlog::FileIo* io, std::string dir, std::string group);
  ~DeadLetterStore();

  // Reads the file if it exists. A torn last record (a crash mid-append) is cut off and
  // logged; any other damage is DataLoss naming the file.
  Status Load();

  // Parks a letter, replacing any letter (visible or being replayed) for its offset.
  void Add(v1::DeadLetter letter);
  // Hides the letter for a replay and returns a copy to deliver; nullopt if there is no
  // visible letter for `offset`.
  std::optional<v1::DeadLetter> TakeForReplay(std::uint64_t offset);
  // The replayed delivery was acked: the letter is gone for good.
  void FinishReplay(std::uint64_t offset);
  // The replay was abandoned (the group was seeked): the letter is visible again.
  void ReturnReplay(std::uint64_t offset);
  // Removes a visible letter; false if there is none.
  bool Purge(std::uint64_t offset);

  // Visible letters above offset `after`, in offset order, at most `limit`.
  std::vector<const v1::DeadLetter*> List(std::uint64_t after, std::size_t limit) const;
  std::vector<std::uint64_t> VisibleOffsets() const;
  std::size_t size() const { return entries_.size() - replaying_; }

  // Records not yet on disk.
  bool dirty() const { return !pending_.empty(); }
  // Writes pending records and fdatasyncs; compacts the file when it is mostly dead.
  // On error the records stay pending and the next Sync rewrites the whole file.
  Status Sync();

  std::uint64_t file_bytes() const { return file_bytes_; }

 private:
  struct Entry {
    v1::DeadLetter letter;
    std::size_t record_bytes = 0;
    bool replaying = false;
  };

  void AppendAdd(const Entry& entry);
  void AppendRemove(std::uint64_t offset);
  void Erase(std::map<std::uint64_t, Entry>::iterator it);
  Status Compact();
  bool persistent() const { return io_ != nullptr && !dir_.empty(); }
  std::string path() const;

  eventlog::FileIo* io_;
  const std::string dir_;
  const std::string group_;
  std::map<std::uint64_t, Entry> entries_;
  std::size_t replaying_ = 0;
  std::string pending_;  // framed records to append
  std::unique_ptr<eventlog::WritableFile> file_;
  std::uint64_t file_bytes_ = 0;  // on disk (+ pending once synced)
  std::uint64_t live_bytes_ = 0;  // of add records whose letter is still here
  bool rewrite_ = false;          // a write failed: replace the file at the next Sync
};

}  // namespace signalbus::groups
