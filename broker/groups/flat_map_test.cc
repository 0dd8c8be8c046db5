// FlatMap against std::unordered_map under random inserts and erases (the backward-shift
// deletion is the part worth checking), plus growth and shrinking.
#include "flat_map.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

namespace signalbus::groups {
namespace {

TEST(FlatMapTest, MatchesUnorderedMapUnderRandomOperations) {
  std::mt19937_64 rng(3);
  FlatMap<std::string> map;
  std::unordered_map<std::uint64_t, std::string> model;
  for (int i = 0; i < 200'000; ++i) {
    // A narrow key range makes long probe runs and many collisions.
    std::uint64_t key = 1 + rng() % (i < 100'000 ? 3000 : 50);
    if (rng() % 3 == 0) {
      ASSERT_EQ(map.Erase(key), model.erase(key) == 1);
    } else {
      auto [value, inserted] = map.Emplace(key);
      ASSERT_EQ(inserted, model.count(key) == 0);
      *value = std::to_string(key * 7);
      model[key] = *value;
    }
    ASSERT_EQ(map.size(), model.size());
    if (i % 1000 == 0) {
      for (const auto& [k, v] : model) {
        const std::string* found = map.Find(k);
        ASSERT_NE(found, nullptr) << k;
        ASSERT_EQ(*found, v);
      }
      std::size_t seen = 0;
      map.ForEach([&](std::uint64_t k, const std::string& v) {
        ++seen;
        ASSERT_EQ(model.at(k), v);
      });
      ASSERT_EQ(seen, model.size());
    }
  }
}

TEST(FlatMapTest, DenseOffsetsGrowAndShrink) {
  FlatMap<int> map;
  for (std::uint64_t o = 1; o <= 100'000; ++o) *map.Emplace(o).first = static_cast<int>(o);
  for (std::uint64_t o = 1; o <= 99'990; ++o) ASSERT_TRUE(map.Erase(o));
  EXPECT_EQ(map.size(), 10u);
  for (std::uint64_t o = 99'991; o <= 100'000; ++o) EXPECT_EQ(*map.Find(o), static_cast<int>(o));
  EXPECT_EQ(map.Find(5), nullptr);
  map.Clear();
  EXPECT_TRUE(map.empty());
}

}  // namespace
}  // namespace signalbus::groups
