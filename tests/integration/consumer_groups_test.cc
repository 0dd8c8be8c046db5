// Consumer groups across real processes: three profile-creator members share the work,
// one killed with SIGKILL mid-stream and restarted loses nothing and duplicates nothing;
// a second group (an audit receiver) sees every event too.
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "process.h"
#include "sqlite_query.h"
#include "sample_events.h"
#include "signalbus/core/event_json.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;


// "created=123" from a profile-creator's shutdown summary, or -1.
long long CreatedIn(const std::string& stderr_text) {
  std::size_t at = stderr_text.find("profiles created=");
  if (at == std::string::npos) return -1;
  return std::atoll(stderr_text.c_str() + at + std::string("profiles created=").size());
}

std::string WriteUsers(const std::string& dir, int first_pk, int count, int file_index) {
  std::string path = dir + "/users-" + std::to_string(file_index) + ".ndjson";
  std::ofstream out(path);
  for (int pk = first_pk; pk < first_pk + count; ++pk) {
    v1::Event event = UserCreated(std::to_string(pk));
    event.clear_publisher_id();
    event.clear_sequence();
    out << *EventToJson(event) << "\n";
  }
  return path;
}

class ConsumerGroupsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Process> StartCreator() {
    auto p = std::make_unique<Process>("signalbus-profile-creator",
                                       std::vector<std::string>{"--db", db_, "--groups", broker_.groups(),
                                                                "--ack-timeout", "5s", "--heartbeat", "200ms"});
    EXPECT_TRUE(p->WaitForStdoutLine("ready", 20s)) << p->Stderr();
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
  for (int f = 0; f < 6; ++f) files.push_back(WriteUsers(dir_, 1 + f * (kUsers / 6), kUsers / 6, f));
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
  Publish({WriteUsers(dir_, 1, kUsers, 0)});
  ASSERT_TRUE(Eventually([&] { return QueryCount(db_, "SELECT count(*) FROM profile") == kUsers; }, 60s));
  auto audited = [&] {
    std::ifstream in(audit_path);
    std::set<std::string> ids;
    std::string line;
    while (std::getline(in, line)) {
      auto event = EventFromJson(line);
      if (event.ok()) ids.insert(event->event_id());
    }
    return ids.size();
  };
  ASSERT_TRUE(Eventually([&] { return audited() == static_cast<std::size_t>(kUsers); }, 60s)) << audited();
  EXPECT_EQ(audit.Stop(), 0);
  EXPECT_EQ(creator->Stop(), 0);
}

}  // namespace
}  // namespace signalbus::testing
