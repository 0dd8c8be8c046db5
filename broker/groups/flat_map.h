// FlatMap: an open-addressing hash map from a non-zero uint64 (an offset, a key hash) to
// V, for the per-event bookkeeping of a group. Linear probing with backward-shift
// deletion: no allocation per element, no tombstones, lookups touch one or two cache
// lines. What std::unordered_map costs per event (a node allocation and free) was the
// largest share of the coordinator's time.
//
// Contract: key 0 is reserved. Pointers and references to values are invalidated by
// any Emplace or Erase (elements move), so hold keys, not pointers, across them.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace signalbus::groups {

template <typename V>
class FlatMap {
 public:
  FlatMap() { Rehash(16); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  V* Find(std::uint64_t key) {
    for (std::size_t i = Home(key);; i = Next(i)) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == 0) return nullptr;
    }
  }
  const V* Find(std::uint64_t key) const { return const_cast<FlatMap*>(this)->Find(key); }
  bool Contains(std::uint64_t key) const { return Find(key) != nullptr; }

  // Inserts a default V for `key` if absent. Returns the value and whether it was new.
  std::pair<V*, bool> Emplace(std::uint64_t key) {
    assert(key != 0);
    if ((size_ + 1) * 2 > slots_.size()) Rehash(slots_.size() * 2);
    for (std::size_t i = Home(key);; i = Next(i)) {
      if (slots_[i].key == key) return {&slots_[i].value, false};
      if (slots_[i].key == 0) {
        slots_[i].key = key;
        ++size_;
        return {&slots_[i].value, true};
      }
    }
  }

  bool Erase(std::uint64_t key) {
    std::size_t i = Home(key);
    for (;; i = Next(i)) {
      if (slots_[i].key == 0) return false;
      if (slots_[i].key == key) break;
    }
    // Backward shift: pull later members of the probe run into the hole, so lookups
    // never need tombstones.
    std::size_t hole = i;
    for (std::size_t j = Next(hole);; j = Next(j)) {
      if (slots_[j].key == 0) break;
      std::size_t home = Home(slots_[j].key);
      // Move j into the hole if its home is not in (hole, j] (cyclically).
      bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        slots_[hole].key = slots_[j].key;
        slots_[hole].value = std::move(slots_[j].value);
        hole = j;
      }
    }
    slots_[hole].key = 0;
    slots_[hole].value = V();
    --size_;
    // Shrink only big, nearly empty tables: a group's working set swings with every
    // batch, and rehashing on each swing would cost more than the memory.
    if (slots_.size() > kShrinkAbove && size_ * 16 < slots_.size()) Rehash(slots_.size() / 4);
    return true;
  }

  void Clear() {
    std::vector<Slot>().swap(slots_);
    size_ = 0;
    Rehash(16);
  }

  // Calls f(key, value) for every element; f must not insert or erase.
  template <typename F>
  void ForEach(F&& f) {
    for (Slot& s : slots_) {
      if (s.key != 0) f(s.key, s.value);
    }
  }
  template <typename F>
  void ForEach(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.key != 0) f(s.key, s.value);
    }
  }

 private:
  struct Slot {
    std::uint64_t key = 0;
    V value{};
  };
  static constexpr std::size_t kShrinkAbove = 1 << 16;

  std::size_t Home(std::uint64_t key) const {
    // Fibonacci hashing: dense offsets spread over the table.
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  std::size_t Next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void Rehash(std::size_t capacity) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(capacity);
    shift_ = 64;
    for (std::size_t c = capacity; c > 1; c >>= 1) --shift_;
    for (Slot& s : old) {
      if (s.key == 0) continue;
      std::size_t i = Home(s.key);
      while (slots_[i].key != 0) i = Next(i);
      slots_[i].key = s.key;
      slots_[i].value = std::move(s.value);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  unsigned shift_ = 60;
};

}  // namespace signalbus::groups
