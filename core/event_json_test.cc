// Events as JSON: the NDJSON output of signalbus-listen and the input of
// signalbus-publish, both held to the envelope's nesting limit.
#include "signalbus/core/event_json.h"

#include <iostream>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/logging.h"

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

// {"a":{"a":...1}} or {"a":[[...1]]}: `depth` levels as kMaxValueNesting counts them.
std::string NestedJson(int depth, bool arrays) {
  std::string open = "{\"a\":";
  std::string close = "}";
  for (int level = 2; level <= depth; ++level) {
    open += arrays ? "[" : "{\"a\":";
    close += arrays ? "]" : "}";
  }
  return open + "1" + std::string(close.rbegin(), close.rend());
}

std::string PostSaveJson(const std::string& fields) {
  return R"({"signal":"post_save","sender":"auth.User","model_save":{"instance":{"pk":"1","fields":)" + fields +
         "}}}";
}

std::string CustomJson(const std::string& kwargs) {
  return R"({"signal":"order_paid","sender":"shop.Order","custom":{"kwargs":)" + kwargs + "}}";
}

TEST(EventJsonNesting, EveryEventNestedToTheLimitPrintsAndParsesBack) {
  for (bool arrays : {false, true}) {
    std::vector<v1::Event> events = {testing::UserCreatedWithFieldsNested("1", kMaxValueNesting, arrays)};
    v1::Event custom = testing::OneOfEverySignal().back();
    ASSERT_TRUE(custom.has_custom());
    *custom.mutable_custom()->mutable_kwargs() = testing::NestedValues(kMaxValueNesting, arrays);
    events.push_back(custom);
    for (const v1::Event& event : events) {
      ASSERT_TRUE(ValidateEvent(event).ok());
      auto json = EventToJson(event);
      ASSERT_TRUE(json.ok()) << json.status().message();
      auto back = EventFromJson(*json);
      ASSERT_TRUE(back.ok()) << back.status().message();
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(event, *back));
    }
  }
}

TEST(EventJsonNesting, JsonAtTheLimitParsesAndOneLevelMoreIsRefusedForItsNesting) {
  for (bool arrays : {false, true}) {
    EXPECT_TRUE(EventFromJson(PostSaveJson(NestedJson(kMaxValueNesting, arrays))).ok());
    EXPECT_TRUE(EventFromJson(CustomJson(NestedJson(kMaxValueNesting, arrays))).ok());
    EXPECT_TRUE(StructFromJson(NestedJson(kMaxValueNesting, arrays)).ok());
    // Just above the limit, where protobuf would still parse it; then where protobuf's
    // parser gives up (33 objects), and far beyond: always the same reason.
    for (int depth : {kMaxValueNesting + 1, 33, 60, 5000}) {
      for (const std::string& json : {PostSaveJson(NestedJson(depth, arrays)), CustomJson(NestedJson(depth, arrays))}) {
        auto event = EventFromJson(json);
        ASSERT_FALSE(event.ok()) << depth;
        EXPECT_NE(event.status().message().find("nest deeper than 24 levels"), std::string::npos)
            << depth << ": " << event.status().message();
      }
      auto values = StructFromJson(NestedJson(depth, arrays));
      ASSERT_FALSE(values.ok());
      EXPECT_NE(values.status().message().find("nest deeper than 24 levels"), std::string::npos);
    }
  }
}

TEST(EventJsonNesting, BracketsInsideStringsDoNotCount) {
  const std::string brackets(200, '[');
  auto event = EventFromJson(CustomJson(R"({"text":")" + brackets + R"(\"{{{"})"));
  ASSERT_TRUE(event.ok()) << event.status().message();
  EXPECT_EQ(event->custom().kwargs().fields().at("text").string_value(), brackets + "\"{{{");
  EXPECT_TRUE(StructFromJson(R"({"a":"]]]]","b":{"c":"[[[["}})").ok());
}

TEST(EventJsonNesting, AnEventThePrinterCannotPrintIsAnErrorAndNotALogLine) {
  InstallProtobufLogHandler();
  v1::Event event = testing::UserCreated("1");
  event.mutable_occurred_at()->set_seconds(kMaxTimestampSeconds + 1);  // ValidateEvent refuses it too
  ProtobufLogCapture outer;  // sees what EventToJson let through to the log
  auto json = EventToJson(event);
  ASSERT_FALSE(json.ok());
  EXPECT_NE(json.status().message().find("Timestamp seconds exceeds limit"), std::string::npos)
      << json.status().message();
  EXPECT_EQ(outer.first(), "");
  EXPECT_FALSE(ValidateEvent(event).ok());
}

// Where protobuf's own limits are (protobuf 3.21 on Debian 12: printer 31 in both
// places, binary and JSON parser 32 in an instance's fields and 33 in kwargs for objects,
// 48 and 49 for arrays), found by trying, and that each lies above kMaxValueNesting: the
// printer prints every event allowed, and one level over the limit still parses, so the
// full path names its nesting.
TEST(EventJsonNesting, ProtobufsOwnLimitsLieAboveTheEnvelopes) {
  namespace pbu = google::protobuf::util;
  InstallProtobufLogHandler();
  ProtobufLogCapture quiet;  // the printer logs each failure
  for (bool arrays : {false, true}) {
    for (bool custom : {false, true}) {
      int printed = 0;
      int parsed = 0;
      int parsed_json = 0;
      for (int depth = 1; depth <= 64; ++depth) {
        v1::Event event = testing::UserCreatedWithFieldsNested("1", depth, arrays);
        if (custom) {
          event = testing::OneOfEverySignal().back();
          *event.mutable_custom()->mutable_kwargs() = testing::NestedValues(depth, arrays);
        }
        std::string json;
        if (pbu::MessageToJsonString(event, &json).ok()) printed = depth;
        v1::Event back;
        if (back.ParseFromString(event.SerializeAsString())) parsed = depth;
        const std::string text = custom ? CustomJson(NestedJson(depth, arrays)) : PostSaveJson(NestedJson(depth, arrays));
        if (pbu::JsonStringToMessage(text, &back).ok()) parsed_json = depth;
      }
      std::cout << "[ measured ] protobuf " << (custom ? "custom.kwargs" : "instance.fields") << ", "
                << (arrays ? "arrays" : "objects") << ": JSON printer up to " << printed << ", binary parser up to "
                << parsed << ", JSON parser up to " << parsed_json << " (kMaxValueNesting " << kMaxValueNesting
                << ")\n";
      EXPECT_GE(printed, kMaxValueNesting);
      EXPECT_GT(parsed, kMaxValueNesting);
      EXPECT_GT(parsed_json, kMaxValueNesting);
    }
  }
}

}  // namespace
}  // namespace signalbus
