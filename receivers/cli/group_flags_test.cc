// The shared consumer-group flags: defaults, parsing, and errors that name the flag.
#include "cli/group_flags.h"

#include <gtest/gtest.h>

namespace signalbus::cli {
namespace {

using std::chrono::milliseconds;

TEST(GroupFlagsTest, DefaultsLeaveTheGroupConfigToTheBroker) {
  ReceiverOptions options;
  ASSERT_TRUE(GroupFlags{}.ApplyTo(&options).ok());
  EXPECT_EQ(options.groups_endpoint, kDefaultGroupsEndpoint);
  EXPECT_EQ(options.group.credits, 64u);
  EXPECT_EQ(options.group.heartbeat, milliseconds(1000));
  EXPECT_EQ(options.group.start.position_case(), v1::StartPosition::POSITION_NOT_SET);
  EXPECT_EQ(options.group.ack_timeout, milliseconds(0));
  EXPECT_EQ(options.group.max_deliver, 0u);
}

TEST(GroupFlagsTest, ParsesEveryFlag) {
  GroupFlags flags;
  flags.groups = "tcp://10.0.0.1:5557";
  flags.credits = 8;
  flags.heartbeat = "200ms";
  flags.join_timeout = "2s";
  flags.start = "earliest";
  flags.ack_timeout = "5s";
  flags.max_deliver = 3;
  flags.backoff = "50ms";
  flags.backoff_max = "1m";
  ReceiverOptions options;
  ASSERT_TRUE(flags.ApplyTo(&options).ok());
  EXPECT_EQ(options.groups_endpoint, "tcp://10.0.0.1:5557");
  EXPECT_EQ(options.group.credits, 8u);
  EXPECT_EQ(options.group.heartbeat, milliseconds(200));
  EXPECT_EQ(options.group.join_timeout, milliseconds(2000));
  EXPECT_TRUE(options.group.start.earliest());
  EXPECT_EQ(options.group.ack_timeout, milliseconds(5000));
  EXPECT_EQ(options.group.max_deliver, 3u);
  EXPECT_EQ(options.group.backoff_initial, milliseconds(50));
  EXPECT_EQ(options.group.backoff_max, milliseconds(60'000));
}

TEST(GroupFlagsTest, ErrorsNameTheFlag) {
  auto error = [](GroupFlags flags) {
    ReceiverOptions options;
    return flags.ApplyTo(&options).message();
  };
  GroupFlags bad_endpoint;
  bad_endpoint.groups = "localhost:5557";
  EXPECT_EQ(error(bad_endpoint).rfind("--groups:", 0), 0u);
  GroupFlags bad_credits;
  bad_credits.credits = 0;
  EXPECT_EQ(error(bad_credits).rfind("--credits:", 0), 0u);
  GroupFlags bad_heartbeat;
  bad_heartbeat.heartbeat = "soon";
  EXPECT_EQ(error(bad_heartbeat).rfind("--heartbeat:", 0), 0u);
  GroupFlags bad_start;
  bad_start.start = "yesterday";
  EXPECT_EQ(error(bad_start).rfind("--start:", 0), 0u);
  GroupFlags bad_max_deliver;
  bad_max_deliver.max_deliver = -1;
  EXPECT_EQ(error(bad_max_deliver).rfind("--max-deliver:", 0), 0u);
}

TEST(StartPositionTest, AcceptsEarliestLatestOffsetAndTime) {
  EXPECT_TRUE(ParseStartPosition("earliest")->earliest());
  EXPECT_TRUE(ParseStartPosition("latest")->latest());
  EXPECT_EQ(ParseStartPosition("1200")->offset(), 1200u);
  Result<v1::StartPosition> time = ParseStartPosition("2024-05-01T12:00:00Z");
  ASSERT_TRUE(time.ok());
  EXPECT_EQ(time->time().seconds(), 1714564800);
  EXPECT_FALSE(ParseStartPosition("").ok());
  EXPECT_FALSE(ParseStartPosition("-1").ok());
  EXPECT_FALSE(ParseStartPosition("12abc").ok());
}

}  // namespace
}  // namespace signalbus::cli
