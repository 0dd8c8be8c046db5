// LiveWindow: nothing is charged past the limit, marks come every quarter window, and only
// a mark awaiting credit returns the window.
#include "live_window.h"

#include <set>

#include <gtest/gtest.h>

namespace signalbus::broker {
namespace {

TEST(LiveWindowTest, NothingFitsPastTheLimit) {
  LiveWindow w(10'000);
  EXPECT_TRUE(w.Fits(10'000));
  EXPECT_FALSE(w.Fits(10'001));
  w.Charge(4'000);
  w.Charge(4'000);
  EXPECT_EQ(w.in_flight(), 8'000u);
  EXPECT_TRUE(w.Fits(2'000));
  EXPECT_FALSE(w.Fits(2'001));
}

TEST(LiveWindowTest, ChargesEachMessageItsBytesAndTheOverhead) {
  EXPECT_EQ(LiveWindow::ChargeOf(0), LiveWindow::kMessageOverheadBytes);
  EXPECT_EQ(LiveWindow::ChargeOf(900'000), 900'000 + LiveWindow::kMessageOverheadBytes);
}

TEST(LiveWindowTest, MarkIsDueAfterAQuarterOfTheWindow) {
  MarkTokens tokens;
  LiveWindow w(4'000);
  EXPECT_EQ(w.NextMark(false, tokens), 0u);  // nothing sent
  w.Charge(500);
  EXPECT_EQ(w.NextMark(false, tokens), 0u);
  w.Charge(500);
  EXPECT_NE(w.NextMark(false, tokens), 0u);
  EXPECT_EQ(w.NextMark(false, tokens), 0u);  // everything sent is marked
  EXPECT_EQ(w.NextMark(true, tokens), 0u);
  w.Charge(1);
  EXPECT_NE(w.NextMark(true, tokens), 0u);  // eager: any unmarked byte
}

TEST(LiveWindowTest, CreditReturnsEverythingUpToItsMarkAndOlderMarksWithIt) {
  MarkTokens tokens;
  LiveWindow w(4'000);
  w.Charge(1'000);
  std::uint64_t first = w.NextMark(false, tokens);
  w.Charge(1'000);
  std::uint64_t second = w.NextMark(false, tokens);
  w.Charge(300);  // not marked yet
  ASSERT_NE(first, 0u);
  ASSERT_NE(second, 0u);
  EXPECT_EQ(w.marks_outstanding(), 2u);
  EXPECT_TRUE(w.Credit(second));
  EXPECT_EQ(w.in_flight(), 300u);
  EXPECT_EQ(w.marks_outstanding(), 0u);
  EXPECT_FALSE(w.Credit(first));  // covered by the later one: no longer awaiting credit
  EXPECT_EQ(w.in_flight(), 300u);
}

TEST(LiveWindowTest, CreditForAnUnknownMarkChangesNothing) {
  MarkTokens tokens;
  LiveWindow w(4'000);
  w.Charge(2'000);
  std::uint64_t mark = w.NextMark(false, tokens);
  ASSERT_NE(mark, 0u);
  EXPECT_FALSE(w.Credit(0));
  EXPECT_FALSE(w.Credit(mark + 1));
  EXPECT_EQ(w.in_flight(), 2'000u);
  EXPECT_TRUE(w.Credit(mark));
  EXPECT_FALSE(w.Credit(mark));  // twice
  EXPECT_EQ(w.in_flight(), 0u);
}

TEST(LiveWindowTest, AtMostMaxMarksAwaitCreditAndCreditMakesRoom) {
  MarkTokens tokens;
  LiveWindow w(1'000'000);
  std::uint64_t last = 0;
  for (std::size_t i = 0; i < LiveWindow::kMaxMarks; ++i) {
    w.Charge(10);
    last = w.NextMark(true, tokens);
    ASSERT_NE(last, 0u) << i;
  }
  w.Charge(10);
  EXPECT_EQ(w.NextMark(true, tokens), 0u);
  EXPECT_TRUE(w.Credit(last));
  EXPECT_EQ(w.in_flight(), 10u);
  EXPECT_NE(w.NextMark(true, tokens), 0u);
}

TEST(LiveWindowTest, TokensAreNonzeroAndDoNotRepeat) {
  MarkTokens tokens;
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 10'000; ++i) {
    std::uint64_t t = tokens.Next();
    EXPECT_NE(t, 0u);
    EXPECT_TRUE(seen.insert(t).second);
  }
}

}  // namespace
}  // namespace signalbus::broker
