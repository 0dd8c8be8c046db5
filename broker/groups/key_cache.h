// KeyCache: ordering-key hashes (KeyHash) of recent offsets, as the broker noted them at
// ingest (Coordinator::NoteKey), so groups need not decode an event just to learn its
// key. A window of consecutive offsets, one 4-byte hash each: it grows as the log grows
// and is trimmed behind the slowest group's cursor (ForgetBelow), so a group that lags
// the log by up to `capacity` offsets still finds every key here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace signalbus::groups {

class KeyCache {
 public:
  // The most offsets remembered (the oldest go first). 0: remembers nothing.
  explicit KeyCache(std::size_t capacity) : capacity_(capacity) {}

  // Offsets are normally noted in order, one after another; a gap is remembered as
  // unknown, a jump further than the capacity starts the window again, and an offset
  // before the window is ignored.
  // REQUIRES: key_hash < 2^32 (KeyHash).
  void Put(std::uint64_t offset, std::uint64_t key_hash) {
    if (capacity_ == 0) return;
    const auto hash = static_cast<std::uint32_t>(key_hash);
    if (offset < base_) return;
    if (offset - base_ < hashes_.size()) {
      hashes_[offset - base_] = hash;
      return;
    }
    const std::uint64_t gap = offset - base_ - hashes_.size();
    if (hashes_.empty() || gap >= capacity_) {
      hashes_.clear();
      base_ = offset;
    } else {
      hashes_.insert(hashes_.end(), gap, kUnknown);
    }
    hashes_.push_back(hash);
    while (hashes_.size() > capacity_) {
      hashes_.pop_front();
      ++base_;
    }
  }

  // The key hash noted for `offset` (0: the event has no key), or nullopt.
  std::optional<std::uint64_t> Get(std::uint64_t offset) const {
    if (offset < base_ || offset - base_ >= hashes_.size()) return std::nullopt;
    const std::uint32_t hash = hashes_[offset - base_];
    // A real hash equal to the marker is merely looked up again by decoding.
    if (hash == kUnknown) return std::nullopt;
    return hash;
  }

  // No group will read an offset below `offset` (the lowest cursor): drop them.
  void ForgetBelow(std::uint64_t offset) {
    while (!hashes_.empty() && base_ < offset) {
      hashes_.pop_front();
      ++base_;
    }
    if (hashes_.empty()) base_ = offset > base_ ? offset : base_;
  }

  std::size_t size() const { return hashes_.size(); }

 private:
  static constexpr std::uint32_t kUnknown = ~std::uint32_t{0};

  std::size_t capacity_;
  std::uint64_t base_ = 0;  // the offset of hashes_.front()
  std::deque<std::uint32_t> hashes_;
};

}  // namespace signalbus::groups
