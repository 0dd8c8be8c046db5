// KeyCache: the window of noted keys — in-order notes, gaps, jumps, the capacity, and
// trimming behind the slowest group.
#include "key_cache.h"

#include <string>

#include <gtest/gtest.h>

#include "key_gate.h"

namespace signalbus::groups {
namespace {

// The cache holds 4 bytes an offset: a key's hash must come back from it as KeyHash made
// it, or a group that learns one key from the cache and another time by decoding would
// take them for two keys and break their order.
TEST(KeyCacheTest, EveryKeyHashComesBackFromTheCacheUnchanged) {
  KeyCache cache(1 << 16);
  for (std::uint64_t o = 1; o <= 50'000; ++o) {
    const std::uint64_t hash = KeyHash("auth.User:" + std::to_string(o));
    ASSERT_NE(hash, 0u);
    cache.Put(o, hash);
    const std::optional<std::uint64_t> back = cache.Get(o);
    if (back) ASSERT_EQ(*back, hash) << o;  // nullopt only for the marker value, looked up again
  }
  EXPECT_EQ(KeyHash(""), 0u);
}

TEST(KeyCacheTest, RemembersConsecutiveOffsetsIncludingKeylessOnes) {
  KeyCache cache(100);
  for (std::uint64_t o = 1; o <= 50; ++o) cache.Put(o, o % 5 == 0 ? 0 : o * 11);
  EXPECT_EQ(cache.Get(1), 11u);
  EXPECT_EQ(cache.Get(5), 0u);  // noted as having no key
  EXPECT_EQ(cache.Get(50), 0u);
  EXPECT_EQ(cache.Get(49), 49u * 11);
  EXPECT_EQ(cache.Get(51), std::nullopt);
  EXPECT_EQ(cache.Get(0), std::nullopt);
}

TEST(KeyCacheTest, AGapIsUnknownAndALongJumpStartsAgain) {
  KeyCache cache(100);
  cache.Put(10, 1);
  cache.Put(13, 4);  // 11 and 12 were never noted
  EXPECT_EQ(cache.Get(10), 1u);
  EXPECT_EQ(cache.Get(11), std::nullopt);
  EXPECT_EQ(cache.Get(12), std::nullopt);
  EXPECT_EQ(cache.Get(13), 4u);
  cache.Put(11, 2);  // noted late, inside the window
  EXPECT_EQ(cache.Get(11), 2u);
  cache.Put(1000, 9);  // further than the capacity: only the new offset is kept
  EXPECT_EQ(cache.Get(13), std::nullopt);
  EXPECT_EQ(cache.Get(1000), 9u);
  EXPECT_EQ(cache.size(), 1u);
  cache.Put(5, 7);  // before the window: ignored
  EXPECT_EQ(cache.Get(5), std::nullopt);
}

TEST(KeyCacheTest, KeepsAtMostItsCapacityDroppingTheOldest) {
  KeyCache cache(10);
  for (std::uint64_t o = 1; o <= 25; ++o) cache.Put(o, o);
  EXPECT_EQ(cache.size(), 10u);
  EXPECT_EQ(cache.Get(15), std::nullopt);
  EXPECT_EQ(cache.Get(16), 16u);
  EXPECT_EQ(cache.Get(25), 25u);
}

TEST(KeyCacheTest, ForgetsWhatEveryGroupHasReadAndGoesOnFromThere) {
  KeyCache cache(100);
  for (std::uint64_t o = 1; o <= 20; ++o) cache.Put(o, o);
  cache.ForgetBelow(15);
  EXPECT_EQ(cache.Get(14), std::nullopt);
  EXPECT_EQ(cache.Get(15), 15u);
  EXPECT_EQ(cache.size(), 6u);
  cache.ForgetBelow(30);  // past everything noted
  EXPECT_EQ(cache.size(), 0u);
  cache.Put(21, 21);  // below the point forgotten to: nobody will read it
  EXPECT_EQ(cache.Get(21), std::nullopt);
  cache.Put(30, 30);
  cache.Put(31, 31);
  EXPECT_EQ(cache.Get(30), 30u);
  EXPECT_EQ(cache.Get(31), 31u);
}

TEST(KeyCacheTest, ZeroCapacityRemembersNothing) {
  KeyCache cache(0);
  cache.Put(1, 5);
  EXPECT_EQ(cache.Get(1), std::nullopt);
}

}  // namespace
}  // namespace signalbus::groups
