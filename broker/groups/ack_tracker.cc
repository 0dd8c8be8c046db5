// AckTracker: a bitmap window starting at the word holding floor+1. Acks arrive nearly
// in order, so the window stays a few words long and the common case — marking
// floor+1 with nothing above — touches no memory at all.
#include "ack_tracker.h"

#include <bit>

namespace signalbus::groups {

namespace {
constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};
}  // namespace

void AckTracker::Reset(std::uint64_t floor) {
  floor_ = floor;
  above_ = 0;
  words_.clear();
  base_ = (floor_ + 1) & ~std::uint64_t{63};
}

void AckTracker::Restore(std::uint64_t floor,
                         const std::vector<std::pair<std::uint64_t, std::uint64_t>>& runs) {
  Reset(floor);
  for (const auto& [first, count] : runs) {
    if (count == 0) continue;
    MarkRange(first, first + count - 1);
  }
}

bool AckTracker::Bit(std::uint64_t offset) const {
  if (offset < base_) return false;
  std::uint64_t i = offset - base_;
  if (i / 64 >= words_.size()) return false;
  return (words_[i / 64] >> (i % 64)) & 1;
}

bool AckTracker::IsFinished(std::uint64_t offset) const { return offset <= floor_ || Bit(offset); }

bool AckTracker::Mark(std::uint64_t offset) {
  if (offset <= floor_) return false;
  if (offset == floor_ + 1 && words_.empty()) {
    ++floor_;
    base_ = (floor_ + 1) & ~std::uint64_t{63};
    return true;
  }
  if (words_.empty()) base_ = (floor_ + 1) & ~std::uint64_t{63};
  std::uint64_t i = offset - base_;
  std::uint64_t w = i / 64;
  if (w >= words_.size()) words_.resize(w + 1, 0);
  std::uint64_t bit = std::uint64_t{1} << (i % 64);
  if (words_[w] & bit) return false;
  words_[w] |= bit;
  ++above_;
  if (offset == floor_ + 1) Advance();
  return true;
}

void AckTracker::MarkRange(std::uint64_t first, std::uint64_t last) {
  if (last < first || last <= floor_) return;
  if (first <= floor_ + 1) {
    // The range starts at the floor: jump it, then drop the bits it covered.
    std::uint64_t covered = 0;
    for (std::uint64_t o = floor_ + 1; o <= last && !words_.empty(); ++o) {
      // Only words inside the window can hold bits; skip the rest quickly.
      if (o < base_) continue;
      std::uint64_t i = o - base_;
      if (i / 64 >= words_.size()) break;
      if ((words_[i / 64] >> (i % 64)) & 1) ++covered;
    }
    above_ -= covered;
    floor_ = last;
    while (!words_.empty() && base_ + 64 <= floor_ + 1) {
      words_.pop_front();
      base_ += 64;
    }
    if (words_.empty()) base_ = (floor_ + 1) & ~std::uint64_t{63};
    Advance();
    return;
  }
  // A gap above the floor (rare: something below it is still in flight).
  for (std::uint64_t o = first; o <= last; ++o) Mark(o);
}

void AckTracker::Advance() {
  while (!words_.empty()) {
    std::uint64_t i = floor_ + 1 - base_;
    std::uint64_t w = i / 64;
    if (w >= words_.size()) break;
    unsigned b = static_cast<unsigned>(i % 64);
    unsigned run = static_cast<unsigned>(std::countr_one(words_[w] >> b));
    if (run > 64 - b) run = 64 - b;  // shifted-in zeros stop the count; this is a guard
    floor_ += run;
    above_ -= run;
    if (b + run < 64) break;
  }
  while (!words_.empty() && base_ + 64 <= floor_ + 1) {
    words_.pop_front();
    base_ += 64;
  }
  if (words_.empty()) base_ = (floor_ + 1) & ~std::uint64_t{63};
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> AckTracker::Runs() const {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
  for (std::size_t w = 0; w < words_.size(); ++w) {
    std::uint64_t word = words_[w];
    // Bits at or below the floor may still be set in the first word: they are history.
    std::uint64_t first_live = floor_ + 1;
    if (base_ + 64 * w < first_live) {
      std::uint64_t skip = first_live - (base_ + 64 * w);
      word = skip >= 64 ? 0 : word & (kAllOnes << skip);
    }
    while (word != 0) {
      unsigned start = static_cast<unsigned>(std::countr_zero(word));
      unsigned len = static_cast<unsigned>(std::countr_one(word >> start));
      if (start + len > 64) len = 64 - start;
      std::uint64_t first = base_ + 64 * w + start;
      if (!runs.empty() && runs.back().first + runs.back().second == first) {
        runs.back().second += len;
      } else {
        runs.emplace_back(first, len);
      }
      word = start + len >= 64 ? 0 : word & (kAllOnes << (start + len));
    }
  }
  return runs;
}

}  // namespace signalbus::groups
