// Which store a --db value names (PostgreSQL URIs and conninfo, everything else a path),
// and the contract every store keeps, run against each.
#include "profile_creator/profile_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "postgres_query.h"
#include "postgres_server.h"
#include "process.h"
#include "signalbus/core/event_id.h"

namespace signalbus::profile_creator {
namespace {

TEST(ProfileStoreTargetTest, PostgresUrisAndConninfoArePostgres) {
  EXPECT_TRUE(IsPostgresTarget("postgresql:///profiles?host=/tmp/x&port=5432"));
  EXPECT_TRUE(IsPostgresTarget("postgres://app:secret@db.internal:5433/profiles"));
  EXPECT_TRUE(IsPostgresTarget("dbname=profiles host=/run/postgresql"));
  EXPECT_TRUE(IsPostgresTarget("host=db.internal port=5432 dbname=profiles user=app"));
}

TEST(ProfileStoreTargetTest, PathsAreSqlite) {
  EXPECT_FALSE(IsPostgresTarget("./var/profiles.sqlite3"));
  EXPECT_FALSE(IsPostgresTarget("/var/lib/signalbus/profiles.sqlite3"));
  EXPECT_FALSE(IsPostgresTarget("profiles.sqlite3"));
  // '=' in a file name is not conninfo unless the words are libpq's own keywords.
  EXPECT_FALSE(IsPostgresTarget("a=b.sqlite3"));
  EXPECT_FALSE(IsPostgresTarget("./dbname=x"));
}

TEST(ProfileStoreTargetTest, OpensSqliteForAPath) {
  auto store = OpenProfileStore(::testing::TempDir() + "/profile-store-target.sqlite3");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->Describe(), ::testing::TempDir() + "/profile-store-target.sqlite3");
}

TEST(ProfileStoreTargetTest, BadConninfoIsAnInvalidArgument) {
  auto store = OpenProfileStore("postgresql://host:notaport:/x?nosuchoption=1");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << store.status().ToString();
}

}  // namespace
}  // namespace signalbus::profile_creator

// The store's contract, run against every implementation: a SQLite file and a real
// PostgreSQL server (one per test process, its tables emptied before each test).
namespace signalbus::profile_creator {
namespace {

class ProfileStoreContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Started by the first PostgreSQL test, stopped by its pid after the last.
  static testing::PostgresServer& Postgres() {
    if (postgres_ == nullptr) postgres_ = std::make_unique<testing::PostgresServer>();
    return *postgres_;
  }
  static void TearDownTestSuite() { postgres_.reset(); }

  void SetUp() override {
    if (GetParam() == "postgresql") {
      ASSERT_TRUE(Postgres().ready()) << Postgres().error();
      target_ = Postgres().uri();
      auto store = OpenProfileStore(target_);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      ASSERT_EQ(testing::PgQueryCount(target_,
                                      "WITH t AS (DELETE FROM profile RETURNING 1),"
                                      " u AS (DELETE FROM processed_event RETURNING 1) SELECT 0"),
                0);
      store_ = std::move(store).value();
    } else {
      dir_ = testing::MakeTempDir("profile-store-contract");
      target_ = dir_ + "/profiles.sqlite3";
      auto store = OpenProfileStore(target_);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      store_ = std::move(store).value();
    }
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::int64_t Count() {
    auto n = store_->ProfileCount();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }
  Outcome Must(Result<Outcome> r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Outcome::kNoChange;
  }

  std::string dir_;
  std::string target_;
  std::unique_ptr<ProfileStore> store_;
  static std::unique_ptr<testing::PostgresServer> postgres_;
};
std::unique_ptr<testing::PostgresServer> ProfileStoreContractTest::postgres_;

TEST_P(ProfileStoreContractTest, CreateAddsOneProfileAndRecordsTheEvent) {
  std::string id = NewEventId();
  EXPECT_EQ(Must(store_->CreateForUser(id, 42)), Outcome::kApplied);
  EXPECT_EQ(Count(), 1);
  EXPECT_TRUE(*store_->HasProfile(42));
  EXPECT_FALSE(*store_->HasProfile(43));
  EXPECT_TRUE(*store_->WasProcessed(id));
  EXPECT_FALSE(*store_->WasProcessed(NewEventId()));
}

TEST_P(ProfileStoreContractTest, SameEventAgainIsADuplicateAndChangesNothing) {
  std::string create = NewEventId();
  std::string remove = NewEventId();
  ASSERT_EQ(Must(store_->CreateForUser(create, 42)), Outcome::kApplied);
  EXPECT_EQ(Must(store_->CreateForUser(create, 42)), Outcome::kDuplicate);
  ASSERT_EQ(Must(store_->DeleteForUser(remove, 42)), Outcome::kApplied);
  // The create redelivered after the delete must not bring the profile back.
  EXPECT_EQ(Must(store_->CreateForUser(create, 42)), Outcome::kDuplicate);
  EXPECT_EQ(Must(store_->DeleteForUser(remove, 42)), Outcome::kDuplicate);
  EXPECT_EQ(Count(), 0);
}

TEST_P(ProfileStoreContractTest, AnotherEventForTheSameUserKeepsOneProfile) {
  ASSERT_EQ(Must(store_->CreateForUser(NewEventId(), 42)), Outcome::kApplied);
  std::string second = NewEventId();
  EXPECT_EQ(Must(store_->CreateForUser(second, 42)), Outcome::kNoChange);
  EXPECT_EQ(Count(), 1);
  EXPECT_TRUE(*store_->WasProcessed(second));
  EXPECT_EQ(Must(store_->DeleteForUser(NewEventId(), 7)), Outcome::kNoChange);
}

TEST_P(ProfileStoreContractTest, DeleteRemovesOnlyThatUsersProfile) {
  ASSERT_EQ(Must(store_->CreateForUser(NewEventId(), 42)), Outcome::kApplied);
  ASSERT_EQ(Must(store_->CreateForUser(NewEventId(), 43)), Outcome::kApplied);
  EXPECT_EQ(Must(store_->DeleteForUser(NewEventId(), 42)), Outcome::kApplied);
  EXPECT_FALSE(*store_->HasProfile(42));
  EXPECT_TRUE(*store_->HasProfile(43));
}

TEST_P(ProfileStoreContractTest, StateSurvivesReopening) {
  std::string id = NewEventId();
  ASSERT_EQ(Must(store_->CreateForUser(id, 7)), Outcome::kApplied);
  store_.reset();
  auto reopened = OpenProfileStore(target_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(Must((*reopened)->CreateForUser(id, 7)), Outcome::kDuplicate);
  EXPECT_EQ(*(*reopened)->ProfileCount(), 1);
}

TEST_P(ProfileStoreContractTest, RejectsAnEmptyEventId) {
  EXPECT_EQ(store_->CreateForUser("", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->DeleteForUser("", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(), 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, ProfileStoreContractTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace signalbus::profile_creator
