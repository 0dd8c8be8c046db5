// The publisher-identity and ordering-key scans agree with a full parse and survive
// hostile bytes.
#include "signalbus/core/event_scan.h"

#include <random>

#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/codec.h"

namespace signalbus {
namespace {

TEST(EventScan, FindsTheIdentityFieldsOfEverySignal) {
  for (v1::Event event : testing::OneOfEverySignal()) {
    event.set_publisher_id("pub-" + event.signal());
    event.set_sequence(123456789012ULL);
    event.set_unconfirmed_from(123456789000ULL);
    std::string bytes = EncodeEvent(event);
    auto fields = ScanPublisherFields(bytes);
    ASSERT_TRUE(fields.has_value()) << event.signal();
    EXPECT_EQ(fields->publisher_id, "pub-" + event.signal());
    EXPECT_EQ(fields->sequence, 123456789012ULL);
    EXPECT_EQ(fields->unconfirmed_from, 123456789000ULL);
    EXPECT_EQ(fields->event_id, event.event_id());
  }
}

TEST(EventScan, EventWithoutPublisherIdentityHasNone) {
  v1::Event event = testing::UserCreated("1");
  event.clear_publisher_id();
  EXPECT_FALSE(ScanPublisherFields(EncodeEvent(event)).has_value());
  event = testing::UserCreated("1");
  event.clear_sequence();
  EXPECT_FALSE(ScanPublisherFields(EncodeEvent(event)).has_value());
  event = testing::UserCreated("1");
  event.clear_unconfirmed_from();
  auto fields = ScanPublisherFields(EncodeEvent(event));
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(fields->unconfirmed_from, 0u);
}

TEST(EventScan, TruncatedAndRandomBytesNeverCrash) {
  std::string bytes = EncodeEvent(testing::UserCreated("77"));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto fields = ScanPublisherFields(std::string_view(bytes).substr(0, n));
    if (fields) {
      EXPECT_EQ(fields->publisher_id, "pub-test");
    }
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) {
    std::string random(rng() % 300, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    (void)ScanPublisherFields(random);
    (void)ScanOrderingKey(random);
  }
}

TEST(EventScan, FindsTheOrderingKeyOfEverySignalAsAFullParseDoes) {
  for (v1::Event event : testing::OneOfEverySignal()) {
    std::string bytes = EncodeEvent(event);
    std::optional<std::string_view> key = ScanOrderingKey(bytes);
    ASSERT_TRUE(key.has_value()) << event.signal();
    EXPECT_EQ(*key, event.ordering_key()) << event.signal();
    event.clear_ordering_key();
    bytes = EncodeEvent(event);
    key = ScanOrderingKey(bytes);
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(*key, "");
  }
}

TEST(EventScan, AnOrderingKeyCutShortIsMalformedNotAShorterKey) {
  v1::Event event = testing::UserCreated("77");
  ASSERT_FALSE(event.ordering_key().empty());
  std::string bytes = EncodeEvent(event);
  const std::size_t at = bytes.find(event.ordering_key());
  ASSERT_NE(at, std::string::npos);
  for (std::size_t n = at; n < at + event.ordering_key().size(); ++n) {
    EXPECT_FALSE(ScanOrderingKey(std::string_view(bytes).substr(0, n)).has_value()) << n;
  }
}

}  // namespace
}  // namespace signalbus
