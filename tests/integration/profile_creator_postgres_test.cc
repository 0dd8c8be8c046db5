// signalbus-profile-creator --db postgresql://… against a real PostgreSQL server and the
// real broker: users created by signalbus-publish become exactly one profile row each,
// read back with libpq, even when the creator is SIGKILLed mid-run and restarted and
// events are delivered again; a database that goes away makes events fail and be
// retried (never acked), and the creator survives it and catches up when it is back; a
// malformed URI or an unreachable server at start is one line on stderr and an exit code.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "broker_process.h"
#include "ndjson_events.h"
#include "postgres_query.h"
#include "postgres_server.h"
#include "process.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

class ProfileCreatorOnPostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(postgres_.ready()) << postgres_.error();
    ASSERT_TRUE(broker_.ready());
    dir_ = MakeTempDir("sb-pg-profiles");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A consumer-group member on the test's database, ready once the broker let it join.
  // A short heartbeat and ack timeout: a killed member's events come back quickly.
  std::unique_ptr<Process> StartCreator() {
    auto creator = std::make_unique<Process>(
        "signalbus-profile-creator",
        std::vector<std::string>{"--db", postgres_.uri(), "--groups", broker_.groups(), "--start", "earliest",
                                 "--heartbeat", "100ms", "--ack-timeout", "2s", "--max-deliver", "1000", "--backoff",
                                 "20ms", "--backoff-max", "200ms"});
    EXPECT_TRUE(creator->WaitForStdoutLine("ready", 20s)) << creator->Stderr();
    return creator;
  }

  long long Count(const std::string& sql) { return PgQueryCount(postgres_.uri(), sql); }

  void Publish(const std::string& file) {
    RunResult r =
        RunToCompletion("signalbus-publish", {"--broker", broker_.ingest(), "--ndjson", file, "--timeout", "20s"}, 60s);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  PostgresServer postgres_;
  BrokerProcess broker_;
  std::string dir_;
};

TEST_F(ProfileCreatorOnPostgres, KilledMidRunAndRestartedWithRedeliveriesLeavesExactlyOneProfilePerUser) {
  constexpr int kUsers = 3000;
  constexpr int kResent = 500;
  const std::string all = WriteUsersCreated(dir_ + "/users.ndjson", 1, kUsers);
  // The first kResent lines again, with their event ids: redeliveries the creator must
  // recognise, whatever the kill left unacked.
  {
    std::ifstream in(all);
    std::ofstream out(dir_ + "/resent.ndjson");
    std::string line;
    for (int i = 0; i < kResent && std::getline(in, line); ++i) out << line << "\n";
  }

  auto creator = StartCreator();
  Publish(all);
  ASSERT_TRUE(Eventually([&] { return Count("SELECT count(*) FROM profile") >= kUsers / 10; }, 30s));
  creator->Signal(SIGKILL);
  ASSERT_TRUE(creator->Wait(10s).has_value());
  const long long at_kill = Count("SELECT count(*) FROM profile");
  ASSERT_LT(at_kill, kUsers) << "the creator finished before it was killed: nothing was tested mid-run";

  creator = StartCreator();
  Publish(dir_ + "/resent.ndjson");
  // Handled to the end of the log: every event acked, nothing in flight.
  const std::string label = "{group=\"profile-creator\"}";
  ASSERT_TRUE(broker_.WaitForMetric("signalbus_ingest_accepted_total", kUsers + kResent, 30s));
  ASSERT_TRUE(Eventually(
      [&] {
        return broker_.Metric("signalbus_group_lag" + label) == 0 &&
               broker_.Metric("signalbus_group_pending" + label) == 0;
      },
      60s))
      << creator->Stderr();
  EXPECT_EQ(creator->Stop(), 0) << creator->Stderr();
  const std::string log = creator->Stderr();
  const std::size_t at = log.find("duplicates=");
  ASSERT_NE(at, std::string::npos) << log;
  EXPECT_GE(std::stoll(log.substr(at + 11)), kResent) << log;

  EXPECT_EQ(Count("SELECT count(*) FROM profile"), kUsers);
  EXPECT_EQ(Count("SELECT count(DISTINCT user_id) FROM profile"), kUsers);
  EXPECT_EQ(Count("SELECT min(user_id) FROM profile"), 1);
  EXPECT_EQ(Count("SELECT max(user_id) FROM profile"), kUsers);
  EXPECT_EQ(Count("SELECT count(*) FROM processed_event"), kUsers);
  // What the kill left in flight came again to the new member.
  const double redelivered = broker_.Metric("signalbus_group_redelivered_total");
  EXPECT_GT(redelivered, 0);
  std::printf("%d users, killed at %lld profiles, %.0f redelivered, %d re-sent: %lld profiles, %lld events recorded\n",
              kUsers, at_kill, redelivered, kResent, Count("SELECT count(*) FROM profile"),
              Count("SELECT count(*) FROM processed_event"));
}

TEST_F(ProfileCreatorOnPostgres, DatabaseDownEventsAreRetriedNeverAckedAndAllArriveWhenItIsBack) {
  constexpr int kUsers = 200;
  auto creator = StartCreator();
  Publish(WriteUsersCreated(dir_ + "/first.ndjson", 1, 10));
  ASSERT_TRUE(Eventually([&] { return Count("SELECT count(*) FROM profile") == 10; }, 30s));

  ASSERT_TRUE(postgres_.Stop());
  Publish(WriteUsersCreated(dir_ + "/while-down.ndjson", 11, kUsers - 10));
  // The handler fails with a clear line naming the database; the event goes back to the
  // group (a nack) and comes again.
  ASSERT_TRUE(Eventually([&] { return creator->Stderr().find("cannot connect") != std::string::npos; }, 30s))
      << creator->Stderr();
  // The broker's totals over all groups: this broker has only this one.
  const std::string nacked = "signalbus_group_nacked_total";
  const std::string acked = "signalbus_group_acked_total";
  ASSERT_TRUE(broker_.WaitForMetric(nacked, 3, 30s)) << HttpGet(broker_.metrics_url(), "/metrics").value_or("");
  EXPECT_EQ(broker_.Metric(acked), 10) << "an event was acked while its profile could not be written";
  EXPECT_EQ(broker_.Metric("signalbus_group_dead_lettered_total"), 0);
  EXPECT_TRUE(creator->Running()) << creator->Stderr();
  EXPECT_NE(creator->Stderr().find("db=" + postgres_.database()), std::string::npos) << creator->Stderr();

  ASSERT_TRUE(postgres_.Start()) << postgres_.error();
  ASSERT_TRUE(Eventually([&] { return Count("SELECT count(*) FROM profile") == kUsers; }, 30s)) << creator->Stderr();
  EXPECT_EQ(Count("SELECT count(*) FROM processed_event"), kUsers);
  EXPECT_TRUE(creator->Running());
  EXPECT_EQ(creator->Stop(), 0) << creator->Stderr();
}

int Lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(ProfileCreatorPostgresFlags, MalformedUriIsOneLineAndExitTwo) {
  RunResult r = RunToCompletion("signalbus-profile-creator", {"--db", "postgresql://db.internal/profiles?nosuch=1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--db: not a PostgreSQL connection string"), std::string::npos) << r.err;
}

TEST(ProfileCreatorPostgresFlags, UnreachableServerIsOneLineAndExitOne) {
  const std::string dir = MakeTempDir("sb-pg-none");
  RunResult r = RunToCompletion("signalbus-profile-creator",
                                {"--db", "postgresql:///profiles?host=" + dir + "&port=5432&password=hunter2"});
  std::filesystem::remove_all(dir);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cannot connect"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("db=profiles"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace signalbus::testing
