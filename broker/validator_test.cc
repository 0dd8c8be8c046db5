// ValidateMessage: one test per rejection reason, the order the checks run in, the
// envelope's limits on both of its paths, and the fields an accepted event hands on.
#include "signalbus/broker/validator.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/logging.h"

namespace signalbus::broker {
namespace {

using ::signalbus::testing::OneOfEverySignal;
using ::signalbus::testing::UserCreated;
using ::signalbus::testing::UserCreatedWithFieldsNested;

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
                                          "topic_mismatch", "bad_batch", "atomic_batch", "forbidden"}));
}

// Either path (the canonical walk, or the full parse for bytes that are not canonical:
// the same event with an unknown field first) must give the same verdict.
std::vector<std::string> BothEncodings(const v1::Event& event) {
  return {EncodeEvent(event), std::string("\xf8\x07\x01", 3) + EncodeEvent(event)};  // field 127 = 1
}

TEST(ValidatorLimitsTest, AcceptsValuesNestedToTheLimitAndRefusesDeeperAsInvalidEventHoweverDeep) {
  for (bool arrays : {false, true}) {
    for (const std::string& bytes : BothEncodings(UserCreatedWithFieldsNested("1", kMaxValueNesting, arrays))) {
      Verdict verdict = ValidateMessage(2, "auth.User/post_save", bytes);
      EXPECT_TRUE(verdict.accepted()) << verdict.rejection().detail;
    }
    // 25: protobuf parses it; 33 objects (48 arrays) and more: protobuf's own recursion
    // limit (100 messages) refuses to parse it. Invalid for its nesting either way.
    for (int depth : {kMaxValueNesting + 1, 33, 49, 400}) {
      for (const std::string& bytes : BothEncodings(UserCreatedWithFieldsNested("1", depth, arrays))) {
        Verdict verdict = ValidateMessage(2, "auth.User/post_save", bytes);
        ASSERT_EQ(ReasonOf(verdict), RejectReason::kInvalidEvent) << depth << " " << arrays;
        EXPECT_NE(verdict.rejection().detail.find("nest deeper than 24 levels"), std::string::npos)
            << verdict.rejection().detail;
      }
    }
  }
}

TEST(ValidatorLimitsTest, RefusesIdsAndNamesOverTheirLimitsAsInvalidEventOnBothPaths) {
  struct Case {
    const char* what;
    void (*set)(v1::Event&);
  };
  const Case cases[] = {
      {"publisher_id", [](v1::Event& e) { e.set_publisher_id(std::string(900'000, 'p')); }},
      {"publisher_id", [](v1::Event& e) { e.set_publisher_id(std::string(kMaxPublisherIdBytes + 1, 'p')); }},
      {"publisher_id", [](v1::Event& e) { e.set_publisher_id("pub lisher"); }},
      {"source", [](v1::Event& e) { e.set_source(std::string(kMaxSourceBytes + 1, 's')); }},
      {"ordering_key", [](v1::Event& e) { e.set_ordering_key(std::string(kMaxOrderingKeyBytes + 1, 'k')); }},
      {"occurred_at", [](v1::Event& e) { e.mutable_occurred_at()->set_seconds(kMaxTimestampSeconds + 1); }},
      {"occurred_at", [](v1::Event& e) { e.mutable_occurred_at()->set_nanos(kMaxTimestampNanos + 1); }},
      {"occurred_at", [](v1::Event& e) { e.mutable_occurred_at()->set_seconds(kMinTimestampSeconds - 1); }},
  };
  for (const Case& c : cases) {
    v1::Event event = UserCreated("1");
    c.set(event);
    for (const std::string& bytes : BothEncodings(event)) {
      Verdict verdict = ValidateMessage(2, TopicOf(event), bytes, {.max_event_bytes = 1 << 21});
      ASSERT_EQ(ReasonOf(verdict), RejectReason::kInvalidEvent) << c.what;
      EXPECT_NE(verdict.rejection().detail.find(c.what), std::string::npos) << verdict.rejection().detail;
    }
  }
  // At each limit: accepted, on both paths.
  v1::Event at = UserCreated("1");
  at.set_publisher_id(std::string(kMaxPublisherIdBytes, 'p'));
  at.set_source(std::string(kMaxSourceBytes, 's'));
  at.set_ordering_key(std::string(kMaxOrderingKeyBytes, 'k'));
  at.mutable_occurred_at()->set_seconds(kMaxTimestampSeconds);
  at.mutable_occurred_at()->set_nanos(kMaxTimestampNanos);
  for (const std::string& bytes : BothEncodings(at)) {
    Verdict verdict = ValidateMessage(2, TopicOf(at), bytes);
    ASSERT_TRUE(verdict.accepted()) << verdict.rejection().detail;
    EXPECT_EQ(verdict.fields().publisher_id, at.publisher_id());
  }
}

TEST(ValidatorLimitsTest, BytesThatAreNotUtf8AreUndecodableInProtobufsWordsNotALogLine) {
  // With the handler installed, what protobuf says while the validator parses is kept
  // for the rejection's detail (which the broker logs rate-limited) and not logged.
  InstallProtobufLogHandler();
  v1::Event event = UserCreated("1");
  (*event.mutable_headers())["trace_id"] = "abcX";
  std::string bytes = EncodeEvent(event);
  bytes[bytes.find("abcX") + 3] = '\xc3';  // a lead byte with nothing after it
  ProtobufLogCapture outer;                // would see it, had the validator let it through
  Verdict verdict = ValidateMessage(2, TopicOf(event), bytes);
  ASSERT_EQ(ReasonOf(verdict), RejectReason::kUndecodable);
  EXPECT_NE(verdict.rejection().detail.find("contains invalid UTF-8"), std::string::npos)
      << verdict.rejection().detail;
  EXPECT_EQ(outer.first(), "");
}

}  // namespace
}  // namespace signalbus::broker
