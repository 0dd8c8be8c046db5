// The envelope: round-trips for every signal, validation rules and limits (at each
// boundary, and the cases shared with the Python client), and decoding of hostile bytes
// (truncated, oversized, random) that must fail cleanly.
#include "signalbus/core/codec.h"

#include <fstream>
#include <random>
#include <set>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/logging.h"

namespace signalbus {
namespace {

using google::protobuf::util::MessageDifferencer;

TEST(Codec, EverySignalRoundTrips) {
  for (const v1::Event& event : testing::OneOfEverySignal()) {
    ASSERT_TRUE(ValidateEvent(event).ok()) << event.signal() << ": " << ValidateEvent(event).ToString();
    auto decoded = DecodeEvent(EncodeEvent(event));
    ASSERT_TRUE(decoded.ok()) << event.signal() << ": " << decoded.status().ToString();
    EXPECT_TRUE(MessageDifferencer::Equals(event, *decoded)) << event.signal();
  }
}

TEST(Codec, SamplesCoverEveryBuiltinPayload) {
  std::set<std::string> signals;
  for (const v1::Event& event : testing::OneOfEverySignal()) signals.insert(event.signal());
  for (const char* s : {"pre_save", "post_save", "pre_delete", "post_delete", "m2m_changed", "user_logged_in",
                        "user_logged_out", "user_login_failed", "order_paid"}) {
    EXPECT_TRUE(signals.count(s)) << s;
  }
}

TEST(Codec, TopicOfIsSenderSlashSignal) {
  EXPECT_EQ(TopicOf(testing::UserCreated("1")), "auth.User/post_save");
}

TEST(Codec, ReceiversIgnoreUnknownFields) {
  std::string bytes = EncodeEvent(testing::UserCreated("5"));
  // Field 99, varint 1: a field a later version might add.
  bytes += std::string("\x98\x06\x01", 3);
  auto decoded = DecodeEvent(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->model_save().instance().pk(), "5");
}

TEST(Codec, RejectsWrongSchemaVersion) {
  v1::Event e = testing::UserCreated("1");
  e.set_schema_version(2);
  EXPECT_FALSE(DecodeEvent(EncodeEvent(e)).ok());
  e.set_schema_version(0);
  EXPECT_FALSE(DecodeEvent(EncodeEvent(e)).ok());
}

TEST(Codec, RejectsPayloadThatDoesNotFitTheSignal) {
  v1::Event e = testing::UserCreated("1");
  e.set_signal("post_delete");
  EXPECT_FALSE(ValidateEvent(e).ok());
  e.set_signal("order_paid");  // custom signals need a custom payload
  EXPECT_FALSE(ValidateEvent(e).ok());
  v1::Event custom = testing::OneOfEverySignal().back();
  custom.set_signal("post_save");
  EXPECT_FALSE(ValidateEvent(custom).ok());
  v1::Event none = testing::UserCreated("1");
  none.clear_payload();
  EXPECT_FALSE(ValidateEvent(none).ok());
}

TEST(Codec, RejectsBadIdsSendersAndInstanceLabels) {
  v1::Event e = testing::UserCreated("1");
  e.set_event_id("not-an-id");
  EXPECT_FALSE(ValidateEvent(e).ok());
  e = testing::UserCreated("1");
  e.set_sender("auth/User");
  EXPECT_FALSE(ValidateEvent(e).ok());
  e = testing::UserCreated("1");
  e.mutable_model_save()->mutable_instance()->set_model("auth.Group");
  EXPECT_FALSE(ValidateEvent(e).ok());
  e = testing::OneOfEverySignal().front();  // pre_save
  e.mutable_model_save()->set_created(true);
  EXPECT_FALSE(ValidateEvent(e).ok());
}

TEST(Codec, EveryTruncationOfAnEventIsAnErrorOrAValidPrefix) {
  std::string bytes = EncodeEvent(testing::UserCreated("123"));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = DecodeEvent(std::string_view(bytes).substr(0, n));
    // A cut at a field boundary can still parse; then it must still be a valid event.
    if (decoded.ok()) {
      EXPECT_TRUE(ValidateEvent(*decoded).ok());
    }
  }
  // A cut inside the last field (a headers map entry) cannot parse.
  EXPECT_FALSE(DecodeEvent(std::string_view(bytes).substr(0, bytes.size() - 3)).ok());
}

TEST(Codec, OversizedEventIsRejectedBeforeParsing) {
  v1::Event e = testing::UserCreated("1");
  (*e.mutable_headers())["blob"] = std::string(2000, 'x');
  std::string bytes = EncodeEvent(e);
  EXPECT_TRUE(DecodeEvent(bytes, bytes.size()).ok());
  auto too_big = DecodeEvent(bytes, bytes.size() - 1);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("over the limit"), std::string::npos);
}

TEST(Codec, RandomBytesNeverDecodeIntoAnEventAndNeverCrash) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 600);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(static_cast<std::size_t>(len(rng)), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng));
    auto decoded = DecodeEvent(bytes);
    EXPECT_FALSE(decoded.ok());
  }
}

TEST(Codec, FlippedBytesOfAValidEventDecodeOnlyIntoValidEvents) {
  std::string bytes = EncodeEvent(testing::UserCreated("99"));
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string copy = bytes;
    copy[rng() % copy.size()] = static_cast<char>(rng());
    auto decoded = DecodeEvent(copy);
    if (decoded.ok()) {
      EXPECT_TRUE(ValidateEvent(*decoded).ok());
    }
  }
}

TEST(Codec, MasksSecretCredentialsLikeDjango) {
  v1::LoginFailed f;
  (*f.mutable_credentials())["username"] = "alice";
  (*f.mutable_credentials())["password"] = "hunter2";
  (*f.mutable_credentials())["api_token"] = "t0k3n";
  (*f.mutable_credentials())["otp_secret"] = "s";
  MaskCredentials(&f);
  EXPECT_EQ(f.credentials().at("username"), "alice");
  EXPECT_EQ(f.credentials().at("password"), kMaskedValue);
  EXPECT_EQ(f.credentials().at("api_token"), kMaskedValue);
  EXPECT_EQ(f.credentials().at("otp_secret"), kMaskedValue);
}

TEST(Codec, OrderingKeyIsSenderAndPk) {
  EXPECT_EQ(OrderingKeyFor("auth.User", "42"), "auth.User:42");
  EXPECT_EQ(OrderingKeyFor("auth.User", ""), "auth.User");
  EXPECT_EQ(PrimaryKeyOf(testing::UserCreated("42")), "42");
}

// ---- The envelope's limits.

// The error ValidateEvent gives, or "" if it accepts.
std::string Refusal(const v1::Event& e) { return ValidateEvent(e).message(); }

TEST(CodecLimits, ValuesNestedToTheLimitAreValidAndOneLevelMoreIsNot) {
  for (bool arrays : {false, true}) {
    v1::Event at = testing::UserCreatedWithFieldsNested("1", kMaxValueNesting, arrays);
    EXPECT_EQ(Refusal(at), "") << arrays;
    v1::Event over = testing::UserCreatedWithFieldsNested("1", kMaxValueNesting + 1, arrays);
    EXPECT_NE(Refusal(over).find("model_save.instance.fields nest deeper than 24 levels"), std::string::npos)
        << Refusal(over);

    // Every payload with values: a custom signal's kwargs, the instance of a delete and
    // of an m2m change.
    for (const v1::Event& sample : testing::OneOfEverySignal()) {
      google::protobuf::Struct* values = nullptr;
      v1::Event e = sample;
      if (e.has_custom()) values = e.mutable_custom()->mutable_kwargs();
      if (e.has_model_delete()) values = e.mutable_model_delete()->mutable_instance()->mutable_fields();
      if (e.has_m2m_changed()) values = e.mutable_m2m_changed()->mutable_instance()->mutable_fields();
      if (values == nullptr) continue;
      *values = testing::NestedValues(kMaxValueNesting, arrays);
      EXPECT_EQ(Refusal(e), "") << e.signal();
      *values = testing::NestedValues(kMaxValueNesting + 1, arrays);
      EXPECT_NE(Refusal(e).find("nest deeper than 24 levels"), std::string::npos) << e.signal() << Refusal(e);
    }
  }
}

TEST(CodecLimits, NestingCountsTheDeepestBranchAndEveryEmptyContainer) {
  google::protobuf::Struct values = testing::NestedValues(kMaxValueNesting - 1);
  (*values.mutable_fields())["wide"].set_number_value(1);  // shallow siblings change nothing
  EXPECT_FALSE(NestsTooDeeply(values));
  // An empty object or array at the limit's next level is one level too many.
  google::protobuf::Value* leaf = &(*values.mutable_fields())["a"];
  while (leaf->has_struct_value()) leaf = &leaf->mutable_struct_value()->mutable_fields()->begin()->second;
  leaf->mutable_struct_value();  // level 24: still fine
  EXPECT_FALSE(NestsTooDeeply(values));
  (*leaf->mutable_struct_value()->mutable_fields())["x"].mutable_list_value();  // level 25
  EXPECT_TRUE(NestsTooDeeply(values));
}

TEST(CodecLimits, DecodeEventRefusesNestingForWhatItIsUpToProtobufsOwnLimit) {
  // Just above the limit: protobuf parses it, and the reason is the nesting.
  auto decoded = DecodeEvent(EncodeEvent(testing::UserCreatedWithFieldsNested("1", kMaxValueNesting + 1)));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("nest deeper than"), std::string::npos) << decoded.status().message();
  EXPECT_TRUE(DecodeEvent(EncodeEvent(testing::UserCreatedWithFieldsNested("1", kMaxValueNesting))).ok());
}

TEST(CodecLimits, PublisherIdIsUpTo128BytesOfLettersDigitsAndDotUnderscoreColonHyphen) {
  v1::Event e = testing::UserCreated("1");
  for (const std::string& id : {std::string(), NewEventId(), std::string("billing-relay.eu_1:7"),
                                std::string(kMaxPublisherIdBytes, 'p')}) {
    e.set_publisher_id(id);
    EXPECT_EQ(Refusal(e), "") << id;
    EXPECT_TRUE(IsValidPublisherId(id));
  }
  e.set_publisher_id(std::string(kMaxPublisherIdBytes + 1, 'p'));
  EXPECT_EQ(Refusal(e), "publisher_id is 129 bytes, over the limit of 128");
  for (const std::string& id : {std::string("relay 1"), std::string("relay/1"), std::string("r\xc3\xa9lay"),
                                std::string("a\0b", 3), std::string("a\nb"), std::string("a+b")}) {
    e.set_publisher_id(id);
    EXPECT_NE(Refusal(e).find("has a character other than ASCII letters, digits and . _ : -"), std::string::npos)
        << Refusal(e);
    EXPECT_FALSE(IsValidPublisherId(id));
  }
}

TEST(CodecLimits, SourceAndOrderingKeyHaveCapsInBytes) {
  v1::Event e = testing::UserCreated("1");
  e.set_source(std::string(kMaxSourceBytes, 's'));
  e.set_ordering_key(std::string(kMaxOrderingKeyBytes, 'k'));
  EXPECT_EQ(Refusal(e), "");
  e.set_source(std::string(kMaxSourceBytes + 1, 's'));
  EXPECT_EQ(Refusal(e), "source is 129 bytes, over the limit of 128");
  e.set_source("accounts");
  e.set_ordering_key(std::string(kMaxOrderingKeyBytes + 1, 'k'));
  EXPECT_EQ(Refusal(e), "ordering_key is 1025 bytes, over the limit of 1024");
  // The keys the publishers derive fit: the longest sender and a long primary key.
  EXPECT_LE(OrderingKeyFor(std::string(253, 'a'), std::string(512, '9')).size(), kMaxOrderingKeyBytes);
}

TEST(CodecLimits, OccurredAtIsWithinWhatATimestampAllows) {
  v1::Event e = testing::UserCreated("1");
  for (auto [seconds, nanos] : {std::pair<std::int64_t, std::int32_t>{kMinTimestampSeconds, 0},
                                {kMaxTimestampSeconds, kMaxTimestampNanos}, {0, 0}}) {
    e.mutable_occurred_at()->set_seconds(seconds);
    e.mutable_occurred_at()->set_nanos(nanos);
    EXPECT_EQ(Refusal(e), "") << seconds;
  }
  for (auto [seconds, nanos] : {std::pair<std::int64_t, std::int32_t>{kMinTimestampSeconds - 1, 0},
                                {kMaxTimestampSeconds + 1, 0}, {0, kMaxTimestampNanos + 1}, {0, -1}}) {
    e.mutable_occurred_at()->set_seconds(seconds);
    e.mutable_occurred_at()->set_nanos(nanos);
    EXPECT_NE(Refusal(e).find("occurred_at"), std::string::npos) << seconds << " " << nanos;
  }
}

// core/testdata/envelope_cases.tsv: expect<TAB>case<TAB>event JSON, also read by the
// Python client's tests.
TEST(CodecLimits, ValidateEventFollowsTheCasesSharedWithThePythonClient) {
  std::ifstream in(SIGNALBUS_CORE_TESTDATA "/envelope_cases.tsv");
  ASSERT_TRUE(in) << SIGNALBUS_CORE_TESTDATA "/envelope_cases.tsv";
  int cases = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t tab1 = line.find('\t');
    const std::size_t tab2 = line.find('\t', tab1 + 1);
    ASSERT_NE(tab2, std::string::npos) << line;
    const std::string expect = line.substr(0, tab1);
    const std::string name = line.substr(tab1 + 1, tab2 - tab1 - 1);
    // protobuf's own JSON parser: the rule under test is ValidateEvent's alone.
    v1::Event event;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line.substr(tab2 + 1), &event).ok()) << name;
    const std::string refusal = Refusal(event);
    if (expect == "valid") {
      EXPECT_EQ(refusal, "") << name;
    } else {
      ASSERT_EQ(expect.rfind("invalid:", 0), 0u) << name;
      EXPECT_NE(refusal, "") << name;
      EXPECT_NE(refusal.find(expect.substr(8)), std::string::npos) << name << ": " << refusal;
    }
    ++cases;
  }
  EXPECT_GT(cases, 20);
}

// ---- Decoding without protobuf's log lines.

TEST(CodecParse, BytesThatAreNotUtf8AreRefusedInProtobufsWordsWithoutALogLine) {
  InstallProtobufLogHandler();
  v1::Event e = testing::UserCreated("1");
  e.set_source("accounts");
  std::string bytes = EncodeEvent(e);
  const std::size_t at = bytes.find("accounts");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = '\xff';
  {
    // An outer capture sees what an inner one did not keep: nothing, here.
    ProtobufLogCapture outer;
    auto decoded = DecodeEvent(bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.status().message().find("not a signalbus.v1.Event"), std::string::npos);
    EXPECT_NE(decoded.status().message().find("signalbus.v1.Event.source' contains invalid UTF-8"),
              std::string::npos)
        << decoded.status().message();
    EXPECT_EQ(outer.first(), "");
  }
}

}  // namespace
}  // namespace signalbus
