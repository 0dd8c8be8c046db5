// SqliteProfileStore: idempotence by event id, one profile per user, and several connections
// (as several receiver processes would) sharing one WAL file.
#include "profile_creator/sqlite_profile_store.h"

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "signalbus/core/event_id.h"

namespace signalbus::profile_creator {
namespace {

class SqliteProfileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("profile-store");
    path_ = dir_ + "/nested/dir/profiles.sqlite3";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SqliteProfileStore OpenStore() {
    auto store = SqliteProfileStore::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }

  std::int64_t Count(SqliteProfileStore& store) {
    auto n = store.ProfileCount();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }

  std::string dir_;
  std::string path_;
};

Outcome Must(Result<Outcome> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Outcome::kNoChange;
}

TEST_F(SqliteProfileStoreTest, CreatesTheFileAndItsDirectory) {
  SqliteProfileStore store = OpenStore();
  EXPECT_TRUE(std::filesystem::exists(path_));
  EXPECT_EQ(Count(store), 0);
}

TEST_F(SqliteProfileStoreTest, UsesWriteAheadLogging) {
  SqliteProfileStore store = OpenStore();
  auto db = sqlite::Open(path_);
  ASSERT_TRUE(db.ok());
  auto stmt = sqlite::Prepare(db->get(), "PRAGMA journal_mode");
  ASSERT_TRUE(stmt.ok()) << stmt.status().ToString();
  ASSERT_EQ(sqlite3_step(stmt->get()), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt->get(), 0)), "wal");
}

TEST_F(SqliteProfileStoreTest, CreateAddsOneProfile) {
  SqliteProfileStore store = OpenStore();
  std::string id = NewEventId();
  EXPECT_EQ(Must(store.CreateForUser(id, 42)), Outcome::kApplied);
  EXPECT_EQ(Count(store), 1);
  EXPECT_TRUE(*store.HasProfile(42));
  EXPECT_TRUE(*store.WasProcessed(id));
}

TEST_F(SqliteProfileStoreTest, SameEventAgainIsADuplicateAndChangesNothing) {
  SqliteProfileStore store = OpenStore();
  std::string id = NewEventId();
  ASSERT_EQ(Must(store.CreateForUser(id, 42)), Outcome::kApplied);
  EXPECT_EQ(Must(store.CreateForUser(id, 42)), Outcome::kDuplicate);
  EXPECT_EQ(Count(store), 1);
}

TEST_F(SqliteProfileStoreTest, AnotherEventForTheSameUserKeepsOneProfile) {
  SqliteProfileStore store = OpenStore();
  ASSERT_EQ(Must(store.CreateForUser(NewEventId(), 42)), Outcome::kApplied);
  std::string second = NewEventId();
  EXPECT_EQ(Must(store.CreateForUser(second, 42)), Outcome::kNoChange);
  EXPECT_EQ(Count(store), 1);
  EXPECT_TRUE(*store.WasProcessed(second));
}

TEST_F(SqliteProfileStoreTest, DeleteRemovesTheProfile) {
  SqliteProfileStore store = OpenStore();
  ASSERT_EQ(Must(store.CreateForUser(NewEventId(), 42)), Outcome::kApplied);
  ASSERT_EQ(Must(store.CreateForUser(NewEventId(), 43)), Outcome::kApplied);
  EXPECT_EQ(Must(store.DeleteForUser(NewEventId(), 42)), Outcome::kApplied);
  EXPECT_FALSE(*store.HasProfile(42));
  EXPECT_TRUE(*store.HasProfile(43));
  EXPECT_EQ(Must(store.DeleteForUser(NewEventId(), 42)), Outcome::kNoChange);
}

TEST_F(SqliteProfileStoreTest, ReplayedCreateAfterDeleteChangesNothing) {
  SqliteProfileStore store = OpenStore();
  std::string create = NewEventId();
  std::string remove = NewEventId();
  ASSERT_EQ(Must(store.CreateForUser(create, 42)), Outcome::kApplied);
  ASSERT_EQ(Must(store.DeleteForUser(remove, 42)), Outcome::kApplied);
  EXPECT_EQ(Must(store.CreateForUser(create, 42)), Outcome::kDuplicate);
  EXPECT_EQ(Must(store.DeleteForUser(remove, 42)), Outcome::kDuplicate);
  EXPECT_FALSE(*store.HasProfile(42));
}

TEST_F(SqliteProfileStoreTest, StateSurvivesReopening) {
  std::string id = NewEventId();
  {
    SqliteProfileStore store = OpenStore();
    ASSERT_EQ(Must(store.CreateForUser(id, 7)), Outcome::kApplied);
  }
  SqliteProfileStore store = OpenStore();
  EXPECT_EQ(Must(store.CreateForUser(id, 7)), Outcome::kDuplicate);
  EXPECT_EQ(Count(store), 1);
}

TEST_F(SqliteProfileStoreTest, RejectsAnEmptyEventId) {
  SqliteProfileStore store = OpenStore();
  EXPECT_EQ(store.CreateForUser("", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(store), 0);
}

TEST_F(SqliteProfileStoreTest, UnopenablePathIsAStatus) {
  std::filesystem::create_directories(dir_ + "/a-directory");
  auto store = SqliteProfileStore::Open(dir_ + "/a-directory");
  EXPECT_FALSE(store.ok());
  EXPECT_FALSE(store.status().message().empty());
}

// Two connections on one WAL file write at once; with BEGIN IMMEDIATE and the busy
// timeout, neither sees SQLITE_BUSY. Both also open (WAL switch, schema) at once.
TEST_F(SqliteProfileStoreTest, TwoStoresOnOneFileInTwoThreadsDoNotFailBusy) {
  constexpr int kPerThread = 300;
  std::atomic<int> failures{0};
  std::atomic<int> applied{0};
  auto worker = [&](std::int64_t first_user) {
    auto store = SqliteProfileStore::Open(path_);
    if (!store.ok()) {
      ADD_FAILURE() << store.status().ToString();
      ++failures;
      return;
    }
    for (int i = 0; i < kPerThread; ++i) {
      // Every user is created by both threads (one applies, the other finds it), and
      // half of the users are private to one thread.
      std::int64_t user = i % 2 == 0 ? i : first_user + i;
      auto r = store->CreateForUser(NewEventId(), user);
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
        ++failures;
      } else if (*r == Outcome::kApplied) {
        ++applied;
      }
    }
  };
  std::thread a(worker, 1'000'000);
  std::thread b(worker, 2'000'000);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  SqliteProfileStore store = OpenStore();
  // kPerThread/2 shared users + kPerThread/2 private users per thread.
  const int expected = kPerThread / 2 + 2 * (kPerThread / 2);
  EXPECT_EQ(Count(store), expected);
  EXPECT_EQ(applied.load(), expected);
}

}  // namespace
}  // namespace signalbus::profile_creator
