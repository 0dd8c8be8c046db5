// KeyGate: one offset per key through the gate; the rest queue in order.
#include "key_gate.h"

#include <gtest/gtest.h>

namespace signalbus::groups {
namespace {

TEST(KeyGateTest, OneOffsetPerKeyAtATimeInOrder) {
  KeyGate gate;
  const std::uint64_t a = KeyHash("auth.User:1"), b = KeyHash("auth.User:2");
  EXPECT_TRUE(gate.Admit(a, 1));
  EXPECT_FALSE(gate.Admit(a, 3));
  EXPECT_TRUE(gate.Admit(b, 2));
  EXPECT_FALSE(gate.Admit(a, 4));
  EXPECT_EQ(gate.waiting(), 2u);
  EXPECT_EQ(gate.Release(a), 3u);
  EXPECT_EQ(gate.Release(a), 4u);
  EXPECT_EQ(gate.Release(a), std::nullopt);
  EXPECT_EQ(gate.waiting(), 0u);
  EXPECT_EQ(gate.keys(), 1u);  // b
  EXPECT_TRUE(gate.Admit(a, 5));
}

TEST(KeyGateTest, AdmitFirstJumpsTheQueue) {
  KeyGate gate;
  const std::uint64_t k = KeyHash("k");
  gate.Admit(k, 10);
  gate.Admit(k, 11);
  EXPECT_FALSE(gate.AdmitFirst(k, 3));
  EXPECT_EQ(gate.Release(k), 3u);
  EXPECT_EQ(gate.Release(k), 11u);
}

TEST(KeyGateTest, LongQueuesDrainInOrder) {
  KeyGate gate;
  const std::uint64_t k = KeyHash("hot");
  gate.Admit(k, 0);
  for (std::uint64_t o = 1; o <= 1000; ++o) gate.Admit(k, o);
  for (std::uint64_t o = 1; o <= 1000; ++o) ASSERT_EQ(gate.Release(k), o);
  EXPECT_EQ(gate.Release(k), std::nullopt);
  EXPECT_EQ(gate.keys(), 0u);
}

TEST(KeyGateTest, EmptyKeyHashesToZeroAndOthersNever) {
  EXPECT_EQ(KeyHash(""), 0u);
  EXPECT_NE(KeyHash("a"), 0u);
  EXPECT_NE(KeyHash("auth.User:1"), KeyHash("auth.User:2"));
}

}  // namespace
}  // namespace signalbus::groups
