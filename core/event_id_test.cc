// ULID event ids: format, uniqueness, time order.
#include "signalbus/core/event_id.h"

#include <set>
#include <thread>
#include <vector>

#include <cctype>

#include <gtest/gtest.h>

namespace signalbus {
namespace {

TEST(EventId, HasUlidFormat) {
  std::string id = NewEventId();
  EXPECT_EQ(id.size(), kEventIdLength);
  EXPECT_TRUE(IsValidEventId(id));
}

TEST(EventId, EncodesItsMillisecond) {
  // Later than any id this process made before (ids of one process never go back in time).
  std::string id = NewEventIdAt(4'000'000'000'123ULL);
  EXPECT_EQ(EventIdMillis(id), 4'000'000'000'123ULL);
}

TEST(EventId, IdsOfOneProcessStrictlyIncreaseEvenInTheSameMillisecond) {
  std::string last = NewEventIdAt(2'000'000'000'000ULL);
  for (int i = 0; i < 10000; ++i) {
    std::string next = NewEventIdAt(2'000'000'000'000ULL);
    ASSERT_LT(last, next);
    last = next;
  }
  // A clock that steps back does not break the order either.
  EXPECT_LT(last, NewEventIdAt(1'000'000'000'000ULL));
}

TEST(EventId, ConcurrentCallersGetDistinctIds) {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&out] {
      for (int i = 0; i < 5000; ++i) out.push_back(NewEventId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (auto& out : per_thread) all.insert(out.begin(), out.end());
  EXPECT_EQ(all.size(), 20000u);
}

TEST(EventId, DecodesToDistinctBitsForDistinctIdsAndTheSameBitsForEitherCase) {
  std::string a = NewEventId();
  std::string b = NewEventId();
  EXPECT_FALSE(DecodeEventId(a) == DecodeEventId(b));
  std::string lower = a;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_TRUE(DecodeEventId(a) == DecodeEventId(lower));
  EXPECT_TRUE(DecodeEventId("00000000000000000000000000") == (EventIdBits{0, 0}));
  EXPECT_TRUE(DecodeEventId("7ZZZZZZZZZZZZZZZZZZZZZZZZZ") == (EventIdBits{~0ULL, ~0ULL}));
  EXPECT_TRUE(DecodeEventId("00000000000000000000000001") == (EventIdBits{0, 1}));
  EXPECT_TRUE(DecodeEventId("0000000000000Z000000000000") == (EventIdBits{1, 0xFULL << 60}));  // bits 60..64
}

TEST(EventId, RejectsMalformedIds) {
  EXPECT_FALSE(IsValidEventId(""));
  EXPECT_FALSE(IsValidEventId("01ARZ3NDEKTSV4RRFFQ69G5FA"));    // 25 chars
  EXPECT_FALSE(IsValidEventId("01ARZ3NDEKTSV4RRFFQ69G5FAVX"));  // 27 chars
  EXPECT_FALSE(IsValidEventId("01ARZ3NDEKTSV4RRFFQ69G5FAU"));   // U is not Crockford
  EXPECT_FALSE(IsValidEventId("81ARZ3NDEKTSV4RRFFQ69G5FAV"));   // over 128 bits
  EXPECT_TRUE(IsValidEventId("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}

}  // namespace
}  // namespace signalbus
