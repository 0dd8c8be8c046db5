// CRC32C: known vectors (RFC 3720 and the usual "123456789") on both paths, and the
// hardware path agreeing with the software one on every length and alignment.
#include "signalbus/log/crc32c.h"

#include <gtest/gtest.h>

#include <string>

#include "log_test_util.h"

namespace signalbus::eventlog::crc32c {
namespace {

using Fn = std::uint32_t (*)(std::uint32_t, const void*, std::size_t);

void ExpectVectors(Fn extend) {
  EXPECT_EQ(extend(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(extend(0, "", 0), 0u);
  std::string buf(32, '\0');
  EXPECT_EQ(extend(0, buf.data(), buf.size()), 0x8A9136AAu);
  buf.assign(32, '\xff');
  EXPECT_EQ(extend(0, buf.data(), buf.size()), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(extend(0, buf.data(), buf.size()), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(extend(0, buf.data(), buf.size()), 0x113FDB5Cu);
}

TEST(Crc32cTest, SoftwareMatchesKnownVectors) { ExpectVectors(&ExtendSoftware); }

TEST(Crc32cTest, HardwareMatchesKnownVectors) {
  if (!HardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  ExpectVectors(&ExtendHardware);
}

TEST(Crc32cTest, DispatchedMatchesKnownVectors) { ExpectVectors(&Extend); }

TEST(Crc32cTest, HardwareAgreesWithSoftwareOnEveryLengthAndAlignment) {
  if (!HardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  const std::string data = testing::RandomBytes(4096 + 64, 42);
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t n = 0; n < 300; ++n) {
      ASSERT_EQ(ExtendHardware(0, data.data() + align, n), ExtendSoftware(0, data.data() + align, n))
          << "align " << align << " length " << n;
    }
    ASSERT_EQ(ExtendHardware(0, data.data() + align, 4096), ExtendSoftware(0, data.data() + align, 4096));
  }
}

TEST(Crc32cTest, ExtendEqualsOneShotAtEverySplit) {
  const std::string data = testing::RandomBytes(257, 7);
  const std::uint32_t whole = Value(data);
  for (std::size_t split = 0; split <= data.size(); ++split) {
    ASSERT_EQ(Extend(Value(data.data(), split), data.data() + split, data.size() - split), whole) << split;
  }
}

TEST(Crc32cTest, MaskIsReversibleAndChangesTheValue) {
  for (std::uint32_t crc : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu, 0x12345678u}) {
    EXPECT_NE(Mask(crc), crc);
    EXPECT_NE(Mask(Mask(crc)), Mask(crc));
    EXPECT_EQ(Unmask(Mask(crc)), crc);
  }
}

}  // namespace
}  // namespace signalbus::eventlog::crc32c
