// The group rules the broker and the C++ member share (signalbus/core/group_rules.h)
// against proto/testdata/group_rules.json, the vectors the Python member is tested
// against too (clients/python/tests/test_group_rules.py).
#include "signalbus/core/group_rules.h"

#include <fstream>
#include <sstream>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace signalbus {
namespace {

google::protobuf::Struct Vectors() {
  std::ifstream in(SIGNALBUS_GROUP_RULES_JSON);
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct vectors;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &vectors).ok()) << SIGNALBUS_GROUP_RULES_JSON;
  return vectors;
}

double Number(const google::protobuf::Struct& vectors, const std::string& key) {
  auto it = vectors.fields().find(key);
  EXPECT_TRUE(it != vectors.fields().end()) << key;
  return it == vectors.fields().end() ? -1 : it->second.number_value();
}

const google::protobuf::ListValue& List(const google::protobuf::Struct& vectors, const std::string& key) {
  auto it = vectors.fields().find(key);
  EXPECT_TRUE(it != vectors.fields().end()) << key;
  return it->second.list_value();
}

TEST(GroupRulesTest, LimitsAreTheSharedOnes) {
  google::protobuf::Struct v = Vectors();
  EXPECT_EQ(Number(v, "max_group_name_bytes"), kMaxGroupNameBytes);
  EXPECT_EQ(Number(v, "max_member_name_bytes"), kMaxMemberNameBytes);
  EXPECT_EQ(Number(v, "max_nack_error_bytes"), kMaxNackErrorBytes);
  EXPECT_EQ(Number(v, "min_heartbeat_ms"), kMinHeartbeat.count());
  EXPECT_EQ(Number(v, "max_heartbeat_ms"), kMaxHeartbeat.count());
  EXPECT_EQ(Number(v, "default_heartbeat_ms"), kDefaultHeartbeat.count());
  EXPECT_EQ(Number(v, "missed_heartbeats"), kMissedHeartbeats);
}

TEST(GroupRulesTest, GroupNamesAreJudgedAsTheVectorsSay) {
  google::protobuf::Struct v = Vectors();
  ASSERT_GT(List(v, "valid_group_names").values_size(), 0);
  for (const auto& name : List(v, "valid_group_names").values()) {
    EXPECT_TRUE(ValidateGroupName(name.string_value()).ok()) << name.string_value();
  }
  ASSERT_GT(List(v, "invalid_group_names").values_size(), 0);
  for (const auto& name : List(v, "invalid_group_names").values()) {
    EXPECT_FALSE(ValidateGroupName(name.string_value()).ok()) << Printable(name.string_value());
  }
}

TEST(GroupRulesTest, HeartbeatsAreJudgedAsTheVectorsSay) {
  google::protobuf::Struct v = Vectors();
  for (const auto& ms : List(v, "valid_heartbeats_ms").values()) {
    EXPECT_TRUE(ValidateHeartbeat(std::chrono::milliseconds(static_cast<std::int64_t>(ms.number_value()))).ok())
        << ms.number_value();
  }
  for (const auto& ms : List(v, "invalid_heartbeats_ms").values()) {
    Status s = ValidateHeartbeat(std::chrono::milliseconds(static_cast<std::int64_t>(ms.number_value())));
    EXPECT_FALSE(s.ok()) << ms.number_value();
    EXPECT_NE(s.message().find("is outside 10ms to 60s"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace signalbus
