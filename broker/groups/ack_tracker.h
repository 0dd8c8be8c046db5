// AckTracker: a group's ack floor and the sparse set of finished offsets above it.
// "Finished" means acked, skipped (not subscribed, or removed from the log by retention)
// or dead-lettered; the floor is the highest offset below which everything is finished.
// This is what a group's state file stores and what it resumes from.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace signalbus::groups {

class AckTracker {
 public:
  // Everything <= floor is finished, nothing above.
  explicit AckTracker(std::uint64_t floor = 0) { Reset(floor); }

  void Reset(std::uint64_t floor);
  // Runs of finished offsets above the floor: (first offset, count), ascending and
  // disjoint. What Runs() returns; pairs at or below the floor are ignored.
  void Restore(std::uint64_t floor, const std::vector<std::pair<std::uint64_t, std::uint64_t>>& runs);

  // Marks `offset` finished; false if it already was. O(1) amortised.
  bool Mark(std::uint64_t offset);
  // Marks [first, last] finished (a range skipped in one go).
  void MarkRange(std::uint64_t first, std::uint64_t last);

  bool IsFinished(std::uint64_t offset) const;
  std::uint64_t floor() const { return floor_; }
  // Finished offsets above the floor.
  std::uint64_t finished_above_floor() const { return above_; }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> Runs() const;

 private:
  bool Bit(std::uint64_t offset) const;
  void Advance();

  std::uint64_t floor_ = 0;
  std::uint64_t above_ = 0;
  // Bit i of words_[w] is offset base_ + 64*w + i. base_ is a multiple of 64 and never
  // above floor_ + 1; bits at or below floor_ may be left set and mean nothing.
  std::uint64_t base_ = 0;
  std::deque<std::uint64_t> words_;
};

}  // namespace signalbus::groups
