// EventFromNdjsonLine: what signalbus-listen, signalbus-audit and `signalbus-admin dlq
// list` print comes back as the same event, with the first publisher's numbering cleared.
#include "ndjson_line.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

#include "sample_events.h"
#include "signalbus/core/event_json.h"

namespace signalbus {
namespace {

// An event as a receiver prints it: stamped by its first publisher.
v1::Event Delivered() {
  v1::Event event = testing::UserCreated("42");
  event.set_publisher_id("01M8Y1B61W56SM997KY2Q4BQGE");
  event.set_sequence(17);
  event.set_unconfirmed_from(15);
  return event;
}

void ExpectSameEventWithoutNumbering(const v1::Event& got, const v1::Event& printed) {
  EXPECT_EQ(got.event_id(), printed.event_id());
  EXPECT_TRUE(got.publisher_id().empty());
  EXPECT_EQ(got.sequence(), 0u);
  EXPECT_EQ(got.unconfirmed_from(), 0u);
  v1::Event expected = printed;
  expected.clear_publisher_id();
  expected.clear_sequence();
  expected.clear_unconfirmed_from();
  // Struct fields are maps: compared as messages, not as bytes.
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, expected)) << got.DebugString();
}

TEST(NdjsonLineTest, ListenOrAuditLineKeepsItsEventAndDropsItsPublisherNumbering) {
  v1::Event printed = Delivered();
  auto got = EventFromNdjsonLine(*EventToJson(printed) + "\r");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectSameEventWithoutNumbering(*got, printed);
}

TEST(NdjsonLineTest, DeadLetterLineYieldsItsEvent) {
  v1::Event printed = Delivered();
  std::string line =
      "{\"offset\":12,\"attempts\":5,\"error\":\"handler failed: \\\"event\\\":x,\\\"event\\\":{}\","
      "\"topic\":\"auth.User/post_save\",\"dead_lettered_at\":\"2026-12-03T13:26:18Z\",\"event\":" +
      *EventToJson(printed) + "}";
  auto got = EventFromNdjsonLine(line);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectSameEventWithoutNumbering(*got, printed);
}

TEST(NdjsonLineTest, DeadLetterWhoseEventDidNotParseIsRefusedWithItsReason) {
  auto got = EventFromNdjsonLine(
      "{\"offset\":3,\"attempts\":1,\"error\":\"x\",\"topic\":\"a/b\",\"event\":null,\"event_base64\":\"AAE=\"}");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("event_base64"), std::string::npos) << got.status().message();
}

TEST(NdjsonLineTest, OtherJsonIsRefusedAsBefore) {
  EXPECT_EQ(EventFromNdjsonLine("{\"nope\":1}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EventFromNdjsonLine("{\"offset\":1}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EventFromNdjsonLine("not json").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace signalbus
