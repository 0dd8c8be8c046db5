// Receivers change on deploy: a consumer group whose members are replaced by members
// with one more subscription, while events of both topics are published. Real broker,
// real signalbus-audit members, real signalbus-publish. No event of the old topic is
// lost or delivered twice across the members' files, the new topic's events arrive,
// and only the new members get them.
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "ndjson_events.h"
#include "process.h"
#include "sample_events.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUsers = "auth.User/post_save";
constexpr const char* kOrders = "shop.Order/order_paid";

std::vector<v1::Event> Orders(int first, int count) {
  std::vector<v1::Event> events;
  for (int i = first; i < first + count; ++i) {
    v1::Event e = UserCreated(std::to_string(i));
    e.clear_model_save();
    e.clear_publisher_id();
    e.clear_sequence();
    e.set_sender("shop.Order");
    e.set_signal("order_paid");
    e.set_ordering_key("shop.Order:" + std::to_string(i));
    e.mutable_custom()->set_pk(std::to_string(i));
    events.push_back(e);
  }
  return events;
}

int CountLinesWith(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

class GroupRedeployTest : public ::testing::Test {
 protected:
  std::unique_ptr<Process> Member(const std::string& file, std::vector<std::string> topics) {
    std::vector<std::string> args = {"--file", file, "--groups", broker_.groups(), "--group", "shop",
                                      "--start", "earliest", "--heartbeat", "200ms"};
    args.insert(args.end(), topics.begin(), topics.end());
    auto p = std::make_unique<Process>("signalbus-audit", args);
    EXPECT_TRUE(p->WaitForStdoutLine("ready", 20s)) << p->Stderr();
    return p;
  }
  void Publish(const std::string& name, int first_user, int users, int first_order, int orders) {
    std::vector<v1::Event> events;
    std::string file = dir_ + "/" + name + ".ndjson";
    WriteUsersCreated(file, first_user, users);
    std::string order_file = WriteEvents(dir_ + "/" + name + "-orders.ndjson", Orders(first_order, orders));
    for (const std::string& f : {file, order_file}) {
      RunResult r = RunToCompletion("signalbus-publish", {"--broker", broker_.ingest(), "--ndjson", f}, 60s);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  std::map<std::string, int> AllIds() {
    std::map<std::string, int> ids;
    for (const std::string& f : files_) {
      for (const std::string& id : EventIdsInFile(f)) ++ids[id];
    }
    return ids;
  }

  BrokerProcess broker_;
  std::string dir_ = MakeTempDir("sb-redeploy");
  std::vector<std::string> files_ = {dir_ + "/old1.ndjson", dir_ + "/old2.ndjson", dir_ + "/new1.ndjson",
                                     dir_ + "/new2.ndjson"};
};

TEST_F(GroupRedeployTest, MembersRedeployedWithOneMoreSubscriptionLoseNothingOfTheOldTopicAndGetTheNewOne) {
  ASSERT_TRUE(broker_.ready());
  auto old1 = Member(files_[0], {kUsers});
  auto old2 = Member(files_[1], {kUsers});
  Publish("before", 1, 100, 1, 20);  // orders nobody subscribes to yet: not for this group
  // The group has read past all 120 (the orders count as not subscribed to) before the
  // deploy starts.
  ASSERT_TRUE(broker_.WaitForMetric("signalbus_group_ack_floor{group=\"shop\"}", 120, 30s));

  // The rolling deploy: new members beside the old, then the old ones go.
  auto new1 = Member(files_[2], {kUsers, kOrders});
  Publish("during", 101, 100, 21, 50);
  EXPECT_EQ(old1->Stop(), 0) << old1->Stderr();
  auto new2 = Member(files_[3], {kUsers, kOrders});
  EXPECT_EQ(old2->Stop(), 0) << old2->Stderr();
  Publish("after", 201, 100, 71, 50);

  // 300 users; the 100 orders published once the new members were there.
  ASSERT_TRUE(Eventually([&] { return AllIds().size() >= 400u; }, 60s)) << AllIds().size();
  std::map<std::string, int> ids = AllIds();
  EXPECT_EQ(ids.size(), 400u);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id << " delivered " << n << " times";
  int users = 0, orders = 0;
  for (const std::string& f : files_) {
    users += CountLinesWith(f, "\"sender\":\"auth.User\"");
    orders += CountLinesWith(f, "\"signal\":\"order_paid\"");
  }
  EXPECT_EQ(users, 300);
  EXPECT_EQ(orders, 100);
  EXPECT_EQ(CountLinesWith(files_[0], "order_paid") + CountLinesWith(files_[1], "order_paid"), 0)
      << "an old member got the new topic";
  RunResult groups = RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "groups", "--json"});
  EXPECT_NE(groups.out.find("\"subscriptions\":[\"auth.User/post_save\",\"shop.Order/order_paid\"]"),
            std::string::npos)
      << groups.out;
  EXPECT_EQ(new1->Stop(), 0) << new1->Stderr();
  EXPECT_EQ(new2->Stop(), 0) << new2->Stderr();
}

TEST_F(GroupRedeployTest, SettingsChangeThroughTheAdminAndAJoinOfAnExistingGroupLeavesThemAlone) {
  ASSERT_TRUE(broker_.ready());
  auto member = Member(files_[0], {kUsers});
  auto admin = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--broker", broker_.groups()});
    return RunToCompletion("signalbus-admin", args);
  };
  RunResult set = admin({"set-group", "shop", "--max-deliver", "7", "--ack-timeout", "10s", "--backoff", "50ms"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  // A member of an old deploy joining with its own (default) settings changes nothing.
  EXPECT_EQ(member->Stop(), 0);
  member = Member(files_[1], {kUsers});
  RunResult shown = admin({"group", "shop"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("\"ack_timeout_ms\":10000,\"max_deliver\":7,\"backoff_initial_ms\":50,"),
            std::string::npos)
      << shown.out;
  RunResult nothing = admin({"set-group", "shop"});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("give at least one of"), std::string::npos) << nothing.err;
  RunResult unknown = admin({"set-group", "nope", "--max-deliver", "2"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no group named \"nope\""), std::string::npos) << unknown.err;
  RunResult missing = admin({"group", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(member->Stop(), 0);
}

}  // namespace
}  // namespace signalbus::testing
