// Many groups on the real broker: new groups are created off the poll thread (their
// state files written by the coordinator's writer thread) and groups without members
// cost nothing per poll, so a flood of Joins of new groups does not hold up publishers.
// Measured, not asserted: a 2,000-event signalbus-publish while 10 new groups join,
// then while 10,000 do; the test prints both times and asserts what must hold — every
// event confirmed and delivered to a real group, every group created and on disk.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_process.h"
#include "ndjson_events.h"
#include "process.h"
#include "signalbus/core/sockets.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

// One DEALER joining `count` new groups one after another, pipelined: each Join of the
// same peer ends its membership of the group before, so every group but the last is
// left without members. Returns how many were answered with Joined.
int JoinNewGroups(const std::string& endpoint, const std::string& prefix, int count, std::atomic<bool>* started) {
  zmq::socket_t socket(SharedContext(), zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.connect(endpoint);
  int joined = 0;
  int sent = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (joined < count && std::chrono::steady_clock::now() < deadline) {
    // Keep some Joins in flight, as a client in a hurry would.
    while (sent < count && sent - joined < 500) {
      v1::GroupRequest join;
      join.mutable_join()->set_group(prefix + std::to_string(sent++));
      join.mutable_join()->mutable_config()->add_subscriptions("auth.User/post_save");
      join.mutable_join()->set_credits(1);
      std::string bytes = join.SerializeAsString();
      (void)socket.send(zmq::buffer(bytes), zmq::send_flags::none);
    }
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 1000ms) == 0) continue;
    zmq::message_t frame;
    while (socket.recv(frame, zmq::recv_flags::dontwait)) {
      v1::GroupReply reply;
      if (reply.ParseFromArray(frame.data(), static_cast<int>(frame.size())) && reply.has_joined()) {
        ++joined;
        started->store(true);
      }
    }
  }
  socket.close();
  return joined;
}

class GroupsScaleTest : public ::testing::Test {
 protected:
  // Publishes 2,000 events while `groups` new groups join; the publish's wall time.
  std::chrono::milliseconds PublishWhileGroupsJoin(int groups, const std::string& prefix) {
    std::string file = WriteUsersCreated(dir_ + "/" + prefix + ".ndjson", published_ + 1, kEvents);
    std::atomic<bool> started{false};
    int joined = -1;
    std::thread joiner([&] { joined = JoinNewGroups(broker_.groups(), prefix, groups, &started); });
    EXPECT_TRUE(Eventually([&] { return started.load(); }, 30s));
    auto begin = std::chrono::steady_clock::now();
    RunResult r = RunToCompletion("signalbus-publish", {"--broker", broker_.ingest(), "--ndjson", file, "--timeout", "60s"},
                                  90s);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
    joiner.join();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(joined, groups);
    published_ += kEvents;
    return took;
  }

  static constexpr int kEvents = 2000;
  BrokerProcess broker_{{"--max-groups", "20000"}};
  std::string dir_ = MakeTempDir("sb-scale");
  int published_ = 0;
};

TEST_F(GroupsScaleTest, TenThousandNewGroupsJoiningDoNotHoldUpAPublish) {
  ASSERT_TRUE(broker_.ready());
  std::string audit_path = dir_ + "/audit.ndjson";
  Process audit("signalbus-audit", {"--file", audit_path, "--groups", broker_.groups()});
  ASSERT_TRUE(audit.WaitForStdoutLine("ready", 20s)) << audit.Stderr();

  std::chrono::milliseconds with_10 = PublishWhileGroupsJoin(10, "few-");
  auto begin = std::chrono::steady_clock::now();
  std::chrono::milliseconds with_10000 = PublishWhileGroupsJoin(10'000, "many-");
  auto joins_took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin);
  std::printf("[ figures  ] signalbus-publish of %d events: %lld ms while 10 new groups joined, %lld ms while "
              "10,000 did (all 10,000 joins answered within %lld ms)\n",
              kEvents, static_cast<long long>(with_10.count()), static_cast<long long>(with_10000.count()),
              static_cast<long long>(joins_took.count()));

  // Every event reached the real group; every group exists and its file reaches the disk.
  ASSERT_TRUE(Eventually([&] { return EventIdsInFile(audit_path).size() == 2u * kEvents; }, 60s))
      << EventIdsInFile(audit_path).size();
  auto state_files = [&] {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(broker_.data_dir() + "/groups")) {
      n += entry.path().extension() == ".state" ? 1 : 0;
    }
    return n;
  };
  EXPECT_TRUE(Eventually([&] { return state_files() == 10'011u; }, 60s)) << state_files();
  RunResult listed = RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "groups", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 10'011);
  EXPECT_EQ(audit.Stop(), 0);
}

}  // namespace
}  // namespace signalbus::testing
