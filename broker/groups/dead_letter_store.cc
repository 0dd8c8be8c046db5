// DeadLetterStore. Appends are buffered in memory and reach the disk at Sync, which the
// coordinator runs before writing the group's state file: a state file never records
// an offset as finished by dead-lettering unless the letter is on disk first.
#include "dead_letter_store.h"

#include <spdlog/spdlog.h>

#include "group_state.pb.h"
#include "record_file.h"
#include "state_file.h"

namespace signalbus::groups {

namespace {
constexpr std::uint8_t kAddRecord = 1;
constexpr std::uint8_t kRemoveRecord = 2;
// Compact when the file is over this size and more than half of it is dead.
constexpr std::uint64_t kCompactMinBytes = 1 << 20;
}  // namespace

DeadLetterStore::DeadLetterStore(eventlog::FileIo* io, std::string dir, std::string group)
    : io_(io), dir_(std::move(dir)), group_(std::move(group)) {}

DeadLetterStore::~DeadLetterStore() = default;

std::string DeadLetterStore::path() const { return dir_ + "/" + DeadLetterFileName(group_); }

Status DeadLetterStore::Load() {
  if (!persistent()) return Status::Ok();
  const std::string file = path();
  if (!io_->FileSize(file).ok()) return Status::Ok();  // no dead letters yet
  Result<std::string> bytes = ReadWholeFile(*io_, file);
  if (!bytes.ok()) return bytes.status();
  Result<ParsedFile> parsed = ParseFile(*bytes, kDeadLetterMagic, file, /*allow_torn_tail=*/true);
  if (!parsed.ok()) return parsed.status();
  for (const RecordView& r : parsed->records) {
    if (r.type == kAddRecord) {
      Entry entry;
      if (!entry.letter.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
        return DataLoss(file + ": file is damaged: a dead letter does not parse");
      }
      entry.record_bytes = kRecordHeaderSize + r.payload.size();
      std::uint64_t offset = entry.letter.offset();
      if (auto it = entries_.find(offset); it != entries_.end()) live_bytes_ -= it->second.record_bytes;
      live_bytes_ += entry.record_bytes;
      entries_[offset] = std::move(entry);
    } else if (r.type == kRemoveRecord) {
      internal::DeadLetterRemoval removal;
      if (!removal.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
        return DataLoss(file + ": file is damaged: a removal record does not parse");
      }
      for (std::uint64_t offset : removal.offsets()) {
        if (auto it = entries_.find(offset); it != entries_.end()) {
          live_bytes_ -= it->second.record_bytes;
          entries_.erase(it);
        }
      }
    } else {
      return DataLoss(file + ": file is damaged: unknown record type " + std::to_string(r.type));
    }
  }
  file_bytes_ = parsed->valid_bytes;
  if (parsed->torn_tail) {
    // The broker died while appending; the records before it are whole and were all
    // that could have been relied on.
    spdlog::warn("{}: cutting a torn record at byte {} ({} bytes)", file, parsed->valid_bytes,
                 bytes->size() - parsed->valid_bytes);
    Status s = parsed->valid_bytes == 0 ? io_->Remove(file) : io_->Truncate(file, parsed->valid_bytes);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

void DeadLetterStore::AppendAdd(const Entry& entry) {
  AppendRecord(kAddRecord, entry.letter.SerializeAsString(), &pending_);
}

void DeadLetterStore::AppendRemove(std::uint64_t offset) {
  internal::DeadLetterRemoval removal;
  removal.add_offsets(offset);
  AppendRecord(kRemoveRecord, removal.SerializeAsString(), &pending_);
}

void DeadLetterStore::Erase(std::map<std::uint64_t, Entry>::iterator it) {
  if (it->second.replaying) --replaying_;
  live_bytes_ -= it->second.record_bytes;
  entries_.erase(it);
}

void DeadLetterStore::Add(v1::DeadLetter letter) {
  std::uint64_t offset = letter.offset();
  if (auto it = entries_.find(offset); it != entries_.end()) Erase(it);
  Entry entry;
  entry.letter = std::move(letter);
  entry.record_bytes = kRecordHeaderSize + entry.letter.ByteSizeLong();
  if (persistent()) AppendAdd(entry);
  live_bytes_ += entry.record_bytes;
  entries_.emplace(offset, std::move(entry));
}

std::optional<v1::DeadLetter> DeadLetterStore::TakeForReplay(std::uint64_t offset) {
  auto it = entries_.find(offset);
  if (it == entries_.end() || it->second.replaying) return std::nullopt;
  it->second.replaying = true;
  ++replaying_;
  return it->second.letter;
}

void DeadLetterStore::FinishReplay(std::uint64_t offset) {
  auto it = entries_.find(offset);
  if (it == entries_.end() || !it->second.replaying) return;
  Erase(it);
  if (persistent()) AppendRemove(offset);
}

void DeadLetterStore::ReturnReplay(std::uint64_t offset) {
  auto it = entries_.find(offset);
  if (it == entries_.end() || !it->second.replaying) return;
  it->second.replaying = false;
  --replaying_;
}

bool DeadLetterStore::Purge(std::uint64_t offset) {
  auto it = entries_.find(offset);
  if (it == entries_.end() || it->second.replaying) return false;
  Erase(it);
  if (persistent()) AppendRemove(offset);
  return true;
}

std::vector<const v1::DeadLetter*> DeadLetterStore::List(std::uint64_t after, std::size_t limit) const {
  std::vector<const v1::DeadLetter*> out;
  for (auto it = entries_.upper_bound(after); it != entries_.end() && out.size() < limit; ++it) {
    if (!it->second.replaying) out.push_back(&it->second.letter);
  }
  return out;
}

std::vector<std::uint64_t> DeadLetterStore::VisibleOffsets() const {
  std::vector<std::uint64_t> out;
  for (const auto& [offset, entry] : entries_) {
    if (!entry.replaying) out.push_back(offset);
  }
  return out;
}

Status DeadLetterStore::Sync() {
  if (!persistent() || pending_.empty()) return Status::Ok();
  if (rewrite_ || (file_bytes_ + pending_.size() > kCompactMinBytes && file_bytes_ + pending_.size() > 2 * live_bytes_)) {
    return Compact();
  }
  if (file_ == nullptr) {
    Result<std::unique_ptr<eventlog::WritableFile>> file = io_->OpenAppendable(path());
    if (!file.ok()) return file.status();
    file_ = std::move(*file);
    if (file_bytes_ == 0) {
      // A new file (or one whose header was torn and removed at Load).
      pending_.insert(0, FileHeader(kDeadLetterMagic));
    }
  }
  Status s = file_->Append(pending_);
  // A failed fdatasync cannot be retried on the same descriptor, and after a failed
  // write part of the records may be in the file: either way the next Sync replaces
  // the whole file rather than appending after bytes it cannot vouch for.
  if (s.ok()) s = file_->Sync();
  if (!s.ok()) {
    file_.reset();
    rewrite_ = true;
    return s;
  }
  file_bytes_ += pending_.size();
  pending_.clear();
  return Status::Ok();
}

Status DeadLetterStore::Compact() {
  // Everything the file must still say, including letters being replayed.
  std::string contents = FileHeader(kDeadLetterMagic);
  for (const auto& [offset, entry] : entries_) AppendRecord(kAddRecord, entry.letter.SerializeAsString(), &contents);
  file_.reset();
  if (Status s = WriteFileAtomically(*io_, dir_, DeadLetterFileName(group_), contents); !s.ok()) return s;
  file_bytes_ = contents.size();
  pending_.clear();
  rewrite_ = false;
  Result<std::unique_ptr<eventlog::WritableFile>> file = io_->OpenAppendable(path());
  if (file.ok()) file_ = std::move(*file);  // else reopened at the next Sync
  return Status::Ok();
}

}  // namespace signalbus::groups

