// Logging untrusted bytes safely.
#include "signalbus/core/logging.h"

#include <gtest/gtest.h>

namespace signalbus {
namespace {

TEST(Printable, EscapesControlAndBinaryBytes) {
  EXPECT_EQ(Printable(std::string("a\nb\0c\xff", 6)), "a\\x0ab\\x00c\\xff");
  EXPECT_EQ(Printable("back\\slash"), "back\\x5cslash");
}

TEST(Printable, TruncatesAndSaysHowLongTheInputWas) {
  std::string out = Printable(std::string(1000, 'x'), 10);
  EXPECT_EQ(out, "xxxxxxxxxx...(1000 bytes)");
}

TEST(RateLimiterTest, AllowsBurstThenRefillsOverTime) {
  auto t0 = std::chrono::steady_clock::now();
  RateLimiter limiter(2.0, 3.0);
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_FALSE(limiter.Allow(t0));
  EXPECT_FALSE(limiter.Allow(t0));
  EXPECT_EQ(limiter.TakeSuppressed(), 2u);
  EXPECT_EQ(limiter.TakeSuppressed(), 0u);
  EXPECT_TRUE(limiter.Allow(t0 + std::chrono::milliseconds(600)));
}

}  // namespace
}  // namespace signalbus
