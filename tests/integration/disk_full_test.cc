// The broker's disk filling up in the middle of a publish: the broker stops confirming
// and stops (a log it cannot write is a log it cannot trust), the publisher keeps what
// was not confirmed, and once there is room again the restarted broker takes the
// re-sends: exactly one Profile per user, nothing confirmed lost, nothing logged twice.
// The disk is a small tmpfs mounted by the test; where mounting is not allowed the test
// is skipped with one line saying so.
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "ndjson_events.h"
#include "process.h"
#include "signalbus/core/status.h"
#include "sqlite_query.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    disk_ = dir_ + "/disk";
    ASSERT_EQ(::mkdir(disk_.c_str(), 0700), 0);
    if (::mount("tmpfs", disk_.c_str(), "tmpfs", 0, "size=2m") != 0) {
      GTEST_SKIP() << "cannot mount a small tmpfs here (" << std::strerror(errno)
                   << "): the disk-full test needs root and mount rights";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) (void)::umount2(disk_.c_str(), MNT_DETACH);
  }
  Status Grow() {
    if (::mount("tmpfs", disk_.c_str(), "tmpfs", MS_REMOUNT, "size=64m") != 0) {
      return Internal(std::string("remount: ") + std::strerror(errno));
    }
    return Status::Ok();
  }
  std::unique_ptr<BrokerProcess> StartBroker() {
    return std::make_unique<BrokerProcess>(std::vector<std::string>{
        "--ingest", "ipc://" + dir_ + "/ingest", "--live", "ipc://" + dir_ + "/live", "--groups",
        "ipc://" + dir_ + "/groups", "--data-dir", disk_ + "/broker", "--segment-bytes", "262144"});
  }
  long long Profiles() const { return QueryCount(db_, "SELECT count(*) FROM profile"); }

  std::string dir_ = MakeTempDir("sb-diskfull");
  std::string disk_;
  std::string db_ = dir_ + "/profiles.sqlite3";
  bool mounted_ = false;
};

TEST_F(DiskFullTest, AFullDiskStopsConfirmingAndAfterARestartWithRoomNothingConfirmedIsLost) {
  auto broker = StartBroker();
  ASSERT_TRUE(broker->ready());
  Process creator("signalbus-profile-creator",
                  {"--db", db_, "--groups", broker->groups(), "--heartbeat", "200ms", "--join-timeout", "60s"});
  ASSERT_TRUE(creator.WaitForStdoutLine("ready", 20s)) << creator.Stderr();

  constexpr int kUsers = 20'000;  // ~6 MB of log: three times the disk
  Process publisher("signalbus-publish", {"--broker", broker->ingest(), "--ndjson",
                                          WriteUsersCreated(dir_ + "/users.ndjson", 1, kUsers), "--timeout", "60s"});
  // The broker stops by itself when a write or sync fails, naming why.
  auto stopped = broker->process().Wait(60s);
  ASSERT_TRUE(stopped.has_value()) << "the disk never filled";
  EXPECT_NE(*stopped, 0);
  EXPECT_NE(broker->process().Stderr().find("No space left on device"), std::string::npos)
      << broker->process().Stderr();
  ASSERT_TRUE(publisher.Running()) << "the publisher did not wait for its confirms: " << publisher.Stderr();

  ASSERT_TRUE(Grow().ok());
  broker = StartBroker();
  ASSERT_TRUE(broker->ready()) << broker->process().Stderr();
  auto published = publisher.Wait(120s);
  ASSERT_TRUE(published.has_value()) << publisher.Stderr();
  EXPECT_EQ(*published, 0) << publisher.Stderr();

  ASSERT_TRUE(Eventually([&] { return Profiles() >= kUsers; }, 120s)) << Profiles();
  EXPECT_EQ(Profiles(), kUsers);
  EXPECT_EQ(QueryCount(db_, "SELECT count(DISTINCT user_id) FROM profile"), kUsers);
  // Every record is one user's, once: the torn tail was cut at start, re-sends of durable
  // events were taken as duplicates.
  EXPECT_EQ(broker->Metric("signalbus_log_durable_offset"), kUsers);
  EXPECT_EQ(creator.Stop(), 0) << creator.Stderr();
}

}  // namespace
}  // namespace signalbus::testing
