// DeadLetterStore: letters survive a reload; replays leave the file only when finished;
// removals and compaction keep the file consistent.
#include "dead_letter_store.h"

#include <gtest/gtest.h>

#include "test_harness.h"

namespace signalbus::groups {
namespace {

v1::DeadLetter Letter(std::uint64_t offset, std::size_t event_bytes = 100) {
  v1::DeadLetter l;
  l.set_offset(offset);
  l.set_attempts(5);
  l.set_error("boom");
  l.set_topic("auth.User/post_save");
  l.set_event(std::string(event_bytes, 'e'));
  return l;
}

class DeadLetterStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<DeadLetterStore> Open() {
    auto s = std::make_unique<DeadLetterStore>(eventlog::DefaultFileIo(), dir_.path(), "g");
    Status st = s->Load();
    EXPECT_TRUE(st.ok()) << st.ToString();
    return s;
  }
  testing::TempDir dir_;
};

TEST_F(DeadLetterStoreTest, LettersSurviveAReload) {
  {
    auto s = Open();
    s->Add(Letter(3));
    s->Add(Letter(1));
    ASSERT_TRUE(s->Sync().ok());
    s->Add(Letter(9));  // never synced: lost
  }
  auto s = Open();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ(s->List(0, 10)[0]->offset(), 1u);
  EXPECT_EQ(s->List(0, 10)[1]->event(), std::string(100, 'e'));
}

TEST_F(DeadLetterStoreTest, ReplayLeavesTheFileOnlyWhenFinished) {
  {
    auto s = Open();
    s->Add(Letter(1));
    s->Add(Letter(2));
    ASSERT_TRUE(s->TakeForReplay(1).has_value());
    ASSERT_TRUE(s->TakeForReplay(2).has_value());
    EXPECT_FALSE(s->TakeForReplay(2).has_value());
    EXPECT_EQ(s->size(), 0u);
    s->FinishReplay(2);
    EXPECT_FALSE(s->Purge(1));  // being replayed
    ASSERT_TRUE(s->Sync().ok());
  }
  auto s = Open();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ(s->List(0, 10)[0]->offset(), 1u);
  ASSERT_TRUE(s->TakeForReplay(1).has_value());
  s->ReturnReplay(1);
  EXPECT_EQ(s->size(), 1u);
}

TEST_F(DeadLetterStoreTest, MostlyDeadFileIsCompacted) {
  auto s = Open();
  for (std::uint64_t o = 1; o <= 100; ++o) s->Add(Letter(o, 20'000));
  ASSERT_TRUE(s->Sync().ok());
  std::uint64_t full = s->file_bytes();
  for (std::uint64_t o = 1; o <= 90; ++o) ASSERT_TRUE(s->Purge(o));
  ASSERT_TRUE(s->Sync().ok());
  EXPECT_LT(s->file_bytes(), full / 5);
  s.reset();
  auto again = Open();
  EXPECT_EQ(again->size(), 10u);
  again->Add(Letter(500));
  ASSERT_TRUE(again->Sync().ok());
  again.reset();
  EXPECT_EQ(Open()->size(), 11u);
}

TEST_F(DeadLetterStoreTest, AddingAnOffsetAgainReplacesIt) {
  auto s = Open();
  s->Add(Letter(1));
  v1::DeadLetter again = Letter(1);
  again.set_error("second time");
  s->Add(again);
  ASSERT_TRUE(s->Sync().ok());
  s.reset();
  auto r = Open();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->List(0, 1)[0]->error(), "second time");
}

}  // namespace
}  // namespace signalbus::groups
