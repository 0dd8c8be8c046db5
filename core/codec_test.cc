// The envelope: round-trips for every signal, validation rules, and decoding of
// hostile bytes (truncated, oversized, random) that must fail cleanly.
#include "signalbus/core/codec.h"

#include <random>
#include <set>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/event_id.h"

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

}  // namespace
}  // namespace signalbus
