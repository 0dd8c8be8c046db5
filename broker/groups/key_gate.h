// KeyGate: per-key ordering within one group. At most one offset per ordering key is
// "through the gate" (ready, in flight, or awaiting a retry) at a time; later offsets of
// that key wait in the key's queue, in offset order, and go through one by one as the
// one before them finishes (acked or dead-lettered). Events without a key never come
// here.
//
// Keys are known by a 32-bit hash (KeyHash). Two different keys with the same hash
// share a queue: that only serialises them, it never breaks the order of either (with a
// thousand keys busy at once, two share a hash about once in 8,600 such moments).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "flat_map.h"

namespace signalbus::groups {

// 0 for the empty key (no ordering constraint); never 0 for a non-empty key; below 2^32.
std::uint64_t KeyHash(std::string_view key);

class KeyGate {
 public:
  // `offset` wants through under `key` (a non-zero KeyHash): true if it may go now (the
  // key was free; it now holds it), false if it was queued behind the key's holder.
  bool Admit(std::uint64_t key, std::uint64_t offset);
  // Like Admit, but a queued offset goes to the front of the key's queue (a replayed
  // dead letter, which is older than anything queued).
  bool AdmitFirst(std::uint64_t key, std::uint64_t offset);
  // The holder of `key` finished. Returns the next queued offset, which now holds the
  // key, or nullopt (the key is free).
  std::optional<std::uint64_t> Release(std::uint64_t key);

  // Offsets queued behind a holder, over all keys.
  std::size_t waiting() const { return waiting_; }
  // Keys held.
  std::size_t keys() const { return slots_.size(); }
  void Clear();

 private:
  struct Slot {
    std::vector<std::uint64_t> waiting;  // [head, size) are queued, in order
    std::size_t head = 0;
  };

  FlatMap<Slot> slots_;
  std::size_t waiting_ = 0;
};

}  // namespace signalbus::groups
