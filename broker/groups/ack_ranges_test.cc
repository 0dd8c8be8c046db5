// Acks as ranges (Ack.ranges): a range answers each delivery it names exactly as a
// DeliveryRef would (acked if current, stale otherwise, a credit back either way), the
// broker says in Joined that it takes them, and an Ack naming more than kMaxAckRefs
// deliveries is refused whole.
#include <gtest/gtest.h>

#include "signalbus/core/group_rules.h"
#include "test_harness.h"

namespace signalbus::groups::testing {
namespace {

v1::GroupRequest Ranges(std::vector<std::array<std::uint64_t, 3>> ranges) {
  v1::GroupRequest r;
  for (const auto& [first, count, attempt] : ranges) {
    v1::AckRange* range = r.mutable_ack()->add_ranges();
    range->set_first(first);
    range->set_count(static_cast<std::uint32_t>(count));
    range->set_attempt(static_cast<std::uint32_t>(attempt));
  }
  return r;
}

TEST(AckRangesTest, JoinedSaysTheBrokerTakesRanges) {
  Harness h;
  h.Join("a", "g", 4);
  std::vector<v1::GroupReply> replies = h.Replies("a");
  ASSERT_FALSE(replies.empty());
  ASSERT_TRUE(replies[0].has_joined());
  EXPECT_TRUE(replies[0].joined().ack_ranges());
}

TEST(AckRangesTest, ARangeAcksEveryDeliveryItNamesAndReturnsTheirCredits) {
  Harness h;
  h.Join("a", "g", 8);
  std::uint64_t first = h.PublishUser("1");
  for (int i = 2; i <= 8; ++i) h.PublishUser(std::to_string(i));
  std::vector<v1::Delivery> got = h.Take("a");
  ASSERT_EQ(got.size(), 8u);
  // Two ranges covering the eight: 8 acked, the 8 credits back, so 8 more flow.
  h.Request("a", Ranges({{first, 5, 1}, {first + 5, 3, 1}}));
  EXPECT_EQ(h.coord().counters().acked, 8u);
  EXPECT_EQ(h.coord().counters().stale_acks, 0u);
  EXPECT_EQ(h.Info("g").pending(), 0u);
  for (int i = 9; i <= 16; ++i) h.PublishUser(std::to_string(i));
  EXPECT_EQ(h.Take("a").size(), 8u);
  h.coord().CheckInvariants();
}

TEST(AckRangesTest, OffsetsOfARangeThatAreNotCurrentCountAsStaleOneByOne) {
  Harness h;
  h.Join("a", "g", 4);
  std::uint64_t first = h.PublishUser("1");
  h.PublishUser("2");
  ASSERT_EQ(h.Take("a").size(), 2u);
  // first, first+1 in flight at attempt 1; attempt 2 names neither; first+2, +3 unknown.
  h.Request("a", Ranges({{first, 4, 2}}));
  EXPECT_EQ(h.coord().counters().acked, 0u);
  EXPECT_EQ(h.coord().counters().stale_acks, 4u);
  EXPECT_EQ(h.Info("g").pending(), 2u);
  h.Request("a", Ranges({{first, 2, 1}}));
  EXPECT_EQ(h.coord().counters().acked, 2u);
  h.coord().CheckInvariants();
}

TEST(AckRangesTest, RefsAndRangesInOneAckAreBothAnswered) {
  Harness h;
  h.Join("a", "g", 4);
  std::uint64_t first = h.PublishUser("1");
  h.PublishUser("2");
  h.PublishUser("3");
  ASSERT_EQ(h.Take("a").size(), 3u);
  v1::GroupRequest r = Ranges({{first + 1, 2, 1}});
  v1::DeliveryRef* ref = r.mutable_ack()->add_deliveries();
  ref->set_offset(first);
  ref->set_attempt(1);
  h.Request("a", r);
  EXPECT_EQ(h.coord().counters().acked, 3u);
  EXPECT_EQ(h.Info("g").pending(), 0u);
}

TEST(AckRangesTest, AnAckNamingMoreThanTheLimitIsRefusedWholeAndTheMemberStays) {
  Harness h;
  h.Join("a", "g", 4);
  std::uint64_t first = h.PublishUser("1");
  ASSERT_EQ(h.Take("a").size(), 1u);
  (void)h.Replies("a");
  // A count near 2^32 would keep the broker busy for minutes if it were walked.
  h.Request("a", Ranges({{first, 1, 1}, {first + 1, 0xFFFFFFFFu, 1}}));
  std::vector<v1::GroupReply> replies = h.Replies("a");
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(replies[0].has_error());
  EXPECT_FALSE(replies[0].error().fatal());
  EXPECT_NE(replies[0].error().message().find("at most 1048576"), std::string::npos) << replies[0].error().message();
  EXPECT_EQ(h.coord().counters().acked, 0u);
  EXPECT_EQ(h.Info("g").pending(), 1u);
  // The limit itself is fine.
  h.Request("a", Ranges({{first, kMaxAckRefs, 1}}));
  EXPECT_EQ(h.coord().counters().acked, 1u);
  EXPECT_EQ(h.coord().counters().stale_acks, kMaxAckRefs - 1);
  h.coord().CheckInvariants();
}

}  // namespace
}  // namespace signalbus::groups::testing
