// Events as JSON: the NDJSON output of signalbus-listen and the input of
// signalbus-publish.
#include "signalbus/core/event_json.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "sample_events.h"

namespace signalbus {
namespace {

TEST(EventJson, EverySignalRoundTripsThroughJson) {
  for (const v1::Event& event : testing::OneOfEverySignal()) {
    auto json = EventToJson(event);
    ASSERT_TRUE(json.ok());
    EXPECT_EQ(json->find('\n'), std::string::npos) << "NDJSON needs one line";
    auto back = EventFromJson(*json);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(event, *back)) << *json;
  }
}

TEST(EventJson, UsesSnakeCaseFieldNames) {
  auto json = EventToJson(testing::UserCreated("3"));
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"event_id\""), std::string::npos);
  EXPECT_NE(json->find("\"model_save\""), std::string::npos);
}

TEST(EventJson, AcceptsCamelCaseAndRejectsUnknownFields) {
  EXPECT_TRUE(EventFromJson(R"({"signal":"post_save","modelSave":{"created":true}})").ok());
  EXPECT_FALSE(EventFromJson(R"({"signal":"post_save","colour":"red"})").ok());
  EXPECT_FALSE(EventFromJson("{not json").ok());
}

TEST(EventJson, ValueFromTextTakesJsonScalarsElseText) {
  EXPECT_EQ(ValueFromText("42").number_value(), 42);
  EXPECT_TRUE(ValueFromText("true").bool_value());
  EXPECT_EQ(ValueFromText("alice").string_value(), "alice");
  EXPECT_EQ(ValueFromText("").string_value(), "");
  EXPECT_EQ(ValueFromText("null").kind_case(), google::protobuf::Value::kNullValue);
}

}  // namespace
}  // namespace signalbus
