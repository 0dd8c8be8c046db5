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
  EXPECT_EQ(Number(v, "max_ack_refs"), kMaxAckRefs);
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

TEST(GroupRulesTest, AcksBecomeTheRangesTheVectorsSay) {
  google::protobuf::Struct v = Vectors();
  ASSERT_GT(List(v, "ack_ranges").values_size(), 3);
  auto number = [](const google::protobuf::Value& list, int i) {
    return static_cast<std::uint64_t>(list.list_value().values(i).number_value());
  };
  for (const auto& c : List(v, "ack_ranges").values()) {
    const auto& fields = c.struct_value().fields();
    std::vector<v1::DeliveryRef> refs;
    for (const auto& r : fields.at("refs").list_value().values()) {
      refs.emplace_back().set_offset(number(r, 0));
      refs.back().set_attempt(static_cast<std::uint32_t>(number(r, 1)));
    }
    v1::Ack ack;
    AddAckRanges(refs, &ack);
    std::vector<std::vector<std::uint64_t>> got;
    for (const v1::AckRange& range : ack.ranges()) got.push_back({range.first(), range.count(), range.attempt()});
    std::vector<std::vector<std::uint64_t>> want;
    for (const auto& r : fields.at("ranges").list_value().values()) want.push_back({number(r, 0), number(r, 1), number(r, 2)});
    EXPECT_EQ(got, want) << refs.size() << " refs";
    EXPECT_EQ(ack.deliveries_size(), 0);
  }
}

}  // namespace
}  // namespace signalbus
