// KeyCache: ordering-key hashes (KeyHash) of recent offsets, as the broker noted them at
// ingest (Coordinator::NoteKey), so groups need not decode an event just to learn its
// key. A ring indexed by offset: an offset's slot is overwritten by a newer one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace signalbus::groups {

class KeyCache {
 public:
  // capacity 0: remembers nothing.
  explicit KeyCache(std::size_t capacity) : slots_(capacity) {}

  void Put(std::uint64_t offset, std::uint64_t key_hash) {
    if (slots_.empty()) return;
    slots_[offset % slots_.size()] = Slot{offset, key_hash};
  }
  // The key hash noted for `offset` (0: the event has no key), or nullopt.
  std::optional<std::uint64_t> Get(std::uint64_t offset) const {
    if (slots_.empty()) return std::nullopt;
    const Slot& s = slots_[offset % slots_.size()];
    if (s.offset != offset) return std::nullopt;
    return s.key_hash;
  }

 private:
  struct Slot {
    std::uint64_t offset = 0;  // 0: empty (offsets start at 1)
    std::uint64_t key_hash = 0;
  };
  std::vector<Slot> slots_;
};

}  // namespace signalbus::groups
