// KeyGate: one flat-map slot per busy key; a key with nothing queued costs no
// allocation (an empty vector).
#include "key_gate.h"

#include <functional>

namespace signalbus::groups {

std::uint64_t KeyHash(std::string_view key) {
  if (key.empty()) return 0;
  const std::uint64_t h = std::hash<std::string_view>{}(key);
  const std::uint64_t folded = (h ^ (h >> 32)) & 0xFFFF'FFFFu;  // 32 bits: the KeyCache holds 4 bytes an offset
  return folded == 0 ? 1 : folded;
}

bool KeyGate::Admit(std::uint64_t key, std::uint64_t offset) {
  auto [slot, inserted] = slots_.Emplace(key);
  if (inserted) return true;
  slot->waiting.push_back(offset);
  ++waiting_;
  return false;
}

bool KeyGate::AdmitFirst(std::uint64_t key, std::uint64_t offset) {
  auto [slot, inserted] = slots_.Emplace(key);
  if (inserted) return true;
  if (slot->head > 0) {
    slot->waiting[--slot->head] = offset;
  } else {
    slot->waiting.insert(slot->waiting.begin(), offset);
  }
  ++waiting_;
  return false;
}

std::optional<std::uint64_t> KeyGate::Release(std::uint64_t key) {
  Slot* slot = slots_.Find(key);
  if (slot == nullptr) return std::nullopt;
  if (slot->head == slot->waiting.size()) {
    slots_.Erase(key);
    return std::nullopt;
  }
  std::uint64_t next = slot->waiting[slot->head++];
  --waiting_;
  // Reclaim the consumed prefix once it dominates, keeping pops O(1) amortised.
  if (slot->head == slot->waiting.size()) {
    slot->waiting.clear();
    slot->head = 0;
  } else if (slot->head >= 64 && slot->head * 2 >= slot->waiting.size()) {
    slot->waiting.erase(slot->waiting.begin(), slot->waiting.begin() + static_cast<std::ptrdiff_t>(slot->head));
    slot->head = 0;
  }
  return next;
}

void KeyGate::Clear() {
  slots_.Clear();
  waiting_ = 0;
}

}  // namespace signalbus::groups
