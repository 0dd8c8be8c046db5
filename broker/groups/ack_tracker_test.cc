// AckTracker: the floor moves over contiguous finished offsets; the sparse set above it
// round-trips through Runs/Restore.
#include "ack_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace signalbus::groups {
namespace {

TEST(AckTrackerTest, FloorAdvancesOverContiguousOffsets) {
  AckTracker t;
  EXPECT_TRUE(t.Mark(1));
  EXPECT_TRUE(t.Mark(2));
  EXPECT_EQ(t.floor(), 2u);
  EXPECT_TRUE(t.Mark(4));
  EXPECT_TRUE(t.Mark(5));
  EXPECT_EQ(t.floor(), 2u);
  EXPECT_EQ(t.finished_above_floor(), 2u);
  EXPECT_TRUE(t.IsFinished(4));
  EXPECT_FALSE(t.IsFinished(3));
  EXPECT_TRUE(t.Mark(3));
  EXPECT_EQ(t.floor(), 5u);
  EXPECT_EQ(t.finished_above_floor(), 0u);
}

TEST(AckTrackerTest, MarkingTwiceOrBelowTheFloorIsANoOp) {
  AckTracker t(10);
  EXPECT_FALSE(t.Mark(3));
  EXPECT_TRUE(t.Mark(12));
  EXPECT_FALSE(t.Mark(12));
  EXPECT_EQ(t.finished_above_floor(), 1u);
}

TEST(AckTrackerTest, RangesJumpTheFloorAndFillGaps) {
  AckTracker t(0);
  t.Mark(200);
  t.MarkRange(1, 150);
  EXPECT_EQ(t.floor(), 150u);
  t.MarkRange(160, 199);
  EXPECT_EQ(t.floor(), 150u);
  t.MarkRange(151, 159);
  EXPECT_EQ(t.floor(), 200u);
  EXPECT_EQ(t.finished_above_floor(), 0u);
  t.MarkRange(1000, 1'000'000);  // far ahead: kept as bits
  t.MarkRange(201, 999);
  EXPECT_EQ(t.floor(), 1'000'000u);
}

TEST(AckTrackerTest, RunsRoundTripThroughRestore) {
  AckTracker t(100);
  for (std::uint64_t o : {102, 103, 104, 170, 171, 300}) t.Mark(o);
  auto runs = t.Runs();
  EXPECT_EQ(runs, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{102, 3}, {170, 2}, {300, 1}}));
  AckTracker r;
  r.Restore(100, runs);
  EXPECT_EQ(r.floor(), 100u);
  EXPECT_EQ(r.Runs(), runs);
  EXPECT_EQ(r.finished_above_floor(), 6u);
  r.Mark(101);
  EXPECT_EQ(r.floor(), 104u);
}

TEST(AckTrackerTest, MatchesAReferenceModelUnderRandomMarks) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    AckTracker t(rng() % 100);
    std::set<std::uint64_t> done;
    std::uint64_t floor = t.floor();
    for (int i = 0; i < 2000; ++i) {
      std::uint64_t o = floor + 1 + rng() % 300;
      if (rng() % 10 == 0) {
        std::uint64_t last = o + rng() % 50;
        t.MarkRange(o, last);
        for (std::uint64_t x = o; x <= last; ++x) done.insert(x);
      } else {
        t.Mark(o);
        done.insert(o);
      }
      while (done.count(floor + 1)) done.erase(++floor);
      ASSERT_EQ(t.floor(), floor);
      ASSERT_EQ(t.finished_above_floor(), done.size());
    }
    std::vector<std::pair<std::uint64_t, std::uint64_t>> expect;
    for (std::uint64_t o : done) {
      if (!expect.empty() && expect.back().first + expect.back().second == o) {
        ++expect.back().second;
      } else {
        expect.emplace_back(o, 1);
      }
    }
    ASSERT_EQ(t.Runs(), expect);
  }
}

}  // namespace
}  // namespace signalbus::groups
