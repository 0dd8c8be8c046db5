// Consumer groups across real processes: three profile-creator members share the work,
// one killed with SIGKILL mid-stream and restarted loses nothing and duplicates nothing;
// a second group (an audit receiver) sees every event too; an event that always fails is
// dead-lettered with backoff and replayed; a paused member's late ack is refused; /metrics
// shows each group's members, lag and pending; a group is deleted once its members left.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "process.h"
#include "sqlite_query.h"
#include "ndjson_events.h"
#include "sqlite_write.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;


// "created=123" from a profile-creator's shutdown summary, or -1.
long long CreatedIn(const std::string& stderr_text) {
  std::size_t at = stderr_text.find("profiles created=");
  if (at == std::string::npos) return -1;
  return std::atoll(stderr_text.c_str() + at + std::string("profiles created=").size());
}

class ConsumerGroupsTest : public ::testing::Test {
 protected:
  // A profile-creator member; `args` replace the default ack timeout and heartbeat.
  std::unique_ptr<Process> StartCreator(std::vector<std::string> args = {"--ack-timeout", "5s", "--heartbeat",
                                                                         "200ms"}) {
    args.insert(args.begin(), {"--db", db_, "--groups", broker_.groups()});
    auto p = std::make_unique<Process>("signalbus-profile-creator", args);
    EXPECT_TRUE(p->WaitForStdoutLine("ready", 20s)) << p->Stderr();
    return p;
  }
  // A signalbus-audit member (group "audit") with 8 credits, stopped (SIGSTOP) once it
  // has joined: the 8 events it is sent stay in flight and its group lags.
  std::unique_ptr<Process> StartStoppedAudit(const std::string& path) {
    auto p = std::make_unique<Process>("signalbus-audit", std::vector<std::string>{"--file", path, "--groups",
                                                                                   broker_.groups(), "--credits", "8",
                                                                                   "--heartbeat", "30s"});
    EXPECT_TRUE(p->WaitForStdoutLine("ready", 20s)) << p->Stderr();
    p->Signal(SIGSTOP);
    return p;
  }
  void Publish(const std::vector<std::string>& files) {
    std::vector<std::unique_ptr<Process>> publishers;
    for (const std::string& f : files) {
      publishers.push_back(std::make_unique<Process>(
          "signalbus-publish", std::vector<std::string>{"--broker", broker_.ingest(), "--ndjson", f, "--timeout", "30s"}));
    }
    for (auto& p : publishers) {
      auto status = p->Wait(90s);
      ASSERT_TRUE(status.has_value());
      ASSERT_EQ(*status, 0) << p->Stderr();
    }
  }

  std::string UsersFile(int index) const { return dir_ + "/users-" + std::to_string(index) + ".ndjson"; }
  long long Profiles() const { return QueryCount(db_, "SELECT count(*) FROM profile"); }

  BrokerProcess broker_;
  std::string dir_ = MakeTempDir("sb-groups");
  std::string db_ = dir_ + "/profiles.sqlite3";
};

TEST_F(ConsumerGroupsTest, ThreeMembersShareTheWorkAndAKilledOneLosesNothing) {
  ASSERT_TRUE(broker_.ready());
  std::vector<std::unique_ptr<Process>> members;
  for (int i = 0; i < 3; ++i) members.push_back(StartCreator());

  constexpr int kUsers = 3000;
  std::vector<std::string> files;
  for (int f = 0; f < 6; ++f) files.push_back(WriteUsersCreated(UsersFile(f), 1 + f * (kUsers / 6), kUsers / 6));
  std::thread publishing([&] { Publish(files); });

  // Kill one member mid-stream, then start a replacement.
  ASSERT_TRUE(Eventually([&] { return QueryCount(db_, "SELECT count(*) FROM profile") >= 300; }, 60s));
  members[0]->Signal(SIGKILL);
  ASSERT_TRUE(members[0]->Wait(10s).has_value());
  members[0] = StartCreator();
  publishing.join();

  ASSERT_TRUE(Eventually([&] { return QueryCount(db_, "SELECT count(*) FROM profile") == kUsers; }, 120s))
      << "profiles: " << QueryCount(db_, "SELECT count(*) FROM profile");
  EXPECT_EQ(QueryCount(db_, "SELECT count(DISTINCT user_id) FROM profile"), kUsers);
  EXPECT_EQ(QueryCount(db_, "SELECT count(*) FROM processed_event"), kUsers);

  // The two members that ran throughout both did some of the work. (The replacement may
  // join after everything was handed out, and the killed one cannot report.)
  for (std::size_t i = 0; i < members.size(); ++i) {
    EXPECT_EQ(members[i]->Stop(), 0);
    if (i > 0) {
      EXPECT_GT(CreatedIn(members[i]->Stderr()), 0) << members[i]->Stderr();
    }
  }
}

TEST_F(ConsumerGroupsTest, TwoGroupsEachSeeEveryEvent) {
  ASSERT_TRUE(broker_.ready());
  auto creator = StartCreator();
  std::string audit_path = dir_ + "/audit.ndjson";
  Process audit("signalbus-audit", {"--file", audit_path, "--groups", broker_.groups()});
  ASSERT_TRUE(audit.WaitForStdoutLine("ready", 20s)) << audit.Stderr();

  constexpr int kUsers = 500;
  Publish({WriteUsersCreated(UsersFile(0), 1, kUsers)});
  ASSERT_TRUE(Eventually([&] { return QueryCount(db_, "SELECT count(*) FROM profile") == kUsers; }, 60s));
  auto audited = [&] {
    std::vector<std::string> ids = EventIdsInFile(audit_path);
    return std::set<std::string>(ids.begin(), ids.end()).size();
  };
  ASSERT_TRUE(Eventually([&] { return audited() == static_cast<std::size_t>(kUsers); }, 60s)) << audited();
  EXPECT_EQ(audit.Stop(), 0);
  EXPECT_EQ(creator->Stop(), 0);
}

// Credit-based flow control: a group whose only member is stopped cold takes nothing
// from the publisher's confirms or from another group's progress, and catches up when
// its member comes back.
TEST_F(ConsumerGroupsTest, AStalledGroupHoldsUpNeitherThePublisherNorAnotherGroup) {
  ASSERT_TRUE(broker_.ready());
  auto creator = StartCreator();
  std::string audit_path = dir_ + "/audit.ndjson";
  auto audit = StartStoppedAudit(audit_path);

  constexpr int kUsers = 3000;
  Publish({WriteUsersCreated(UsersFile(0), 1, kUsers)});  // every event confirmed
  ASSERT_TRUE(Eventually([&] { return Profiles() == kUsers; }, 60s)) << Profiles();
  EXPECT_LE(EventIdsInFile(audit_path).size(), 8u);

  audit->Signal(SIGCONT);
  ASSERT_TRUE(Eventually([&] { return EventIdsInFile(audit_path).size() == kUsers; }, 60s))
      << EventIdsInFile(audit_path).size();
  EXPECT_EQ(audit->Stop(), 0);
  EXPECT_EQ(creator->Stop(), 0);
}

TEST_F(ConsumerGroupsTest, MetricsShowEachGroupsMembersLagAndPending) {
  ASSERT_TRUE(broker_.ready());
  auto creator = StartCreator();
  std::string audit_path = dir_ + "/audit.ndjson";
  auto audit = StartStoppedAudit(audit_path);

  constexpr int kUsers = 100;
  Publish({WriteUsersCreated(UsersFile(0), 1, kUsers)});
  ASSERT_TRUE(Eventually([&] { return Profiles() == kUsers; }, 60s)) << Profiles();
  // The gauges are refreshed every second: wait for the figures, then check them all.
  const std::string audit_label = "{group=\"audit\"}";
  const std::string creator_label = "{group=\"profile-creator\"}";
  ASSERT_TRUE(Eventually([&] { return broker_.Metric("signalbus_group_pending" + audit_label) == 8; }, 30s))
      << broker_.Metric("signalbus_group_pending" + audit_label);
  ASSERT_TRUE(Eventually([&] { return broker_.Metric("signalbus_group_lag" + creator_label) == 0; }, 30s))
      << broker_.Metric("signalbus_group_lag" + creator_label);
  EXPECT_EQ(broker_.Metric("signalbus_group_lag" + audit_label), kUsers);  // 8 in flight, 92 unread
  EXPECT_EQ(broker_.Metric("signalbus_group_members" + audit_label), 1);
  EXPECT_EQ(broker_.Metric("signalbus_group_members" + creator_label), 1);
  EXPECT_EQ(broker_.Metric("signalbus_group_ack_floor" + creator_label), kUsers);
  EXPECT_EQ(broker_.Metric("signalbus_group_ack_floor" + audit_label), 0);
  EXPECT_EQ(broker_.Metric("signalbus_group_pending" + creator_label), 0);
  EXPECT_EQ(broker_.Metric("signalbus_group_dead_letters" + creator_label), 0);
  EXPECT_EQ(broker_.Metric("signalbus_group_stalled" + audit_label), 0);

  audit->Signal(SIGCONT);
  EXPECT_TRUE(Eventually([&] { return broker_.Metric("signalbus_group_lag" + audit_label) == 0; }, 60s))
      << broker_.Metric("signalbus_group_lag" + audit_label);
  EXPECT_EQ(EventIdsInFile(audit_path).size(), static_cast<std::size_t>(kUsers));
  EXPECT_EQ(audit->Stop(), 0);
  EXPECT_EQ(creator->Stop(), 0);
}

TEST_F(ConsumerGroupsTest, AGroupIsDeletedOnlyOnceItsMembersAreGoneAndThenLeavesNoTrace) {
  ASSERT_TRUE(broker_.ready());
  auto creator = StartCreator();
  std::string audit_path = dir_ + "/audit.ndjson";
  Process audit("signalbus-audit", {"--file", audit_path, "--groups", broker_.groups()});
  ASSERT_TRUE(audit.WaitForStdoutLine("ready", 20s)) << audit.Stderr();
  Publish({WriteUsersCreated(UsersFile(0), 1, 20)});
  ASSERT_TRUE(Eventually([&] { return EventIdsInFile(audit_path).size() == 20; }, 30s));
  ASSERT_TRUE(Eventually([&] { return broker_.Metric("signalbus_group_lag{group=\"audit\"}") == 0; }, 30s));

  RunResult refused = RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "delete-group", "audit"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("has 1 member connected"), std::string::npos) << refused.err;

  EXPECT_EQ(audit.Stop(), 0);  // SIGTERM: drains and leaves
  RunResult deleted;
  ASSERT_TRUE(Eventually(
      [&] {
        deleted = RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "delete-group", "audit"});
        return deleted.exit_code == 0;
      },
      30s))
      << deleted.err;
  EXPECT_EQ(deleted.out, "group audit deleted\n");
  RunResult listed = RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "groups"});
  EXPECT_EQ(listed.out.find("audit"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("profile-creator"), std::string::npos) << listed.out;
  EXPECT_TRUE(Eventually([&] { return broker_.Metric("signalbus_group_lag{group=\"audit\"}") == -1; }, 30s));
  EXPECT_TRUE(Eventually([&] { return broker_.Metric("signalbus_group_lag{group=\"profile-creator\"}") == 0; }, 30s));
  EXPECT_FALSE(std::filesystem::exists(broker_.data_dir() + "/groups/audit.state"));
  EXPECT_EQ(creator->Stop(), 0);
}

// A handler that fails for one user on every attempt: a SQLite trigger makes
// profile-creator's insert for user 13 fail, so its handler throws each time.
TEST_F(ConsumerGroupsTest, AnEventThatAlwaysFailsIsDeadLetteredWithoutHoldingUpOthersAndReplayDeliversIt) {
  ASSERT_TRUE(broker_.ready());
  // Attempts at t, t+1s, t+3s, t+7s: the fourth failure dead-letters it.
  auto creator = StartCreator({"--max-deliver", "4", "--backoff", "1s", "--heartbeat", "200ms"});
  ASSERT_EQ(ExecSql(db_, "CREATE TRIGGER block_user_13 BEFORE INSERT ON profile WHEN NEW.user_id = 13 "
                         "BEGIN SELECT RAISE(ABORT, 'user 13 is blocked'); END;"),
            "");
  std::vector<int> pks = {13};
  for (int pk = 1; pk <= 200; ++pk) {
    if (pk != 13) pks.push_back(pk);
  }
  auto published = std::chrono::steady_clock::now();
  Publish({WriteUsersCreated(UsersFile(0), pks)});

  // User 13 is first in line, yet every other user's profile arrives while it is retried.
  ASSERT_TRUE(Eventually([&] { return Profiles() == 199; }, 60s)) << Profiles();
  EXPECT_EQ(broker_.Metric("signalbus_group_dead_lettered_total"), 0);

  ASSERT_TRUE(broker_.WaitForMetric("signalbus_group_dead_lettered_total", 1, 60s));
  EXPECT_GE(std::chrono::steady_clock::now() - published, 7s) << "retries did not back off";
  EXPECT_EQ(broker_.Metric("signalbus_group_nacked_total"), 4);
  RunResult listed = RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "dlq", "list", "profile-creator"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 1) << listed.out;
  EXPECT_NE(listed.out.find("\"attempts\":4"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("user 13 is blocked"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("\"pk\":\"13\""), std::string::npos) << listed.out;
  EXPECT_EQ(QueryCount(db_, "SELECT count(*) FROM profile WHERE user_id = 13"), 0);

  // Fix the cause, replay the dead-letter queue: the event is delivered again and lands.
  ASSERT_EQ(ExecSql(db_, "DROP TRIGGER block_user_13"), "");
  RunResult replayed =
      RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "dlq", "replay", "profile-creator"});
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  ASSERT_TRUE(Eventually([&] { return Profiles() == 200; }, 60s)) << Profiles();
  EXPECT_EQ(QueryCount(db_, "SELECT count(*) FROM profile WHERE user_id = 13"), 1);
  RunResult after = RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "dlq", "list", "profile-creator"});
  EXPECT_EQ(after.out, "");
  EXPECT_EQ(creator->Stop(), 0);
}

// One member holds an event past its ack timeout because it is stopped (SIGSTOP) while
// its handler waits for the database's write lock. Its heartbeat interval (5 s: gone
// after 15 s) outlasts the ack timeout (1 s), so the redelivery is the ack timeout's.
TEST_F(ConsumerGroupsTest, AMemberPausedPastItsAckTimeoutLosesTheEventToAnotherAndItsLateAckIsRefused) {
  ASSERT_TRUE(broker_.ready());
  auto paused = StartCreator({"--ack-timeout", "1s", "--heartbeat", "5s", "--credits", "1"});
  SqliteWriteLock lock(db_);
  ASSERT_TRUE(lock.held()) << lock.error();
  Publish({WriteUsersCreated(UsersFile(0), 1, 1)});
  ASSERT_TRUE(broker_.WaitForMetric("signalbus_group_delivered_total", 1, 30s));
  paused->Signal(SIGSTOP);
  lock.Release();

  auto other = StartCreator({"--heartbeat", "200ms"});
  ASSERT_TRUE(broker_.WaitForMetric("signalbus_group_redelivered_total", 1, 30s));
  ASSERT_TRUE(Eventually([&] { return Profiles() == 1; }, 30s));
  EXPECT_EQ(broker_.Metric("signalbus_group_stale_acks_total"), 0);

  // Resumed, the paused member finishes its handler and acks the first attempt: refused.
  paused->Signal(SIGCONT);
  ASSERT_TRUE(broker_.WaitForMetric("signalbus_group_stale_acks_total", 1, 30s));
  EXPECT_EQ(broker_.Metric("signalbus_group_acked_total"), 1);
  EXPECT_EQ(broker_.Metric("signalbus_group_members_expired_total"), 0);
  EXPECT_EQ(Profiles(), 1);
  EXPECT_EQ(QueryCount(db_, "SELECT count(*) FROM processed_event"), 1);
  EXPECT_EQ(other->Stop(), 0);
  EXPECT_EQ(CreatedIn(other->Stderr()), 1) << other->Stderr();
  EXPECT_EQ(paused->Stop(), 0);
  EXPECT_EQ(CreatedIn(paused->Stderr()), 0) << paused->Stderr();
}

}  // namespace
}  // namespace signalbus::testing
