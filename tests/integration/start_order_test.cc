// Start order never matters: a receiver started before the broker waits for it (saying
// so) and, once a broker comes up at its address, handles everything published. The
// real signalbus-profile-creator and signalbus-broker on ipc:// endpoints in a temporary
// directory, so that the address is known before any broker binds it.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "ndjson_events.h"
#include "process.h"
#include "sqlite_query.h"
#include "test_curve.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

TEST(StartOrderTest, AProfileCreatorStartedBeforeTheBrokerWaitsAndThenHandlesEveryEvent) {
  const std::string dir = MakeTempDir("sb-order");
  const std::string db = dir + "/profiles.sqlite3";
  const std::string groups = "ipc://" + dir + "/groups";
  // With SIGNALBUS_TEST_CURVE=1 the creator, started first, needs the suite's keys now.
  (void)SuiteCurveBrokerArgs();
  // No --join-timeout: the default waits for ever.
  Process creator("signalbus-profile-creator", {"--db", db, "--groups", groups, "--heartbeat", "200ms"});
  ASSERT_TRUE(Eventually([&] { return creator.Stderr().find("no broker answered at " + groups + " yet") !=
                                      std::string::npos; },
                         20s))
      << creator.Stderr();
  ASSERT_TRUE(creator.Running());

  BrokerProcess broker({"--ingest", "ipc://" + dir + "/ingest", "--live", "ipc://" + dir + "/live", "--groups", groups,
                        "--data-dir", dir + "/broker-data"});
  ASSERT_TRUE(broker.ready());
  ASSERT_TRUE(creator.WaitForStdoutLine("ready", 30s)) << creator.Stderr();
  RunResult published = RunToCompletion(
      "signalbus-publish", {"--broker", broker.ingest(), "--ndjson", WriteUsersCreated(dir + "/users.ndjson", 1, 50)},
      60s);
  ASSERT_EQ(published.exit_code, 0) << published.err;
  ASSERT_TRUE(Eventually([&] { return QueryCount(db, "SELECT count(*) FROM profile") == 50; }, 30s))
      << QueryCount(db, "SELECT count(*) FROM profile");
  EXPECT_EQ(creator.Stop(), 0) << creator.Stderr();
}

TEST(StartOrderTest, AJoinTimeoutStillGivesUpWithOneClearLine) {
  const std::string dir = MakeTempDir("sb-order");
  RunResult r = RunToCompletion("signalbus-profile-creator", {"--db", dir + "/p.sqlite3", "--groups",
                                                              "ipc://" + dir + "/nobody", "--join-timeout", "300ms"},
                                30s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no broker answered at ipc://" + dir + "/nobody within 300ms"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace signalbus::testing
