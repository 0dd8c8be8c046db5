// Group state files and the record framing under them: round trips, and damage found.
#include "state_file.h"

#include <gtest/gtest.h>

#include "record_file.h"

namespace signalbus::groups {
namespace {

GroupStateData Sample() {
  GroupStateData s;
  s.name = "profile-creator";
  s.config.add_subscriptions("auth.User/post_save");
  s.config.set_max_deliver(7);
  s.ack_floor = 41;
  s.finished_runs = {{43, 2}, {50, 10}};
  s.acked = 99;
  s.redelivered = 3;
  return s;
}

TEST(StateFileTest, RoundTrips) {
  Result<GroupStateData> back = DecodeGroupState(EncodeGroupState(Sample()), "x.state");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "profile-creator");
  EXPECT_EQ(back->config.max_deliver(), 7u);
  EXPECT_EQ(back->ack_floor, 41u);
  EXPECT_EQ(back->finished_runs, Sample().finished_runs);
  EXPECT_EQ(back->acked, 99u);
  EXPECT_EQ(back->redelivered, 3u);
}

TEST(StateFileTest, EveryFlippedBitAndEveryTruncationIsDataLoss) {
  const std::string good = EncodeGroupState(Sample());
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      Result<GroupStateData> r = DecodeGroupState(bad, "g.state");
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
      EXPECT_NE(r.status().message().find("g.state"), std::string::npos);
    }
  }
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeGroupState(good.substr(0, n), "g.state").ok()) << n;
  }
  EXPECT_FALSE(DecodeGroupState(good + "x", "g.state").ok());
}

TEST(RecordFileTest, TornTailIsReportedOnlyWhenAllowed) {
  std::string file = FileHeader(kDeadLetterMagic);
  AppendRecord(1, "first", &file);
  std::size_t whole = file.size();
  AppendRecord(1, "second", &file);
  std::string torn = file.substr(0, file.size() - 2);
  Result<ParsedFile> parsed = ParseFile(torn, kDeadLetterMagic, "f", /*allow_torn_tail=*/true);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->torn_tail);
  EXPECT_EQ(parsed->valid_bytes, whole);
  ASSERT_EQ(parsed->records.size(), 1u);
  EXPECT_EQ(parsed->records[0].payload, "first");
  EXPECT_FALSE(ParseFile(torn, kDeadLetterMagic, "f", false).ok());
  // Damage before the last record is never a torn tail.
  std::string damaged = file;
  damaged[kFileHeaderSize + kRecordHeaderSize] ^= 1;
  EXPECT_EQ(ParseFile(damaged, kDeadLetterMagic, "f", true).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace signalbus::groups
