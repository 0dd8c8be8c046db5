// The seed's example across real processes: users created by many short-lived
// signalbus-publish processes become Profile rows written by a separate
// profile-creator, exactly once each, even when the same events are sent again; a
// post_delete removes the row.
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "process.h"
#include "sqlite_query.h"
#include "sample_events.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/event_json.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;


// Writes `per_file` user-created events per file, pks numbered from 1, with fixed
// event ids, so the same files can be published twice.
std::vector<std::string> WriteUserCreatedFiles(const std::string& dir, int files, int per_file) {
  std::vector<std::string> paths;
  int pk = 0;
  for (int f = 0; f < files; ++f) {
    std::string path = dir + "/users-" + std::to_string(f) + ".ndjson";
    std::ofstream out(path);
    for (int i = 0; i < per_file; ++i) {
      v1::Event event = UserCreated(std::to_string(++pk));
      // What a service would send: the publisher fills in its own identity and time.
      event.clear_publisher_id();
      event.clear_sequence();
      event.clear_occurred_at();
      out << *EventToJson(event) << "\n";
    }
    paths.push_back(path);
  }
  return paths;
}

// Runs one signalbus-publish process per file, all at once, and waits for them.
void PublishConcurrently(const std::string& ingest, const std::vector<std::string>& files) {
  std::vector<std::unique_ptr<Process>> publishers;
  for (const std::string& file : files) {
    publishers.push_back(std::make_unique<Process>(
        "signalbus-publish", std::vector<std::string>{"--broker", ingest, "--ndjson", file, "--timeout", "20s"}));
  }
  for (auto& p : publishers) {
    auto status = p->Wait(60s);
    ASSERT_TRUE(status.has_value()) << "signalbus-publish did not finish";
    ASSERT_EQ(*status, 0) << p->Stderr();
  }
}

class ProfileCreatorEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ready());
    dir_ = MakeTempDir("sb-profiles");
    db_ = dir_ + "/profiles.sqlite3";
    // A consumer-group member: it prints its ready line once the broker has let it join.
    creator_ = std::make_unique<Process>("signalbus-profile-creator",
                                         std::vector<std::string>{"--db", db_, "--groups", broker_.groups()});
    ASSERT_TRUE(creator_->WaitForStdoutLine("ready", 20s)) << creator_->Stderr();
  }

  // Publishes a sentinel user after everything the broker has accepted so far, and waits
  // for its Profile: the group delivers in log order to its one member, so every earlier
  // event has been handled too.
  void WaitUntilCreatorCaughtUp(double accepted_before, const std::string& sentinel_pk) {
    ASSERT_TRUE(broker_.WaitForMetric("signalbus_ingest_accepted_total", accepted_before, 60s));
    RunResult r = RunToCompletion("signalbus-publish", {"post_save", "auth.User", "--pk", sentinel_pk, "--created",
                                                        "--broker", broker_.ingest()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(Eventually(
        [&] { return QueryCount(db_, "SELECT count(*) FROM profile WHERE user_id = " + sentinel_pk) == 1; }, 60s));
  }

  long long Profiles() { return QueryCount(db_, "SELECT count(*) FROM profile WHERE user_id <= 1000"); }

  BrokerProcess broker_;
  std::string dir_;
  std::string db_;
  std::unique_ptr<Process> creator_;
};

TEST_F(ProfileCreatorEndToEnd, ThousandUsersFromTwentyPublishersGiveThousandProfilesOnceEach) {
  std::vector<std::string> files = WriteUserCreatedFiles(dir_, 20, 50);
  PublishConcurrently(broker_.ingest(), files);
  ASSERT_TRUE(Eventually([&] { return Profiles() == 1000; }, 60s)) << "profiles: " << Profiles();
  EXPECT_EQ(QueryCount(db_, "SELECT count(DISTINCT user_id) FROM profile"), 1000);

  // The same events again (same event ids): nothing changes.
  PublishConcurrently(broker_.ingest(), files);
  WaitUntilCreatorCaughtUp(2000, "5001");
  EXPECT_EQ(Profiles(), 1000);
  EXPECT_EQ(QueryCount(db_, "SELECT count(*) FROM processed_event"), 1001);  // 1000 + the sentinel
  EXPECT_EQ(broker_.Metric("signalbus_ingest_accepted_total"), 2001);

  // A post_delete removes that user's profile.
  RunResult r = RunToCompletion("signalbus-publish",
                                {"post_delete", "auth.User", "--pk", "17", "--broker", broker_.ingest()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(Eventually([&] { return Profiles() == 999; }, 30s));
  EXPECT_EQ(QueryCount(db_, "SELECT count(*) FROM profile WHERE user_id = 17"), 0);
  EXPECT_EQ(creator_->Stop(), 0);
}

TEST_F(ProfileCreatorEndToEnd, SavesThatAreNotCreationsAndOtherModelsLeaveProfilesAlone) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"post_save", "auth.User", "--pk", "1"},                   // an update
           {"pre_save", "auth.User", "--pk", "2"},                    // not post_save
           {"post_save", "auth.UserProfile", "--pk", "3", "--created"},  // another model
           {"post_save_archived", "auth.User", "--pk", "4"}}) {       // a custom signal
    args.insert(args.end(), {"--broker", broker_.ingest()});
    RunResult r = RunToCompletion("signalbus-publish", args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  WaitUntilCreatorCaughtUp(4, "900");
  EXPECT_EQ(QueryCount(db_, "SELECT count(*) FROM profile"), 1);  // just the sentinel
}

}  // namespace
}  // namespace signalbus::testing
