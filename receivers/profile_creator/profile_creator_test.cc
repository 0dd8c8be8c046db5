// ProfileCreator: which auth.User events create or delete a profile, which are ignored,
// and which fail (so that the Receiver counts them).
#include "profile_creator/profile_creator.h"

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "sample_events.h"
#include "profile_creator/sqlite_profile_store.h"
#include "signalbus/core/event_id.h"
#include "testing/scripted_source.h"

namespace signalbus::profile_creator {
namespace {

v1::Event UserDeleted(const std::string& pk) {
  v1::Event e = testing::UserCreated(pk);
  e.set_event_id(NewEventId());
  e.set_signal("post_delete");
  v1::Instance instance = e.model_save().instance();
  *e.mutable_model_delete()->mutable_instance() = instance;
  return e;
}

class ProfileCreatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("profile-creator");
    auto store = SqliteProfileStore::Open(dir_ + "/profiles.sqlite3");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_.emplace(std::move(store).value());
    creator_.emplace(*store_);
  }
  void TearDown() override {
    creator_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::optional<SqliteProfileStore> store_;
  std::optional<ProfileCreator> creator_;
};

TEST_F(ProfileCreatorTest, CreatedUserGetsAProfileOnce) {
  v1::Event created = testing::UserCreated("42");
  creator_->OnUserSaved(created);
  creator_->OnUserSaved(created);  // redelivered
  EXPECT_TRUE(*store_->HasProfile(42));
  EXPECT_EQ(*store_->ProfileCount(), 1);
  EXPECT_EQ(creator_->stats().created, 1u);
  EXPECT_EQ(creator_->stats().duplicates, 1u);
}

TEST_F(ProfileCreatorTest, SaveOfAnExistingUserIsIgnored) {
  v1::Event saved = testing::UserCreated("42");
  saved.mutable_model_save()->set_created(false);
  creator_->OnUserSaved(saved);
  EXPECT_FALSE(*store_->HasProfile(42));
  EXPECT_FALSE(*store_->WasProcessed(saved.event_id()));
  EXPECT_EQ(creator_->stats().ignored, 1u);
}

TEST_F(ProfileCreatorTest, DeletedUserLosesTheProfile) {
  creator_->OnUserSaved(testing::UserCreated("42"));
  creator_->OnUserDeleted(UserDeleted("42"));
  EXPECT_FALSE(*store_->HasProfile(42));
  EXPECT_EQ(creator_->stats().deleted, 1u);
}

TEST_F(ProfileCreatorTest, NonIntegerPkThrows) {
  v1::Event created = testing::UserCreated("42");
  created.mutable_model_save()->mutable_instance()->set_pk("4a2");
  EXPECT_THROW(creator_->OnUserSaved(created), std::invalid_argument);
  created.mutable_model_save()->mutable_instance()->set_pk("");
  EXPECT_THROW(creator_->OnUserSaved(created), std::invalid_argument);
  EXPECT_EQ(*store_->ProfileCount(), 0);
}

TEST_F(ProfileCreatorTest, DatabaseErrorThrows) {
  // Another connection holds the write lock past this store's busy timeout.
  auto short_wait = SqliteProfileStore::Open(dir_ + "/profiles.sqlite3", {.busy_timeout = std::chrono::milliseconds(1)});
  ASSERT_TRUE(short_wait.ok());
  sqlite::Database lock_holder;
  {
    auto db = sqlite::Open(dir_ + "/profiles.sqlite3");
    ASSERT_TRUE(db.ok());
    lock_holder = std::move(db).value();
  }
  ASSERT_TRUE(sqlite::Exec(lock_holder.get(), "BEGIN IMMEDIATE").ok());
  ProfileCreator creator(*short_wait);
  EXPECT_THROW(creator.OnUserSaved(testing::UserCreated("42")), std::runtime_error);
  ASSERT_TRUE(sqlite::Exec(lock_holder.get(), "ROLLBACK").ok());
  EXPECT_NO_THROW(creator.OnUserSaved(testing::UserCreated("42")));
}

TEST_F(ProfileCreatorTest, RunsOnAReceiverForUserPostSaveAndPostDelete) {
  v1::Event alice = testing::UserCreated("1");
  v1::Event bob = testing::UserCreated("2");
  v1::Event archived = testing::UserCreated("3");
  archived.set_signal("post_save_archived");
  archived.clear_model_save();
  archived.mutable_custom()->set_pk("3");
  v1::Event bad_pk = testing::UserCreated("9");
  bad_pk.mutable_model_save()->mutable_instance()->set_pk("not-a-number");
  v1::Event last = UserDeleted("1");
  auto log = std::make_shared<testing::SourceLog>();
  Receiver receiver({.name = "profile-creator", .poll_interval = std::chrono::milliseconds(20)},
                    std::make_unique<testing::ScriptedSource>(
                        std::deque<Received>{testing::EventReceived(alice), testing::EventReceived(bob),
                                             testing::EventReceived(archived), testing::EventReceived(bad_pk),
                                             testing::EventReceived(alice), testing::EventReceived(last)},
                        log));
  creator_->Register(receiver);
  receiver.on("post_delete", "auth.User", [&](const v1::Event& e) {
    if (e.event_id() == last.event_id()) receiver.Stop();
  });

  ASSERT_TRUE(receiver.Run().ok());

  EXPECT_EQ(log->subscribed,
            (std::vector<std::string>{"auth.User/post_save", "auth.User/post_delete", "auth.User/post_delete"}));
  EXPECT_FALSE(*store_->HasProfile(1));
  EXPECT_TRUE(*store_->HasProfile(2));
  EXPECT_EQ(*store_->ProfileCount(), 1);
  EXPECT_EQ(receiver.stats().received, 6u);
  EXPECT_EQ(receiver.stats().unmatched, 1u);
  EXPECT_EQ(receiver.stats().handler_failures, 1u);
  EXPECT_EQ(creator_->stats().created, 2u);
  EXPECT_EQ(creator_->stats().duplicates, 1u);
  EXPECT_EQ(creator_->stats().deleted, 1u);
}

}  // namespace
}  // namespace signalbus::profile_creator
