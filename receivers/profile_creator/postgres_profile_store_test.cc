// PostgresProfileStore against a real PostgreSQL server: a server that goes away is
// kUnavailable (never a crash, never a half-applied event) and the store reconnects when
// it is back; stores opening at once; log descriptions without passwords.
#include "profile_creator/postgres_profile_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "postgres_query.h"
#include "postgres_server.h"
#include "signalbus/core/event_id.h"

namespace signalbus::profile_creator {
namespace {

TEST(PostgresProfileStoreTest, ServerGoneIsUnavailableAndTheStoreReconnectsWhenItIsBack) {
  testing::PostgresServer server;
  ASSERT_TRUE(server.ready()) << server.error();
  auto store = PostgresProfileStore::Open(server.uri());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_EQ(*(*store)->CreateForUser(NewEventId(), 1), Outcome::kApplied);

  ASSERT_TRUE(server.Stop());
  std::string while_down = NewEventId();
  Result<Outcome> down = (*store)->CreateForUser(while_down, 2);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().ToString();
  EXPECT_NE(down.status().message().find("db=" + server.database()), std::string::npos) << down.status().message();
  EXPECT_EQ((*store)->ProfileCount().status().code(), StatusCode::kUnavailable);

  ASSERT_TRUE(server.Start()) << server.error();
  // The event that failed was not recorded: applied now, once.
  EXPECT_EQ(*(*store)->CreateForUser(while_down, 2), Outcome::kApplied);
  EXPECT_EQ(*(*store)->CreateForUser(while_down, 2), Outcome::kDuplicate);
  EXPECT_EQ(testing::PgQueryCount(server.uri(), "SELECT count(*) FROM profile"), 2);
}

TEST(PostgresProfileStoreTest, UnreachableServerFailsOpenWithUnavailable) {
  testing::PostgresServer server;
  ASSERT_TRUE(server.ready()) << server.error();
  const std::string uri = server.uri();
  ASSERT_TRUE(server.Stop());
  auto store = PostgresProfileStore::Open(uri);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("cannot connect"), std::string::npos) << store.status().message();
}

TEST(PostgresProfileStoreTest, StoresOpeningAtOnceShareOneSchemaAndOneProfilePerUser) {
  testing::PostgresServer server;
  ASSERT_TRUE(server.ready()) << server.error();
  constexpr int kStores = 4;
  constexpr int kUsers = 50;
  std::atomic<int> failures{0};
  std::atomic<int> applied{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kStores; ++t) {
    threads.emplace_back([&] {
      auto store = PostgresProfileStore::Open(server.uri());
      if (!store.ok()) {
        ADD_FAILURE() << store.status().ToString();
        ++failures;
        return;
      }
      // Every store creates every user, each with its own event.
      for (int user = 0; user < kUsers; ++user) {
        auto r = (*store)->CreateForUser(NewEventId(), user);
        if (!r.ok()) {
          ADD_FAILURE() << r.status().ToString();
          ++failures;
        } else if (*r == Outcome::kApplied) {
          ++applied;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(applied.load(), kUsers);
  EXPECT_EQ(testing::PgQueryCount(server.uri(), "SELECT count(*) FROM profile"), kUsers);
  EXPECT_EQ(testing::PgQueryCount(server.uri(), "SELECT count(*) FROM processed_event"), kStores * kUsers);
}

TEST(PostgresProfileStoreTest, KeyValueConninfoOpensTheSameDatabaseAsTheUri) {
  testing::PostgresServer server;
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(IsPostgresTarget(server.Conninfo()));
  auto store = OpenProfileStore(server.Conninfo());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_EQ(*(*store)->CreateForUser(NewEventId(), 5), Outcome::kApplied);
  EXPECT_EQ(testing::PgQueryCount(server.uri(), "SELECT count(*) FROM profile WHERE user_id = 5"), 1);
}

TEST(PostgresProfileStoreTest, DescribeNamesTheDatabaseButNotThePassword) {
  testing::PostgresServer server;
  ASSERT_TRUE(server.ready()) << server.error();
  auto store = PostgresProfileStore::Open(server.uri() + "&password=hunter2");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::string describe = (*store)->Describe();
  EXPECT_NE(describe.find("db=" + server.database()), std::string::npos) << describe;
  EXPECT_EQ(describe.find("hunter2"), std::string::npos) << describe;
}

}  // namespace
}  // namespace signalbus::profile_creator
