// ValidateMessage: one test per rejection reason, the order the checks run in, and the
// fields an accepted event hands on.
#include "signalbus/broker/validator.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/codec.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::OneOfEverySignal;
using ::signalbus::testing::UserCreated;

RejectReason ReasonOf(const Verdict& verdict) {
  EXPECT_FALSE(verdict.accepted());
  return verdict.accepted() ? RejectReason::kFrameCount : verdict.rejection().reason;
}

TEST(ValidatorTest, AcceptsEveryKindOfValidEventAndHandsOnItsFields) {
  for (const v1::Event& event : OneOfEverySignal()) {
    std::string bytes = EncodeEvent(event);
    Verdict verdict = ValidateMessage(2, TopicOf(event), bytes);
    ASSERT_TRUE(verdict.accepted()) << TopicOf(event) << ": " << verdict.rejection().detail;
    EXPECT_EQ(verdict.fields().event_id, event.event_id());
    EXPECT_EQ(verdict.fields().publisher_id, event.publisher_id());
    EXPECT_EQ(verdict.fields().sequence, event.sequence());
    EXPECT_EQ(verdict.fields().ordering_key, event.ordering_key());
  }
}

TEST(ValidatorTest, RejectsAnyFrameCountButTwo) {
  std::string bytes = EncodeEvent(UserCreated("1"));
  for (std::size_t frames : {std::size_t{1}, std::size_t{3}, std::size_t{50}}) {
    Verdict verdict = ValidateMessage(frames, "auth.User/post_save", bytes);
    EXPECT_EQ(ReasonOf(verdict), RejectReason::kFrameCount) << frames;
    EXPECT_NE(verdict.rejection().detail.find(std::to_string(frames) + " frames"), std::string::npos);
  }
}

TEST(ValidatorTest, RejectsEventOverTheLimitBeforeParsingIt) {
  v1::Event event = UserCreated("1");
  std::string bytes = EncodeEvent(event);
  EXPECT_TRUE(ValidateMessage(2, TopicOf(event), bytes, {.max_event_bytes = bytes.size()}).accepted());
  Verdict verdict = ValidateMessage(2, TopicOf(event), bytes, {.max_event_bytes = bytes.size() - 1});
  EXPECT_EQ(ReasonOf(verdict), RejectReason::kOversized);
  // Size is checked first: an oversized frame of garbage is oversized, not undecodable.
  EXPECT_EQ(ReasonOf(ValidateMessage(2, "x", std::string(100, '\xff'), {.max_event_bytes = 10})),
            RejectReason::kOversized);
}

TEST(ValidatorTest, RejectsTopicsThatDoNotParse) {
  std::string bytes = EncodeEvent(UserCreated("1"));
  for (const std::string& topic : std::vector<std::string>{"", "auth.User", "auth.User/", "/post_save", "auth..User/post_save",
                            "auth.User/post save", std::string("\x00\xff/\x01", 4), std::string(300, 'a')}) {
    EXPECT_EQ(ReasonOf(ValidateMessage(2, topic, bytes)), RejectReason::kBadTopic) << topic;
  }
}

TEST(ValidatorTest, RejectsBytesThatAreNotAnEvent) {
  EXPECT_EQ(ReasonOf(ValidateMessage(2, "auth.User/post_save", "")), RejectReason::kUndecodable);
  // 0xff starts field 31 with wire type 7, which does not exist.
  EXPECT_EQ(ReasonOf(ValidateMessage(2, "auth.User/post_save", "\xff\xff\xff\xff")), RejectReason::kUndecodable);
  std::string truncated = EncodeEvent(UserCreated("1"));
  truncated.resize(truncated.size() / 2);
  EXPECT_EQ(ReasonOf(ValidateMessage(2, "auth.User/post_save", truncated)), RejectReason::kUndecodable);
}

TEST(ValidatorTest, RejectsEventThatDecodesButDoesNotValidate) {
  v1::Event wrong_version = UserCreated("1");
  wrong_version.set_schema_version(2);
  Verdict verdict = ValidateMessage(2, TopicOf(wrong_version), EncodeEvent(wrong_version));
  EXPECT_EQ(ReasonOf(verdict), RejectReason::kInvalidEvent);
  EXPECT_NE(verdict.rejection().detail.find("schema_version"), std::string::npos);

  v1::Event bad_id = UserCreated("1");
  bad_id.set_event_id("not-a-ulid");
  EXPECT_EQ(ReasonOf(ValidateMessage(2, TopicOf(bad_id), EncodeEvent(bad_id))), RejectReason::kInvalidEvent);

  v1::Event no_payload = UserCreated("1");
  no_payload.clear_model_save();
  EXPECT_EQ(ReasonOf(ValidateMessage(2, "auth.User/post_save", EncodeEvent(no_payload))),
            RejectReason::kInvalidEvent);
}

TEST(ValidatorTest, RejectsTopicThatDisagreesWithItsEvent) {
  std::string bytes = EncodeEvent(UserCreated("1"));  // auth.User/post_save
  for (const char* topic : {"auth.User/pre_save", "auth.UserProfile/post_save", "auth.User/post_save_archived",
                            "shop.Order/post_save"}) {
    Verdict verdict = ValidateMessage(2, topic, bytes);
    EXPECT_EQ(ReasonOf(verdict), RejectReason::kTopicMismatch) << topic;
    EXPECT_NE(verdict.rejection().detail.find("auth.User/post_save"), std::string::npos);
  }
}

TEST(ValidatorTest, NamesEveryReasonForMetricLabels) {
  std::set<std::string> names;
  for (RejectReason reason : kAllRejectReasons) names.insert(RejectReasonName(reason));
  EXPECT_EQ(names, (std::set<std::string>{"frame_count", "oversized", "bad_topic", "undecodable", "invalid_event",
                                          "topic_mismatch"}));
}

}  // namespace
}  // namespace signalbus::broker
