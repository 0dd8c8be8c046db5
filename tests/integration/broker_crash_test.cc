// The broker killed with SIGKILL in the middle of a full-rate publish, then restarted on
// the same data directory and endpoints: every event it confirmed is still there, the
// publisher re-sends what was not confirmed, and the profile-creator group ends with
// exactly one Profile per user — nothing lost, nothing twice.
#include <csignal>
#include <memory>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "ndjson_events.h"
#include "process.h"
#include "sqlite_query.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

class BrokerCrashTest : public ::testing::Test {
 protected:
  // ipc:// endpoints in the test's directory, so the restarted broker binds the same
  // ones as the first without reserving a TCP port in between.
  std::unique_ptr<BrokerProcess> StartBroker() {
    return std::make_unique<BrokerProcess>(std::vector<std::string>{
        "--ingest", "ipc://" + dir_ + "/ingest", "--live", "ipc://" + dir_ + "/live", "--groups",
        "ipc://" + dir_ + "/groups", "--data-dir", dir_ + "/broker-data", "--fsync", "always"});
  }
  long long Profiles() const { return QueryCount(db_, "SELECT count(*) FROM profile"); }

  std::string dir_ = MakeTempDir("sb-crash");
  std::string db_ = dir_ + "/profiles.sqlite3";
};

TEST_F(BrokerCrashTest, KilledMidPublishAndRestartedEveryConfirmedEventMakesExactlyOneProfile) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker->ready());
  Process creator("signalbus-profile-creator",
                  {"--db", db_, "--groups", broker->groups(), "--heartbeat", "200ms", "--join-timeout", "60s"});
  ASSERT_TRUE(creator.WaitForStdoutLine("ready", 20s)) << creator.Stderr();

  constexpr int kUsers = 20'000;
  Process publisher("signalbus-publish", {"--broker", broker->ingest(), "--ndjson",
                                          WriteUsersCreated(dir_ + "/users.ndjson", 1, kUsers), "--timeout", "60s"});

  // Kill once some events are durable, and therefore confirmed or about to be.
  double durable_at_kill = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        durable_at_kill = broker->Metric("signalbus_log_durable_offset");
        return durable_at_kill >= 1000;
      },
      60s));
  broker->process().Signal(SIGKILL);
  ASSERT_TRUE(broker->process().Wait(10s).has_value());
  ASSERT_LT(durable_at_kill, kUsers) << "the publish ended before the kill: nothing was tested";
  ASSERT_TRUE(publisher.Running()) << "the publisher did not wait for its confirms: " << publisher.Stderr();

  broker = StartBroker();
  ASSERT_TRUE(broker->ready());
  EXPECT_GE(broker->Metric("signalbus_log_durable_offset"), durable_at_kill) << "durable records were lost";

  // The publisher exits 0 only once every one of its events is confirmed.
  auto published = publisher.Wait(120s);
  ASSERT_TRUE(published.has_value()) << publisher.Stderr();
  EXPECT_EQ(*published, 0) << publisher.Stderr();

  ASSERT_TRUE(Eventually([&] { return Profiles() >= kUsers; }, 120s)) << Profiles();
  EXPECT_EQ(Profiles(), kUsers);
  EXPECT_EQ(QueryCount(db_, "SELECT count(DISTINCT user_id) FROM profile"), kUsers);
  EXPECT_EQ(QueryCount(db_, "SELECT count(*) FROM processed_event"), kUsers);
  // Re-sends of events that were already durable were dropped, not logged twice.
  EXPECT_EQ(broker->Metric("signalbus_log_durable_offset"), kUsers);
  EXPECT_EQ(creator.Stop(), 0) << creator.Stderr();
}

}  // namespace
}  // namespace signalbus::testing
