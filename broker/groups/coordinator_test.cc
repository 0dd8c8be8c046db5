// Coordinator semantics with a MemoryStore, a fake clock and a recording SendFn:
// routing, acks, redelivery, backoff, dead letters, per-key order, credits, start
// positions, seeking, and the replies to members and admins.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "test_harness.h"

namespace signalbus::groups::testing {
namespace {

v1::GroupConfig UserConfig() { return Harness::Config({std::string(kUserSaved)}); }

TEST(CoordinatorTest, JoinIsAnsweredWithTheMemberId) {
  Harness h;
  h.Join("a", "profiles", 10);
  std::vector<v1::GroupReply> replies = h.Replies("a");
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(replies[0].has_joined());
  EXPECT_EQ(replies[0].joined().group(), "profiles");
  EXPECT_FALSE(replies[0].joined().member_id().empty());
}

TEST(CoordinatorTest, EachEventGoesToExactlyOneMemberOfAGroup) {
  Harness h;
  for (const char* peer : {"a", "b", "c"}) h.Join(peer, "g", 100);
  for (int i = 0; i < 30; ++i) h.PublishUser(std::to_string(i));
  std::multiset<std::uint64_t> seen;
  for (const char* peer : {"a", "b", "c"}) {
    for (const v1::Delivery& d : h.Take(peer)) {
      seen.insert(d.offset());
      EXPECT_EQ(d.attempt(), 1u);
      EXPECT_EQ(d.topic(), kUserSaved);
      auto stored = h.store().Read(d.offset(), 1, 1 << 20);
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(d.event(), stored->at(0).event);
    }
  }
  ASSERT_EQ(seen.size(), 30u);
  for (std::uint64_t o = 1; o <= 30; ++o) EXPECT_EQ(seen.count(o), 1u) << o;
  h.coord().CheckInvariants();
}

TEST(CoordinatorTest, EveryGroupGetsEveryMatchingEvent) {
  Harness h;
  h.Join("a", "emails", 100);
  h.Join("b", "profiles", 100);
  h.Join("c", "orders", 100, Harness::Config({"shop.Order/*"}));
  std::vector<std::uint64_t> users, orders;
  for (int i = 0; i < 10; ++i) {
    users.push_back(h.PublishUser(std::to_string(i)));
    orders.push_back(h.Publish("shop.Order/order_paid", "shop.Order:" + std::to_string(i)));
  }
  std::vector<v1::Delivery> a = h.Take("a"), b = h.Take("b"), c = h.Take("c");
  EXPECT_EQ(Offsets(a), users);
  EXPECT_EQ(Offsets(b), users);
  EXPECT_EQ(Offsets(c), orders);
  // Events a group does not subscribe to are skipped: acking its own moves the floor
  // over the others.
  h.AckAll("a", a);
  h.AckAll("c", c);
  EXPECT_EQ(h.Info("emails").ack_floor(), 20u);
  EXPECT_EQ(h.Info("orders").ack_floor(), 20u);
  EXPECT_EQ(h.Info("profiles").ack_floor(), 0u);
  EXPECT_EQ(h.Info("emails").lag(), 0u);
}

TEST(CoordinatorTest, MembersShareTheWork) {
  Harness h;
  for (const char* peer : {"a", "b", "c"}) h.Join(peer, "g", 1000);
  for (int i = 0; i < 90; ++i) h.PublishUser(std::to_string(i));
  EXPECT_EQ(h.Take("a").size(), 30u);
  EXPECT_EQ(h.Take("b").size(), 30u);
  EXPECT_EQ(h.Take("c").size(), 30u);
}

TEST(CoordinatorTest, DeliveriesAreBatchedUpToMaxBatch) {
  CoordinatorOptions options;
  options.max_batch = 4;
  Harness h(options);
  for (int i = 0; i < 10; ++i) h.store().Append(kUserSaved, MakeEvent(kUserSaved, "k" + std::to_string(i)), 0).value();
  h.Join("a", "g", 100, [] {
    v1::GroupConfig c = UserConfig();
    c.mutable_start()->set_earliest(true);
    return c;
  }());
  h.Replies("a");
  h.Durable();
  std::vector<std::size_t> sizes;
  for (const Sent& s : h.sent()) {
    if (s.peer == "a" && s.reply.has_deliveries()) sizes.push_back(s.reply.deliveries().deliveries_size());
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 2}));
}

TEST(CoordinatorTest, UnackedEventIsRedeliveredAfterAckTimeout) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_ack_timeout_ms(1000);
  h.Join("a", "g", 10, config);
  std::uint64_t offset = h.PublishUser("1");
  ASSERT_EQ(h.Take("a").size(), 1u);
  h.Advance(999ms);
  EXPECT_TRUE(h.Take("a").empty());
  h.Advance(1ms);
  std::vector<v1::Delivery> again = h.Take("a");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].offset(), offset);
  EXPECT_EQ(again[0].attempt(), 2u);
  h.Ack("a", offset, 2);
  EXPECT_EQ(h.Info("g").ack_floor(), offset);
  EXPECT_EQ(h.Info("g").redelivered(), 1u);
  EXPECT_EQ(h.coord().counters().redelivered, 1u);
}

TEST(CoordinatorTest, LateAckFromAnEarlierAttemptIsRefused) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_ack_timeout_ms(1000);
  h.Join("a", "g", 1, config);
  std::uint64_t first = h.PublishUser("1");
  ASSERT_EQ(h.Take("a").size(), 1u);
  h.Join("b", "g", 1, config);
  h.Advance(1000ms);  // a is paused past its ack timeout: b gets attempt 2
  std::vector<v1::Delivery> b = h.Take("b");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].attempt(), 2u);

  h.Ack("a", first, 1);  // too late
  EXPECT_EQ(h.coord().counters().stale_acks, 1u);
  EXPECT_EQ(h.coord().counters().acked, 0u);
  EXPECT_EQ(h.Info("g").ack_floor(), 0u);
  // ... but a got its credit back: it takes the next event.
  std::uint64_t second = h.PublishUser("2");
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{second});

  h.Ack("b", first, 2);
  EXPECT_EQ(h.Info("g").ack_floor(), first);
  EXPECT_EQ(h.coord().counters().acked, 1u);
}

TEST(CoordinatorTest, AckFromAnotherMemberOrForAnUnknownOffsetIsStale) {
  Harness h;
  h.Join("a", "g", 10);
  h.Join("b", "g", 10);
  std::uint64_t offset = h.PublishUser("1");
  std::string holder = h.Take("a").empty() ? "b" : "a";
  std::string other = holder == "a" ? "b" : "a";
  h.Ack(other, offset, 1);
  h.Ack(holder, 999, 1);
  h.Ack(holder, offset, 7);
  EXPECT_EQ(h.coord().counters().stale_acks, 3u);
  EXPECT_EQ(h.Info("g").ack_floor(), 0u);
  h.Ack(holder, offset, 1);
  EXPECT_EQ(h.Info("g").ack_floor(), offset);
}

TEST(CoordinatorTest, ExpiredMemberLosesItsDeliveriesToAnother) {
  Harness h;
  h.Join("a", "g", 10, UserConfig(), /*heartbeat_ms=*/100);
  std::vector<std::uint64_t> published;
  for (int i = 0; i < 3; ++i) published.push_back(h.PublishUser(std::to_string(i)));
  ASSERT_EQ(Offsets(h.Take("a")), published);
  h.Join("b", "g", 10, UserConfig(), 100);
  for (int i = 0; i < 2; ++i) {
    h.Advance(100ms);
    h.Heartbeat("b");
  }
  EXPECT_TRUE(h.Take("b").empty());
  h.Advance(100ms);  // 300 ms without a word from a
  std::vector<v1::Delivery> b = h.Take("b");
  EXPECT_EQ(Offsets(b), published);
  for (const v1::Delivery& d : b) EXPECT_EQ(d.attempt(), 2u);
  EXPECT_EQ(h.coord().counters().members_expired, 1u);
  EXPECT_EQ(h.Info("g").members(), 1u);
  // a comes back: it is told to join again.
  h.Replies("a");
  h.Ack("a", published[0], 1);
  std::vector<v1::GroupReply> replies = h.Replies("a");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].error().fatal());
}

TEST(CoordinatorTest, MemberExpiryCountsAsAnAttemptButLeaveDoesNot) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_max_deliver(1);
  h.Join("a", "g", 10, config, /*heartbeat_ms=*/100);
  std::uint64_t crashed = h.PublishUser("1");
  h.Advance(300ms);  // a never speaks again: its delivery used up the only attempt
  v1::GroupRequest list;
  list.mutable_list_dead_letters()->set_group("g");
  v1::AdminReply reply = h.Admin(list);
  ASSERT_EQ(reply.dead_letters_size(), 1);
  EXPECT_EQ(reply.dead_letters(0).offset(), crashed);
  EXPECT_EQ(reply.dead_letters(0).error(), "member expired");

  h.Join("b", "g", 10, config);
  std::uint64_t left = h.PublishUser("2");
  ASSERT_EQ(h.Take("b").size(), 1u);
  h.Join("c", "g", 10, config);
  h.Leave("b");  // drained and left: what it had goes back without counting
  std::vector<v1::Delivery> c = h.Take("c");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].offset(), left);
  EXPECT_EQ(c[0].attempt(), 2u);
  EXPECT_EQ(h.Info("g").dead_lettered(), 1u);
}

TEST(CoordinatorTest, NextDeadlineIsTheEarliestTimer) {
  Harness h;
  EXPECT_EQ(h.coord().NextDeadline(), TimePoint::max());
  v1::GroupConfig config = UserConfig();
  config.set_ack_timeout_ms(5000);
  config.set_backoff_initial_ms(40);
  h.Join("a", "g", 10, config, /*heartbeat_ms=*/1000);
  EXPECT_EQ(h.coord().NextDeadline(), h.now() + 3000ms);  // member expiry
  std::uint64_t one = h.PublishUser("1");
  h.PublishUser("2");
  EXPECT_EQ(h.coord().NextDeadline(), h.now() + 3000ms);
  h.Nack("a", one, 1, "x");
  EXPECT_EQ(h.coord().NextDeadline(), h.now() + 40ms);  // the retry
}

TEST(CoordinatorTest, AnyMessageKeepsAMemberAlive) {
  Harness h;
  h.Join("a", "g", 10, UserConfig(), 100);
  std::uint64_t offset = h.PublishUser("1");
  for (int i = 0; i < 10; ++i) {
    h.Advance(250ms);
    h.Credit("a", 0);
  }
  EXPECT_EQ(h.coord().counters().members_expired, 0u);
  h.Ack("a", offset, 1);
  EXPECT_EQ(h.Info("g").ack_floor(), offset);
}

TEST(CoordinatorTest, HeartbeatIsAnsweredWithAHeartbeat) {
  Harness h;
  h.Join("a", "g", 1);
  h.Replies("a");
  h.Heartbeat("a");
  std::vector<v1::GroupReply> replies = h.Replies("a");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].has_heartbeat());
}

TEST(CoordinatorTest, LeaveSendsPendingDeliveriesBackAtOnce) {
  Harness h;
  h.Join("a", "g", 10);
  std::uint64_t offset = h.PublishUser("1");
  ASSERT_EQ(h.Take("a").size(), 1u);
  h.Join("b", "g", 10);
  h.Leave("a");
  std::vector<v1::Delivery> b = h.Take("b");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].offset(), offset);
  EXPECT_EQ(b[0].attempt(), 2u);
  EXPECT_EQ(h.Info("g").members(), 1u);
}

TEST(CoordinatorTest, NackRetriesWithExponentialBackoff) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_max_deliver(10);
  config.set_backoff_initial_ms(100);
  config.set_backoff_max_ms(500);
  h.Join("a", "g", 10, config);
  std::uint64_t offset = h.PublishUser("1");
  ASSERT_EQ(h.Take("a").size(), 1u);
  // attempt n failed -> retried after min(100 * 2^(n-1), 500) ms.
  std::uint32_t attempt = 1;
  for (std::chrono::milliseconds delay : {100ms, 200ms, 400ms, 500ms, 500ms}) {
    h.Nack("a", offset, attempt, "boom");
    h.Advance(delay - 1ms);
    EXPECT_TRUE(h.Take("a").empty()) << "attempt " << attempt;
    h.Advance(1ms);
    std::vector<v1::Delivery> d = h.Take("a");
    ASSERT_EQ(d.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(d[0].attempt(), ++attempt);
  }
  EXPECT_EQ(h.coord().counters().nacked, 5u);
}

TEST(CoordinatorTest, EventGoesToDeadLetterQueueAfterMaxDeliver) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_max_deliver(3);
  config.set_backoff_initial_ms(10);
  h.Join("a", "g", 10, config);
  std::uint64_t offset = h.PublishUser("1");
  std::uint64_t next = h.PublishUser("2");
  h.Take("a");
  for (std::uint32_t attempt = 1; attempt <= 3; ++attempt) {
    h.Nack("a", offset, attempt, "handler failed: " + std::to_string(attempt));
    h.Advance(100ms);
  }
  h.Ack("a", next, 1);
  EXPECT_EQ(h.Info("g").ack_floor(), next);
  EXPECT_EQ(h.Info("g").dead_lettered(), 1u);
  EXPECT_EQ(h.coord().counters().dead_lettered, 1u);

  v1::GroupRequest list;
  list.mutable_list_dead_letters()->set_group("g");
  v1::AdminReply reply = h.Admin(list);
  ASSERT_EQ(reply.dead_letters_size(), 1);
  const v1::DeadLetter& letter = reply.dead_letters(0);
  EXPECT_EQ(letter.offset(), offset);
  EXPECT_EQ(letter.attempts(), 3u);
  EXPECT_EQ(letter.error(), "handler failed: 3");
  EXPECT_EQ(letter.topic(), kUserSaved);
  EXPECT_EQ(letter.event(), h.store().Read(offset, 1, 1 << 20)->at(0).event);
  EXPECT_GT(letter.dead_lettered_at().seconds(), 0);
}

TEST(CoordinatorTest, AckTimeoutsCountAsAttemptsAndDeadLetterToo) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_max_deliver(2);
  config.set_ack_timeout_ms(100);
  h.Join("a", "g", 10, config);
  std::uint64_t offset = h.PublishUser("1");
  h.Advance(100ms);
  h.Advance(100ms);
  EXPECT_EQ(h.Take("a").size(), 2u);
  EXPECT_EQ(h.Info("g").ack_floor(), offset);
  v1::GroupRequest list;
  list.mutable_list_dead_letters()->set_group("g");
  v1::AdminReply reply = h.Admin(list);
  ASSERT_EQ(reply.dead_letters_size(), 1);
  EXPECT_EQ(reply.dead_letters(0).error(), "ack timeout");
  EXPECT_EQ(reply.dead_letters(0).attempts(), 2u);
}

TEST(CoordinatorTest, UndecodableRecordIsDeadLetteredNotDelivered) {
  Harness h;
  h.Join("a", "g", 10);
  h.store().Append(kUserSaved, "not an event", 0).value();
  h.Durable();
  EXPECT_TRUE(h.Take("a").empty());
  EXPECT_EQ(h.Info("g").ack_floor(), 1u);
  v1::GroupRequest list;
  list.mutable_list_dead_letters()->set_group("g");
  v1::AdminReply reply = h.Admin(list);
  ASSERT_EQ(reply.dead_letters_size(), 1);
  EXPECT_NE(reply.dead_letters(0).error().find("undecodable"), std::string::npos);
  EXPECT_EQ(reply.dead_letters(0).event(), "not an event");
}

TEST(CoordinatorTest, SameKeyIsNeverInFlightTwiceAndKeepsOrder) {
  Harness h;
  h.Join("a", "g", 10);
  h.Join("b", "g", 10);
  std::vector<std::uint64_t> offsets;
  for (int i = 0; i < 5; ++i) offsets.push_back(h.Publish(kUserSaved, "auth.User:42"));
  std::vector<std::uint64_t> order;
  for (int step = 0; step < 5; ++step) {
    std::vector<v1::Delivery> a = h.Take("a"), b = h.Take("b");
    ASSERT_EQ(a.size() + b.size(), 1u) << "step " << step;  // one at a time
    const std::string peer = a.empty() ? "b" : "a";
    const v1::Delivery d = a.empty() ? b[0] : a[0];
    order.push_back(d.offset());
    h.Ack(peer, d.offset(), d.attempt());
  }
  EXPECT_EQ(order, offsets);
  h.coord().CheckInvariants();
}

TEST(CoordinatorTest, OtherKeysAreNotHeldUpByAFailingKey) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_backoff_initial_ms(1000);
  h.Join("a", "g", 10, config);
  std::uint64_t k1a = h.Publish(kUserSaved, "k1");
  std::uint64_t k2 = h.Publish(kUserSaved, "k2");
  std::uint64_t k1b = h.Publish(kUserSaved, "k1");
  std::uint64_t k3 = h.Publish(kUserSaved, "k3");
  std::uint64_t nokey = h.Publish(kUserSaved, "");
  EXPECT_EQ(Offsets(h.Take("a")), (std::vector<std::uint64_t>{k1a, k2, k3, nokey}));
  h.Nack("a", k1a, 1, "fails");  // k1 waits for its retry; k1b waits behind it
  h.Ack("a", k2, 1);
  h.Ack("a", k3, 1);
  std::uint64_t k2b = h.Publish(kUserSaved, "k2");
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{k2b});
  h.Advance(1000ms);
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{k1a});
  h.Ack("a", k1a, 2);
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{k1b});
  h.coord().CheckInvariants();
}

TEST(CoordinatorTest, DeadLetteringAnEventReleasesItsKey) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_max_deliver(1);
  h.Join("a", "g", 10, config);
  std::uint64_t first = h.Publish(kUserSaved, "k");
  std::uint64_t second = h.Publish(kUserSaved, "k");
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{first});
  h.Nack("a", first, 1, "poison");
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{second});
}

TEST(CoordinatorTest, HeldEventsAreBoundedByMaxHeld) {
  CoordinatorOptions options;
  options.max_held = 3;
  Harness h(options);
  h.Join("a", "g", 100);
  for (int i = 0; i < 5; ++i) h.Publish(kUserSaved, "hot");  // 1 through the gate, 4 wanting to wait
  std::uint64_t other = h.Publish(kUserSaved, "cold");
  EXPECT_EQ(h.Take("a").size(), 1u);  // the scan stopped at max_held: "cold" is not read yet
  EXPECT_EQ(h.Info("g").lag(), 6u);
  h.Ack("a", 1, 1);  // the queue drains by one; scanning resumes
  std::vector<std::uint64_t> got = Offsets(h.Take("a"));
  EXPECT_EQ(got.front(), 2u);
  h.Ack("a", 2, 1);
  got = Offsets(h.Take("a"));
  EXPECT_TRUE(std::find(got.begin(), got.end(), other) != got.end());
}

TEST(CoordinatorTest, MemberWithoutCreditGetsNothing) {
  Harness h;
  h.Join("a", "g", 0);
  for (int i = 0; i < 5; ++i) h.PublishUser(std::to_string(i));
  EXPECT_TRUE(h.Take("a").empty());
  h.Credit("a", 2);
  std::vector<v1::Delivery> got = h.Take("a");
  EXPECT_EQ(Offsets(got), (std::vector<std::uint64_t>{1, 2}));
  h.Advance(10ms);
  EXPECT_TRUE(h.Take("a").empty());
  h.Ack("a", 1, 1);  // one credit back
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{3});
  h.Nack("a", 2, 1, "x");  // a nack returns one too
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{4});
}

TEST(CoordinatorTest, SlowMemberDoesNotBlockOtherMembers) {
  Harness h;
  h.Join("slow", "g", 1);
  h.Join("fast", "g", 1);
  for (int i = 0; i < 20; ++i) h.PublishUser(std::to_string(i));
  EXPECT_EQ(h.Take("slow").size(), 1u);
  std::size_t fast = 0;
  for (int i = 0; i < 19; ++i) {
    std::vector<v1::Delivery> d = h.Take("fast");
    ASSERT_EQ(d.size(), 1u);
    ++fast;
    h.AckAll("fast", d);
  }
  EXPECT_EQ(fast, 19u);
}

TEST(CoordinatorTest, SlowGroupDoesNotDelayAnotherGroup) {
  CoordinatorOptions options;
  options.max_scan = 16;
  Harness h(options);
  // "backlog" starts at the beginning of a long log and may read only max_scan records
  // per call; "live" starts at the end.
  for (int i = 0; i < 1000; ++i) h.store().Append(kUserSaved, MakeEvent(kUserSaved, "k" + std::to_string(i)), 0).value();
  h.store().Sync().value();
  v1::GroupConfig earliest = UserConfig();
  earliest.mutable_start()->set_earliest(true);
  h.coord().OnDurable(1000, h.now());
  h.coord().HandleRequest("slow-member", [] {
    v1::GroupRequest r;
    r.mutable_join()->set_group("slow");
    *r.mutable_join()->mutable_config() = Harness::Config({std::string(kUserSaved)});
    r.mutable_join()->set_credits(1);
    return r;
  }(), h.now());
  v1::GroupRequest join;
  join.mutable_join()->set_group("backlog");
  *join.mutable_join()->mutable_config() = earliest;
  join.mutable_join()->set_credits(100'000);
  h.coord().HandleRequest("b", join, h.now());
  join.mutable_join()->set_group("live");
  join.mutable_join()->mutable_config()->mutable_start()->set_latest(true);
  h.coord().HandleRequest("l", join, h.now());
  EXPECT_EQ(h.Take("b").size(), 16u);  // one call, one max_scan
  // A new event reaches "live" in the very next call, whatever "backlog" has left.
  std::uint64_t offset = *h.store().Append(kUserSaved, MakeEvent(kUserSaved, "new"), 0);
  h.coord().OnDurable(*h.store().Sync(), h.now());
  EXPECT_EQ(Offsets(h.Take("l")), std::vector<std::uint64_t>{offset});
  // The backlog asks to be called again right away, and catches up over calls.
  EXPECT_LE(h.coord().NextDeadline(), h.now());
  h.Settle();
  EXPECT_EQ(h.Take("b").size(), 1001u - 16u);
  // "slow" (a member that never acks) holds one event and nobody else waits for it.
  EXPECT_EQ(h.Take("slow-member").size(), 1u);
}

TEST(CoordinatorTest, NewGroupStartsAtEarliestLatestOffsetOrTime) {
  Harness h;
  for (int i = 1; i <= 5; ++i) h.store().Append(kUserSaved, MakeEvent(kUserSaved, "k" + std::to_string(i)), i * 1000).value();
  h.Durable();
  auto join = [&](const std::string& group, auto set) {
    v1::GroupConfig c = UserConfig();
    set(c.mutable_start());
    h.Join(group, group, 100, c);
    return Offsets(h.Take(group));
  };
  EXPECT_EQ(join("earliest", [](v1::StartPosition* p) { p->set_earliest(true); }),
            (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(join("latest", [](v1::StartPosition* p) { p->set_latest(true); }).empty());
  EXPECT_TRUE(join("default", [](v1::StartPosition*) {}).empty());
  EXPECT_EQ(join("offset", [](v1::StartPosition* p) { p->set_offset(4); }), (std::vector<std::uint64_t>{4, 5}));
  EXPECT_EQ(join("time", [](v1::StartPosition* p) { p->mutable_time()->set_seconds(3); }),
            (std::vector<std::uint64_t>{3, 4, 5}));
  std::uint64_t six = h.PublishUser("6");
  for (const char* g : {"earliest", "latest", "default", "offset", "time"}) {
    EXPECT_EQ(Offsets(h.Take(g)), std::vector<std::uint64_t>{six}) << g;
  }
  EXPECT_EQ(h.Info("latest").ack_floor(), 5u);
}

TEST(CoordinatorTest, EventsRemovedByRetentionAreSkipped) {
  eventlog::MemoryStore::Options store_options;
  store_options.segment_bytes = 1;  // one record per segment
  store_options.retention.max_bytes = 1;
  eventlog::MemoryStore store(store_options);
  Harness h({}, &store);
  for (int i = 0; i < 5; ++i) store.Append(kUserSaved, MakeEvent(kUserSaved, "k"), 0).value();
  ASSERT_TRUE(store.ApplyRetention(0).ok());
  ASSERT_EQ(store.first_offset(), 5u);
  v1::GroupConfig c = UserConfig();
  c.mutable_start()->set_earliest(true);
  c.mutable_start()->set_offset(1);
  h.Join("a", "g", 10, c);
  h.Durable();
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{5});
  h.Ack("a", 5, 1);
  EXPECT_EQ(h.Info("g").ack_floor(), 5u);
}

TEST(CoordinatorTest, SeekReplaysFromAPosition) {
  Harness h;
  h.Join("a", "g", 100);
  for (int i = 0; i < 10; ++i) h.PublishUser(std::to_string(i));
  std::vector<v1::Delivery> first = h.Take("a");
  ASSERT_EQ(first.size(), 10u);
  first.pop_back();  // 10 stays in flight
  h.AckAll("a", first);
  EXPECT_EQ(h.Info("g").ack_floor(), 9u);

  v1::GroupRequest seek;
  seek.mutable_seek_group()->set_group("g");
  seek.mutable_seek_group()->mutable_position()->set_offset(4);
  v1::AdminReply reply = h.Admin(seek);
  EXPECT_EQ(reply.error(), "");
  EXPECT_EQ(reply.affected(), 1u);  // offset 10 was abandoned
  EXPECT_EQ(h.Info("g").ack_floor(), 3u);
  h.Ack("a", 10, 1);  // an ack for the abandoned delivery is stale
  EXPECT_EQ(h.coord().counters().stale_acks, 1u);
  std::vector<v1::Delivery> again = h.Take("a");
  EXPECT_EQ(Offsets(again), (std::vector<std::uint64_t>{4, 5, 6, 7, 8, 9, 10}));
  for (const v1::Delivery& d : again) {
    // Acked events come back as first deliveries; the abandoned one continues its
    // attempt numbers, so the late ack above could not be mistaken for a new one.
    EXPECT_EQ(d.attempt(), d.offset() == 10 ? 2u : 1u) << d.offset();
  }
  h.AckAll("a", again);
  EXPECT_EQ(h.Info("g").ack_floor(), 10u);
}

TEST(CoordinatorTest, SeekToLatestSkipsTheBacklog) {
  Harness h;
  h.Join("a", "g", 0);
  for (int i = 0; i < 5; ++i) h.PublishUser(std::to_string(i));
  v1::GroupRequest seek;
  seek.mutable_seek_group()->set_group("g");
  seek.mutable_seek_group()->mutable_position()->set_latest(true);
  EXPECT_EQ(h.Admin(seek).error(), "");
  EXPECT_EQ(h.Info("g").ack_floor(), 5u);
  EXPECT_EQ(h.Info("g").lag(), 0u);
}

TEST(CoordinatorTest, AGroupThatCannotReadTheLogSaysWhyAndResumesWhenTheReadSucceeds) {
  Harness h;
  h.Join("a", "g", 100, UserConfig(), /*heartbeat_ms=*/60'000);  // alive across the retries
  h.PublishUser("1");
  h.AckAll("a", h.Take("a"));
  h.reads().FailReadsAt(2);
  h.PublishUser("2");
  h.PublishUser("3");
  EXPECT_TRUE(h.Take("a").empty());
  EXPECT_EQ(h.Info("g").read_error(), "cannot read the log at offset 2: data_loss: checksum mismatch at offset 2");
  h.Advance(2s);  // retried, still failing: nothing skipped, nothing delivered
  EXPECT_TRUE(h.Take("a").empty());
  EXPECT_EQ(h.Info("g").ack_floor(), 1u);
  h.reads().Heal();
  h.Advance(1s);
  EXPECT_EQ(Offsets(h.Take("a")), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(h.Info("g").read_error(), "");
}

TEST(CoordinatorTest, SeekingPastAnUnreadableRecordEndsTheStall) {
  Harness h;
  h.Join("a", "g", 100);
  h.reads().FailReadsAt(1);
  h.PublishUser("1");
  h.PublishUser("2");
  ASSERT_NE(h.Info("g").read_error(), "");
  v1::GroupRequest seek;
  seek.mutable_seek_group()->set_group("g");
  seek.mutable_seek_group()->mutable_position()->set_offset(2);
  EXPECT_EQ(h.Admin(seek).error(), "");
  EXPECT_EQ(h.Info("g").read_error(), "");
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{2});
}

TEST(CoordinatorTest, UnknownPeerIsToldToRejoin) {
  Harness h;
  v1::GroupRequest requests[5];
  requests[0].mutable_ack()->add_deliveries()->set_offset(1);
  requests[1].mutable_nack();
  requests[2].mutable_credit()->set_credits(1);
  requests[3].mutable_heartbeat();
  requests[4].mutable_leave();
  for (const v1::GroupRequest& r : requests) {
    h.Request("stranger", r);
    std::vector<v1::GroupReply> replies = h.Replies("stranger");
    ASSERT_EQ(replies.size(), 1u) << r.ShortDebugString();
    ASSERT_TRUE(replies[0].has_error());
    EXPECT_TRUE(replies[0].error().fatal());
    EXPECT_EQ(replies[0].error().message(), "unknown member; join again");
  }
}

std::vector<std::string> Subscriptions(const v1::GroupInfo& info) {
  return {info.subscriptions().begin(), info.subscriptions().end()};
}

TEST(CoordinatorTest, AMemberWithOtherSubscriptionsWidensTheGroupAndOnlyItGetsTheNewTopic) {
  Harness h;
  h.Join("old", "g", 100, Harness::Config({"auth.User/post_save"}));
  // The same set in another order and spelling changes nothing.
  h.Join("old2", "g", 100, Harness::Config({"auth.User/post_save", "auth.User/post_save"}));
  EXPECT_TRUE(h.Replies("old2").at(0).has_joined());
  EXPECT_EQ(Subscriptions(h.Info("g")), std::vector<std::string>{"auth.User/post_save"});
  h.Join("new", "g", 100, Harness::Config({"auth.User/post_save", "shop.Order/*"}));
  EXPECT_TRUE(h.Replies("new").at(0).has_joined());
  EXPECT_EQ(Subscriptions(h.Info("g")), (std::vector<std::string>{"auth.User/post_save", "shop.Order/*"}));
  EXPECT_EQ(h.Info("g").members(), 3u);
  for (int i = 0; i < 6; ++i) {
    h.PublishUser(std::to_string(i));
    h.Publish("shop.Order/order_paid", "shop.Order:" + std::to_string(i));
  }
  std::size_t users = 0;
  std::size_t orders = 0;
  for (const char* peer : {"old", "old2", "new"}) {
    for (const v1::Delivery& d : h.Take(peer)) {
      if (d.topic() == "shop.Order/order_paid") {
        EXPECT_EQ(std::string(peer), "new") << "an old member got the new topic";
        ++orders;
      } else {
        ++users;
      }
    }
  }
  EXPECT_EQ(users, 6u);
  EXPECT_EQ(orders, 6u);
  // The old members leave: the union is the new member's.
  h.Leave("old");
  h.Leave("old2");
  EXPECT_EQ(Subscriptions(h.Info("g")), (std::vector<std::string>{"auth.User/post_save", "shop.Order/*"}));
}

TEST(CoordinatorTest, AnEventWhoseLastSubscriberLeftWaitsForTheNextWithoutHoldingUpTheOthers) {
  Harness h;
  h.Join("users", "g", 100, Harness::Config({"auth.User/post_save"}));
  h.Join("orders", "g", 1, Harness::Config({"shop.Order/order_paid"}));
  std::uint64_t first = h.Publish("shop.Order/order_paid", "shop.Order:1");
  std::uint64_t waiting = h.Publish("shop.Order/order_paid", "shop.Order:2");  // "orders" has no credit left
  ASSERT_EQ(Offsets(h.Take("orders")), std::vector<std::uint64_t>{first});
  h.Leave("orders");  // its delivery goes back; nobody connected wants orders now
  std::uint64_t user = h.PublishUser("1");
  EXPECT_EQ(Offsets(h.Take("users")), std::vector<std::uint64_t>{user});
  // A member for orders comes back: both are delivered to it, in order, none to "users".
  h.Join("orders2", "g", 10, Harness::Config({"shop.Order/order_paid"}));
  EXPECT_EQ(Offsets(h.Take("orders2")), (std::vector<std::uint64_t>{first, waiting}));
  EXPECT_TRUE(h.Take("users").empty());
}

TEST(CoordinatorTest, TheUnionOfMembersSubscriptionsMustStayWithinTheLimit) {
  Harness h;
  h.options().max_subscriptions = 2;
  ASSERT_TRUE(h.Reopen().ok());
  h.Join("a", "g", 1, Harness::Config({"auth.User/post_save", "auth.User/post_delete"}));
  h.Join("b", "g", 1, Harness::Config({"shop.Order/*"}));
  std::vector<v1::GroupReply> replies = h.Replies("b");
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(replies[0].has_error());
  EXPECT_EQ(replies[0].error().message(),
            "group g: its members would subscribe to 3 patterns, more than the broker's limit of 2");
  EXPECT_EQ(h.Info("g").members(), 1u);
}

TEST(CoordinatorTest, BadJoinsAreRefused) {
  Harness h;
  for (const std::string& name : {std::string(""), std::string("a/b"), std::string("../etc"), std::string(101, 'x')}) {
    h.Join("p", name, 1);
    std::vector<v1::GroupReply> replies = h.Replies("p");
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_TRUE(replies[0].error().fatal()) << name;
  }
  h.Join("p", "g", 1, Harness::Config({}));
  EXPECT_TRUE(h.Replies("p").at(0).error().fatal());
  h.Join("p", "g", 1, Harness::Config({"not a pattern!"}));
  EXPECT_TRUE(h.Replies("p").at(0).error().fatal());
  EXPECT_TRUE(h.coord().ListGroups().empty());
  h.Join("p", std::string(100, 'x'), 1);
  EXPECT_TRUE(h.Replies("p").at(0).has_joined());
}

TEST(CoordinatorTest, EmptyRequestIsCountedAndAnswered) {
  Harness h;
  h.Request("p", v1::GroupRequest());
  std::vector<v1::GroupReply> replies = h.Replies("p");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(replies[0].error().fatal());
  EXPECT_EQ(h.coord().counters().bad_requests, 1u);
}

TEST(CoordinatorTest, RejoinFromTheSamePeerStartsAFreshMember) {
  Harness h;
  h.Join("a", "g", 10);
  std::uint64_t offset = h.PublishUser("1");
  ASSERT_EQ(h.Take("a").size(), 1u);
  h.Join("a", "g", 10);  // the receiver restarted behind the same routing id
  std::vector<v1::Delivery> again = h.Take("a");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].offset(), offset);
  EXPECT_EQ(again[0].attempt(), 2u);
  EXPECT_EQ(h.Info("g").members(), 1u);
}

TEST(CoordinatorTest, AdminListsGroupsWithLagAndPending) {
  Harness h;
  h.Join("a", "g", 2);
  for (int i = 0; i < 5; ++i) h.PublishUser(std::to_string(i));
  h.Publish("shop.Order/order_paid", "");
  h.Ack("a", 1, 1);
  v1::GroupRequest list;
  list.mutable_list_groups();
  v1::AdminReply reply = h.Admin(list);
  ASSERT_EQ(reply.groups_size(), 1);
  const v1::GroupInfo& g = reply.groups(0);
  EXPECT_EQ(g.name(), "g");
  EXPECT_EQ(g.subscriptions_size(), 1);
  EXPECT_EQ(g.members(), 1u);
  EXPECT_EQ(g.head_offset(), 6u);
  EXPECT_EQ(g.ack_floor(), 1u);
  EXPECT_EQ(g.pending(), 2u);  // offsets 2 and 3
  EXPECT_EQ(g.lag(), 5u);      // 2..6: 2 in flight, 4 and 5 unread, 6 unread (not subscribed)
  EXPECT_EQ(g.acked(), 1u);
}

TEST(CoordinatorTest, AdminErrorsNameTheProblem) {
  Harness h;
  v1::GroupRequest r;
  r.mutable_list_dead_letters()->set_group("nope");
  EXPECT_NE(h.Admin(r).error().find("nope"), std::string::npos);
  r.mutable_seek_group()->set_group("nope");
  EXPECT_EQ(h.Admin(r).error(), "seek needs a position");
}

TEST(CoordinatorTest, ReplayedDeadLettersAreDeliveredAfreshAndPurgeRemovesThem) {
  Harness h;
  v1::GroupConfig config = UserConfig();
  config.set_max_deliver(1);
  h.Join("a", "g", 10, config);
  std::uint64_t one = h.PublishUser("1");
  std::uint64_t two = h.PublishUser("2");
  std::uint64_t three = h.PublishUser("3");
  h.Take("a");
  h.Nack("a", one, 1, "e1");
  h.Nack("a", two, 1, "e2");
  h.Nack("a", three, 1, "e3");
  EXPECT_EQ(h.Info("g").dead_lettered(), 3u);

  v1::GroupRequest replay;
  replay.mutable_replay_dead_letters()->set_group("g");
  replay.mutable_replay_dead_letters()->add_offsets(two);
  replay.mutable_replay_dead_letters()->add_offsets(12345);  // not a dead letter
  EXPECT_EQ(h.Admin(replay).affected(), 1u);
  std::vector<v1::Delivery> d = h.Take("a");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].offset(), two);
  EXPECT_EQ(d[0].attempt(), 1u);
  EXPECT_EQ(h.Info("g").dead_lettered(), 2u);
  h.Ack("a", two, 1);

  v1::GroupRequest purge;
  purge.mutable_purge_dead_letters()->set_group("g");
  EXPECT_EQ(h.Admin(purge).affected(), 2u);
  EXPECT_EQ(h.Info("g").dead_lettered(), 0u);
}

}  // namespace
}  // namespace signalbus::groups::testing
