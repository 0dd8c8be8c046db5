// Human durations on the command line.
#include "signalbus/core/duration.h"

#include <gtest/gtest.h>

namespace signalbus {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("5s"), milliseconds(5000));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("2m"), milliseconds(120000));
  EXPECT_EQ(*ParseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(*ParseDuration("3"), milliseconds(3000));
}

TEST(Duration, RejectsGarbage) {
  for (const char* text : {"", "s", "5x", "-1s", "5 s", "1e3", "ms5", "99999999999h"}) {
    EXPECT_FALSE(ParseDuration(text).ok()) << text;
  }
}

TEST(Duration, FormatsWholeSecondsAsSeconds) {
  EXPECT_EQ(FormatDuration(milliseconds(5000)), "5s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
}

}  // namespace
}  // namespace signalbus
