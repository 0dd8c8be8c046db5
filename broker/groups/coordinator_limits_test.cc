// What one peer may make the Coordinator keep, and how each refusal reads and is
// counted: subscriptions and pattern lengths, groups in total, members per group,
// heartbeat bounds, names, start and seek positions past the head; members' byte
// windows and delivery batches in bytes; admin lists in pages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "signalbus/core/group_rules.h"
#include "test_harness.h"

namespace signalbus::groups::testing {
namespace {

std::uint64_t Refused(Harness& h, Refusal reason) { return h.coord().counters().refused[static_cast<std::size_t>(reason)]; }

// The one reply to `peer`, which must be a fatal GroupError; its message.
std::string FatalError(Harness& h, const std::string& peer) {
  std::vector<v1::GroupReply> replies = h.Replies(peer);
  EXPECT_EQ(replies.size(), 1u);
  if (replies.empty()) return "";
  EXPECT_TRUE(replies[0].has_error()) << replies[0].ShortDebugString();
  EXPECT_TRUE(replies[0].error().fatal());
  return replies[0].error().message();
}

bool Joined(Harness& h, const std::string& peer) {
  std::vector<v1::GroupReply> replies = h.Replies(peer);
  return replies.size() == 1 && replies[0].has_joined();
}

v1::GroupConfig ManyPatterns(int n) {
  v1::GroupConfig c;
  for (int i = 0; i < n; ++i) c.add_subscriptions("app.Model" + std::to_string(i) + "/order_paid");
  return c;
}

// What one auth.User/post_save delivery of the harness costs a byte window.
std::uint64_t UserDeliveryBytes() {
  return kUserSaved.size() + MakeEvent(kUserSaved, OrderingKeyFor("auth.User", "0")).size();
}

TEST(CoordinatorLimitsTest, AJoinWithMoreSubscriptionsThanTheLimitIsRefusedBeforeAnyIsParsed) {
  CoordinatorOptions o;
  o.max_subscriptions = 1000;
  Harness h(o);
  v1::GroupConfig huge = ManyPatterns(100'000);
  huge.add_subscriptions("not a pattern!");  // never looked at
  h.Join("p", "g", 1, huge);
  EXPECT_EQ(FatalError(h, "p"), "group g: 100001 subscriptions, more than the broker's limit of 1000");
  EXPECT_EQ(Refused(h, Refusal::kSubscriptions), 1u);
  EXPECT_EQ(h.coord().counters().bad_requests, 1u);
  EXPECT_TRUE(h.coord().ListGroups().empty());

  h.Join("p", "g", 1, ManyPatterns(1000));
  EXPECT_TRUE(Joined(h, "p"));
}

TEST(CoordinatorLimitsTest, AThousandSubscriptionsMatchEachTopicExactly) {
  Harness h;
  v1::GroupConfig c = ManyPatterns(999);
  c.add_subscriptions("*/item_moved");
  h.Join("a", "g", 100, c);
  std::uint64_t wanted = h.Publish("app.Model998/order_paid", "");
  h.Publish("app.Model999/order_paid", "");           // not subscribed
  h.Publish("app.Model99/order_paid_archived", "");  // not a whole segment
  std::uint64_t deleted = h.Publish("other.X/item_moved", "");
  EXPECT_EQ(Offsets(h.Take("a")), (std::vector<std::uint64_t>{wanted, deleted}));
}

TEST(CoordinatorLimitsTest, APatternLongerThanATopicIsRefused) {
  Harness h;
  h.Join("p", "g", 1, Harness::Config({std::string(256, 'a') + "/*"}));
  EXPECT_NE(FatalError(h, "p").find("is longer than 255 bytes"), std::string::npos);
  EXPECT_EQ(Refused(h, Refusal::kConfig), 1u);
}

TEST(CoordinatorLimitsTest, AJoinThatWouldCreateOneGroupTooManyIsRefusedAndCounted) {
  CoordinatorOptions o;
  o.max_groups = 2;
  Harness h(o);
  h.Join("a", "one", 1);
  h.Join("b", "two", 1);
  EXPECT_TRUE(Joined(h, "a"));
  EXPECT_TRUE(Joined(h, "b"));
  h.Join("c", "three", 1);
  EXPECT_EQ(FatalError(h, "c"), "group three would be one more than the broker's limit of 2 groups");
  EXPECT_EQ(Refused(h, Refusal::kGroups), 1u);
  h.Join("c", "two", 1);  // an existing group takes members still
  EXPECT_TRUE(Joined(h, "c"));
  EXPECT_EQ(h.coord().ListGroups().size(), 2u);
}

TEST(CoordinatorLimitsTest, MembersPerPrincipalAreCappedAcrossGroupsAndFreedWhenOneLeaves) {
  CoordinatorOptions o;
  o.max_members_per_principal = 2;
  Harness h(o);
  auto join = [&](const std::string& peer, const std::string& group, const std::string& principal) {
    h.Join(peer, group, 1, Harness::Config({std::string(kUserSaved)}), 1000, 0, principal);
    h.Replies(peer);
  };
  join("a", "g1", "accounts");
  join("b", "g2", "accounts");
  h.Join("c", "g1", 1, Harness::Config({std::string(kUserSaved)}), 1000, 0, "accounts");
  EXPECT_EQ(FatalError(h, "c"), "principal 'accounts' has 2 members in all groups, the broker's limit per principal");
  EXPECT_EQ(Refused(h, Refusal::kMembers), 1u);
  h.Join("d", "g3", 1, Harness::Config({std::string(kUserSaved)}), 1000, 0, "accounts");
  EXPECT_EQ(FatalError(h, "d"), "principal 'accounts' has 2 members in all groups, the broker's limit per principal");
  EXPECT_EQ(h.coord().ListGroups().size(), 2u) << "a refused Join creates no group";
  join("e", "g1", "billing");  // another principal is not held back
  EXPECT_EQ(h.Info("g1").members(), 2u);
  h.Join("b", "g2", 1, Harness::Config({std::string(kUserSaved)}), 1000, 0, "accounts");  // a re-join
  EXPECT_TRUE(Joined(h, "b"));
  h.Leave("a");
  join("c", "g1", "accounts");
  EXPECT_EQ(h.Info("g1").members(), 2u) << "c took the place a left";
}

TEST(CoordinatorLimitsTest, MembersPerGroupAreCappedButARejoinIsNotAnExtraMember) {
  CoordinatorOptions o;
  o.max_members = 2;
  Harness h(o);
  h.Join("a", "g", 1);
  h.Join("b", "g", 1);
  h.Replies("a");
  h.Replies("b");
  h.Join("c", "g", 1);
  EXPECT_EQ(FatalError(h, "c"), "group g has 2 members, the broker's limit");
  EXPECT_EQ(Refused(h, Refusal::kMembers), 1u);
  h.Join("b", "g", 1);  // b restarted behind the same routing id
  EXPECT_TRUE(Joined(h, "b"));
  EXPECT_EQ(h.Info("g").members(), 2u);
}

TEST(CoordinatorLimitsTest, AHeartbeatAboveTheMaximumIsRefusedWithTheBounds) {
  Harness h;
  h.Join("p", "g", 1, Harness::Config({std::string(kUserSaved)}), /*heartbeat_ms=*/4'294'967'295u);
  EXPECT_EQ(FatalError(h, "p"), "group g: heartbeat_ms 4294967295: heartbeat interval 4294967295ms is outside 10ms to 60s");
  h.Join("p", "g", 1, Harness::Config({std::string(kUserSaved)}), /*heartbeat_ms=*/9);
  EXPECT_NE(FatalError(h, "p").find("is outside 10ms to 60s"), std::string::npos);
  EXPECT_EQ(Refused(h, Refusal::kHeartbeat), 2u);
  EXPECT_TRUE(h.coord().ListGroups().empty());
  h.Join("p", "g", 1, Harness::Config({std::string(kUserSaved)}), /*heartbeat_ms=*/60'000);
  EXPECT_TRUE(Joined(h, "p"));
  h.Join("q", "g", 1, Harness::Config({std::string(kUserSaved)}), /*heartbeat_ms=*/0);  // the default
  EXPECT_TRUE(Joined(h, "q"));
}

TEST(CoordinatorLimitsTest, AMemberThatVanishesWithTheLongestHeartbeatExpiresAfterThreeIntervals) {
  Harness h;
  h.Join("ghost", "g", 1, Harness::Config({std::string(kUserSaved)}), /*heartbeat_ms=*/60'000);
  h.Advance(179s);
  EXPECT_EQ(h.Info("g").members(), 1u);
  h.Advance(1s);
  EXPECT_EQ(h.Info("g").members(), 0u);
  EXPECT_EQ(h.coord().counters().members_expired, 1u);
}

TEST(CoordinatorLimitsTest, ALongMemberNameIsRefusedAndALongNackErrorIsCut) {
  Harness h;
  v1::GroupRequest join;
  join.mutable_join()->set_group("g");
  join.mutable_join()->set_member_name(std::string(kMaxMemberNameBytes + 1, 'm'));
  *join.mutable_join()->mutable_config() = Harness::Config({std::string(kUserSaved)});
  join.mutable_join()->set_credits(1);
  h.Request("p", join);
  EXPECT_EQ(FatalError(h, "p"), "member_name is longer than 256 bytes (257)");
  EXPECT_EQ(Refused(h, Refusal::kMemberName), 1u);

  v1::GroupConfig once = Harness::Config({std::string(kUserSaved)});
  once.set_max_deliver(1);
  h.Join("a", "g", 1, once);
  std::uint64_t offset = h.PublishUser("1");
  // 999 bytes and then a two-byte character: cut before it, still valid UTF-8.
  h.Nack("a", offset, 1, std::string(999, 'e') + "\xC3\xA9" + std::string(100'000, 'x'));
  std::vector<v1::DeadLetter> letters = h.AllDeadLetters("g");
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].error(), std::string(999, 'e'));
}

TEST(CoordinatorLimitsTest, AStartOrSeekPastTheHeadIsRefusedAndLagStaysHonest) {
  Harness h;
  for (int i = 0; i < 5; ++i) h.PublishUser(std::to_string(i));
  v1::GroupConfig past = Harness::Config({std::string(kUserSaved)});
  past.mutable_start()->set_offset(7);
  h.Join("p", "g", 1, past);
  EXPECT_EQ(FatalError(h, "p"), "group g: start position: offset 7 is past the head of the log: the next offset is 6");
  EXPECT_TRUE(h.coord().ListGroups().empty());

  v1::GroupConfig earliest = Harness::Config({std::string(kUserSaved)});
  earliest.mutable_start()->set_earliest(true);
  h.Join("a", "g", 0, earliest);  // no credit: it stays behind
  ASSERT_EQ(h.Info("g").lag(), 5u);
  v1::GroupRequest seek;
  seek.mutable_seek_group()->set_group("g");
  seek.mutable_seek_group()->mutable_position()->set_offset(~std::uint64_t{0});
  EXPECT_EQ(h.Admin(seek).error(),
            "group g cannot seek: offset 18446744073709551615 is past the head of the log: the next offset is 6");
  EXPECT_EQ(h.Info("g").lag(), 5u);
  EXPECT_EQ(h.Info("g").ack_floor(), 0u);
  EXPECT_EQ(Refused(h, Refusal::kPosition), 2u);

  seek.mutable_seek_group()->mutable_position()->set_offset(6);  // the head itself: latest
  EXPECT_EQ(h.Admin(seek).error(), "");
  EXPECT_EQ(h.Info("g").lag(), 0u);
  h.PublishUser("5");
  EXPECT_EQ(h.Info("g").lag(), 1u);  // and it counts what comes
}

TEST(CoordinatorLimitsTest, AMembersByteWindowBoundsWhatItHoldsBesidesItsCredits) {
  Harness h;
  const std::uint64_t window = 2 * UserDeliveryBytes() + UserDeliveryBytes() / 2;  // two and a half events
  h.Join("a", "g", 100, Harness::Config({std::string(kUserSaved)}), 1000, window);
  std::vector<v1::GroupReply> replies = h.Replies("a");
  ASSERT_TRUE(replies.at(0).has_joined());
  EXPECT_EQ(replies[0].joined().window_bytes(), window);
  EXPECT_EQ(replies[0].joined().credits(), 100u);
  for (int i = 0; i < 10; ++i) h.PublishUser(std::to_string(i));
  std::vector<v1::Delivery> held = h.Take("a");
  ASSERT_EQ(held.size(), 2u);
  ASSERT_LE(held[0].topic().size() + held[0].event().size() + held[1].topic().size() + held[1].event().size(), window);
  h.Ack("a", held[0].offset(), 1);
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{3});
  h.coord().CheckInvariants();
}

TEST(CoordinatorLimitsTest, AnEventLargerThanTheWindowStillFlowsOneAtATime) {
  Harness h;
  h.Join("a", "g", 100, Harness::Config({std::string(kUserSaved)}), 1000, /*window_bytes=*/10);
  for (int i = 0; i < 3; ++i) h.PublishUser(std::to_string(i));
  for (std::uint64_t offset = 1; offset <= 3; ++offset) {
    EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{offset});
    h.Ack("a", offset, 1);
  }
  EXPECT_EQ(h.Info("g").ack_floor(), 3u);
}

TEST(CoordinatorLimitsTest, TheWindowAskedForIsCappedAndZeroMeansTheDefault) {
  CoordinatorOptions o;
  o.default_window_bytes = 1000;
  o.max_window_bytes = 5000;
  Harness h(o);
  h.Join("a", "g", 1, Harness::Config({std::string(kUserSaved)}), 1000, /*window_bytes=*/1ull << 40);
  EXPECT_EQ(h.Replies("a").at(0).joined().window_bytes(), 5000u);
  h.Join("b", "g", 1, Harness::Config({std::string(kUserSaved)}), 1000, /*window_bytes=*/0);
  EXPECT_EQ(h.Replies("b").at(0).joined().window_bytes(), 1000u);
}

// A delivery taken back by its ack timeout may still sit in the member's queue: its
// bytes stay charged to the member until it answers.
TEST(CoordinatorLimitsTest, ATakenBackDeliveryKeepsItsBytesChargedUntilTheMemberAnswers) {
  Harness h;
  v1::GroupConfig c = Harness::Config({std::string(kUserSaved)});
  c.set_ack_timeout_ms(1000);
  const std::uint64_t window = UserDeliveryBytes() + UserDeliveryBytes() / 2;  // one and a half events
  h.Join("a", "g", 100, c, /*heartbeat_ms=*/60'000, window);
  std::uint64_t one = h.PublishUser("1");
  ASSERT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{one});
  h.Advance(1001ms);  // taken back; a, the only member, still holds its bytes: no room for attempt 2
  EXPECT_TRUE(h.Take("a").empty());
  h.Ack("a", one, 1);  // the stale answer gives them back
  EXPECT_EQ(h.coord().counters().stale_acks, 1u);
  std::vector<v1::Delivery> again = h.Take("a");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt(), 2u);
  std::uint64_t two = h.PublishUser("2");
  EXPECT_TRUE(h.Take("a").empty());  // two would not fit
  h.Ack("a", one, 2);
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{two});
  h.coord().CheckInvariants();
}

TEST(CoordinatorLimitsTest, DeliveryBatchesAreBoundedInBytes) {
  CoordinatorOptions o;
  o.max_batch_bytes = 400;
  Harness h(o);
  h.Join("a", "g", 100);
  for (int i = 0; i < 10; ++i) h.PublishUser(std::to_string(i));
  h.coord().HandleRequest("a", v1::GroupRequest(), h.now());  // nothing: the deliveries are sent already
  int batches = 0;
  for (const Sent& s : h.sent()) {
    if (s.peer != "a" || !s.reply.has_deliveries()) continue;
    ++batches;
    std::size_t bytes = 0;
    for (const v1::Delivery& d : s.reply.deliveries().deliveries()) bytes += d.topic().size() + d.event().size();
    EXPECT_LE(bytes, 400u);
  }
  EXPECT_GE(batches, 4);
  EXPECT_EQ(h.Take("a").size(), 10u);
}

TEST(CoordinatorLimitsTest, AdminListsComeInPagesThatTogetherHoldEverything) {
  CoordinatorOptions o;
  o.max_admin_reply_bytes = 300;
  Harness h(o);
  for (int i = 0; i < 20; ++i) h.Join("m" + std::to_string(i), "group-" + std::to_string(100 + i), 1);
  std::vector<std::string> names;
  v1::GroupRequest list;
  list.mutable_list_groups();
  int pages = 0;
  for (;;) {
    v1::AdminReply reply = h.Admin(list);
    ++pages;
    EXPECT_LE(reply.ByteSizeLong(), 300u + 200u);  // a page; one more item can overshoot a little
    for (const v1::GroupInfo& g : reply.groups()) names.push_back(g.name());
    if (!reply.more()) break;
    ASSERT_GT(reply.groups_size(), 0);
    list.mutable_list_groups()->set_after(names.back());
  }
  EXPECT_GE(pages, 3);
  ASSERT_EQ(names.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(names[i], "group-" + std::to_string(100 + i));

  v1::GroupRequest one;
  one.mutable_list_groups()->set_limit(1);
  v1::AdminReply first = h.Admin(one);
  EXPECT_EQ(first.groups_size(), 1);
  EXPECT_TRUE(first.more());
}

TEST(CoordinatorLimitsTest, DeadLetterPagesHoldEveryLetterOnce) {
  CoordinatorOptions o;
  o.max_admin_reply_bytes = 500;
  Harness h(o);
  v1::GroupConfig once = Harness::Config({std::string(kUserSaved)});
  once.set_max_deliver(1);
  h.Join("a", "g", 100, once);
  for (int i = 0; i < 12; ++i) h.PublishUser(std::to_string(i));
  for (const v1::Delivery& d : h.Take("a")) h.Nack("a", d.offset(), 1, "no");
  v1::GroupRequest list;
  list.mutable_list_dead_letters()->set_group("g");
  v1::AdminReply page = h.Admin(list);
  EXPECT_TRUE(page.more());
  EXPECT_LT(page.dead_letters_size(), 12);
  std::vector<v1::DeadLetter> all = h.AllDeadLetters("g");
  ASSERT_EQ(all.size(), 12u);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].offset(), i + 1);
  list.mutable_list_dead_letters()->set_limit(1);
  page = h.Admin(list);
  EXPECT_EQ(page.dead_letters_size(), 1);
  EXPECT_TRUE(page.more());
  list.mutable_list_dead_letters()->set_after_offset(11);
  page = h.Admin(list);
  ASSERT_EQ(page.dead_letters_size(), 1);
  EXPECT_EQ(page.dead_letters(0).offset(), 12u);
  EXPECT_FALSE(page.more());
}

TEST(CoordinatorLimitsTest, GroupsWithoutMembersHaveNoDeadlines) {
  Harness h;
  for (int i = 0; i < 100; ++i) {
    h.Join("p", "g" + std::to_string(i), 10);  // each Join ends the peer's last membership
  }
  h.Leave("p");
  h.Advance(5s);  // past the expiry checks queued for the memberships that ended
  h.PublishUser("1");
  EXPECT_EQ(h.coord().NextDeadline(), TimePoint::max());
  EXPECT_EQ(h.coord().ListGroups().size(), 100u);
}

}  // namespace
}  // namespace signalbus::groups::testing
