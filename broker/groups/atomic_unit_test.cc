// Atomic batches in a group: the events of one (a transaction: an order and its lines)
// go to one member together, in one DeliveryBatch, and are answered, retried, taken
// back and dead-lettered as one unit; a unit goes through the key gate only when it
// holds every key of its events, so per-object order holds across units and singles.
#include <gtest/gtest.h>

#include "test_harness.h"

namespace signalbus::groups::testing {
namespace {

using namespace std::chrono_literals;

// Custom signals: the harness's events for other topics carry a CustomSignal payload.
const char* kOrder = "shop.Order/order_placed";
const char* kLine = "shop.OrderLine/line_added";

// Joins `peer` to `group`, subscribed to both.
void JoinSaves(Harness& h, const std::string& peer, const std::string& group, std::uint32_t credits) {
  h.Join(peer, group, credits, Harness::Config({kOrder, kLine}));
}

std::uint64_t PublishOrder(Harness& h, int order, int lines) {
  std::vector<std::pair<std::string, std::string>> events{{kOrder, "shop.Order:" + std::to_string(order)}};
  for (int i = 1; i <= lines; ++i) events.emplace_back(kLine, "shop.OrderLine:" + std::to_string(order * 10 + i));
  return h.PublishUnit(events);
}

void ExpectUnit(const std::vector<v1::Delivery>& got, std::size_t from, std::uint64_t first, std::uint32_t size,
                std::uint32_t attempt = 1) {
  ASSERT_GE(got.size(), from + size);
  for (std::uint32_t i = 0; i < size; ++i) {
    const v1::Delivery& d = got[from + i];
    EXPECT_EQ(d.offset(), first + i);
    EXPECT_EQ(d.unit_offset(), first);
    EXPECT_EQ(d.unit_size(), size);
    EXPECT_EQ(d.attempt(), attempt);
  }
}

TEST(AtomicUnitTest, AUnitGoesToOneMemberWholeInOneBatchForOneCredit) {
  Harness h;
  JoinSaves(h, "a", "g", 1);
  JoinSaves(h, "b", "g", 1);
  const std::uint64_t first = PublishOrder(h, 1, 3);
  const std::uint64_t second = PublishOrder(h, 2, 2);
  // One message each: a unit takes one credit, and is never split between messages.
  int messages_a = 0, messages_b = 0;
  for (const auto& sent : h.sent()) {
    if (!sent.reply.has_deliveries()) continue;
    (sent.peer == "a" ? messages_a : messages_b) += 1;
  }
  EXPECT_EQ(messages_a, 1);
  EXPECT_EQ(messages_b, 1);
  std::vector<v1::Delivery> a = h.Take("a"), b = h.Take("b");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  if (a.front().offset() != first) std::swap(a, b);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 3u);
  ExpectUnit(a, 0, first, 4);
  ExpectUnit(b, 0, second, 3);
  h.coord().CheckInvariants();
  EXPECT_EQ(h.Info("g").pending(), 2u);
}

TEST(AtomicUnitTest, OneAckOfTheFirstOffsetFinishesTheWholeUnit) {
  Harness h;

  JoinSaves(h, "a", "g", 10);
  const std::uint64_t first = PublishOrder(h, 1, 3);
  std::vector<v1::Delivery> got = h.Take("a");
  ExpectUnit(got, 0, first, 4);
  h.Ack("a", first, 1);
  h.coord().CheckInvariants();
  EXPECT_EQ(h.Info("g").ack_floor(), first + 3);
  EXPECT_EQ(h.Info("g").pending(), 0u);
}

TEST(AtomicUnitTest, ANackOrATimeoutRedeliversTheWholeUnitAndMaxDeliverDeadLettersEachEvent) {
  Harness h;
  v1::GroupConfig config = Harness::Config({kOrder, kLine});
  config.set_max_deliver(2);
  config.set_backoff_initial_ms(10);
  config.set_ack_timeout_ms(1000);
  h.Join("a", "g", 10, config);
  const std::uint64_t first = PublishOrder(h, 1, 2);
  ExpectUnit(h.Take("a"), 0, first, 3, 1);
  h.Nack("a", first, 1, "line 2 failed");
  h.Advance(20ms);
  ExpectUnit(h.Take("a"), 0, first, 3, 2);
  h.Advance(1100ms);  // attempt 2 times out: max_deliver reached
  h.coord().CheckInvariants();
  std::vector<v1::DeadLetter> letters = h.AllDeadLetters("g");
  ASSERT_EQ(letters.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(letters[i].offset(), first + i);
  EXPECT_EQ(h.Info("g").ack_floor(), first + 2);
}

TEST(AtomicUnitTest, AMemberLeavingGivesItsUnitWholeToAnother) {
  Harness h;
  JoinSaves(h, "a", "g", 10);
  const std::uint64_t first = PublishOrder(h, 1, 3);
  ExpectUnit(h.Take("a"), 0, first, 4);
  JoinSaves(h, "b", "g", 10);
  h.Leave("a");
  ExpectUnit(h.Take("b"), 0, first, 4, 2);
}

TEST(AtomicUnitTest, AUnitWaitsForEveryKeyOfItsEventsAndHoldsThemAll) {
  Harness h;
  JoinSaves(h, "a", "g", 10);
  // A single update of line 12 in flight; then order 1 with lines 11 and 12 as a unit;
  // then another update of line 11.
  const std::uint64_t single = h.Publish(kLine, "shop.OrderLine:12");
  const std::uint64_t unit = PublishOrder(h, 1, 2);
  const std::uint64_t after = h.Publish(kLine, "shop.OrderLine:11");
  std::vector<v1::Delivery> got = h.Take("a");
  ASSERT_EQ(got.size(), 1u);  // the unit waits for line 12's key; line 11 waits for the unit
  EXPECT_EQ(got[0].offset(), single);
  h.coord().CheckInvariants();
  h.Ack("a", single, 1);
  got = h.Take("a");
  ASSERT_EQ(got.size(), 3u);
  ExpectUnit(got, 0, unit, 3);
  h.coord().CheckInvariants();
  h.Ack("a", unit, 1);
  got = h.Take("a");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset(), after);
  EXPECT_EQ(got[0].unit_size(), 0u);
}

TEST(AtomicUnitTest, EventsOfAUnitTheGroupDoesNotSubscribeToAreLeftOut) {
  Harness h;
  h.Join("a", "orders", 10, Harness::Config({kOrder}));
  h.Join("b", "lines", 10, Harness::Config({kLine}));
  const std::uint64_t first = PublishOrder(h, 1, 3);
  std::vector<v1::Delivery> a = h.Take("a"), b = h.Take("b");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].offset(), first);
  EXPECT_EQ(a[0].unit_size(), 0u);  // alone in its group: no unit to assemble
  ASSERT_EQ(b.size(), 3u);
  ExpectUnit(b, 0, first + 1, 3);
  h.Ack("b", first + 1, 1);
  h.Ack("a", first, 1);
  EXPECT_EQ(h.Info("lines").ack_floor(), first + 3);
  EXPECT_EQ(h.Info("orders").ack_floor(), first + 3);
}

// Members of one group with other subscriptions (a deploy, or another principal's grant):
// a unit goes only to a member that subscribes to every event of it, never part of it to
// one that does not read the rest.
TEST(AtomicUnitTest, AUnitGoesOnlyToAMemberThatSubscribesToEveryEventOfIt) {
  Harness h;
  h.Join("orders-only", "g", 10, Harness::Config({kOrder}));
  h.Join("lines-only", "g", 10, Harness::Config({kLine}));
  const std::uint64_t first = PublishOrder(h, 1, 2);
  EXPECT_TRUE(h.Take("orders-only").empty());
  EXPECT_TRUE(h.Take("lines-only").empty());
  // It waits for a member that reads it all, and the events behind it go on.
  const std::uint64_t line = h.Publish(kLine, "shop.OrderLine:99");
  std::vector<v1::Delivery> lines = h.Take("lines-only");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].offset(), line);
  JoinSaves(h, "both", "g", 10);
  std::vector<v1::Delivery> both = h.Take("both");
  ASSERT_EQ(both.size(), 3u);
  ExpectUnit(both, 0, first, 3);
}

}  // namespace
}  // namespace signalbus::groups::testing
