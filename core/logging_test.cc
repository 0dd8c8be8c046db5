// Logging untrusted bytes safely, and libprotobuf's messages on the same path.
#include "signalbus/core/logging.h"

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "sample_events.h"
#include "signalbus/core/proto_parse.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {
namespace {

TEST(Printable, EscapesControlAndBinaryBytes) {
  EXPECT_EQ(Printable(std::string("a\nb\0c\xff", 6)), "a\\x0ab\\x00c\\xff");
  EXPECT_EQ(Printable("back\\slash"), "back\\x5cslash");
}

TEST(Printable, TruncatesAndSaysHowLongTheInputWas) {
  std::string out = Printable(std::string(1000, 'x'), 10);
  EXPECT_EQ(out, "xxxxxxxxxx...(1000 bytes)");
}

TEST(RateLimiterTest, AllowsBurstThenRefillsOverTime) {
  auto t0 = std::chrono::steady_clock::now();
  RateLimiter limiter(2.0, 3.0);
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_TRUE(limiter.Allow(t0));
  EXPECT_FALSE(limiter.Allow(t0));
  EXPECT_FALSE(limiter.Allow(t0));
  EXPECT_EQ(limiter.TakeSuppressed(), 2u);
  EXPECT_EQ(limiter.TakeSuppressed(), 0u);
  EXPECT_TRUE(limiter.Allow(t0 + std::chrono::milliseconds(600)));
}

// What spdlog's default logger writes while one exists.
class LogLines {
 public:
  LogLines() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogLines() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::find(sinks.begin(), sinks.end(), sink_));
  }
  std::string text() const { return out_.str(); }
  int count(const std::string& needle) const {
    int n = 0;
    const std::string all = text();
    for (std::size_t at = all.find(needle); at != std::string::npos; at = all.find(needle, at + 1)) ++n;
    return n;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// An Event whose sender is not UTF-8: protobuf logs an ERROR each time it parses one.
// Damaged after serializing, which would log too.
std::string EventThatIsNotUtf8() {
  v1::Event e = testing::UserCreated("1");
  e.set_sender("auth.UserX");
  std::string bytes = e.SerializeAsString();
  bytes[bytes.find("auth.UserX") + 9] = '\xff';
  return bytes;
}

TEST(ProtobufLogging, InitLoggingSendsLibprotobufsLinesThroughSpdlogRateLimited) {
  ASSERT_TRUE(InitLogging("logging-test", "info").ok());
  LogLines lines;
  const std::string bytes = EventThatIsNotUtf8();
  for (int i = 0; i < 500; ++i) {
    v1::Event e;
    EXPECT_FALSE(e.ParseFromString(bytes));  // plain protobuf, no capture: it logs
  }
  spdlog::default_logger()->flush();
  const int logged = lines.count("libprotobuf (");
  // A burst and, should the loop take over a second, one more per second.
  EXPECT_GE(logged, 1) << lines.text();
  EXPECT_LE(logged, kProtobufLogBurst + 2) << lines.text();
  EXPECT_EQ(logged, lines.count("String field 'signalbus.v1.Event.sender' contains invalid UTF-8"));
  EXPECT_EQ(lines.count("\n"), logged) << "one line each, no newline of protobuf's own";
}

TEST(ProtobufLogging, ACaptureKeepsWhatProtobufSaysInsteadOfLoggingIt) {
  InstallProtobufLogHandler();
  LogLines lines;
  const std::string bytes = EventThatIsNotUtf8();
  {
    ProtobufLogCapture capture;
    v1::Event e;
    EXPECT_FALSE(e.ParseFromString(bytes));
    EXPECT_FALSE(e.ParseFromString(bytes));
    EXPECT_EQ(capture.first(),
              "String field 'signalbus.v1.Event.sender' contains invalid UTF-8 data when parsing a protocol buffer. "
              "Use the 'bytes' type if you intend to send raw bytes.");
    EXPECT_EQ(ProtobufLogCapture::Current(), &capture);
  }
  EXPECT_EQ(ProtobufLogCapture::Current(), nullptr);
  spdlog::default_logger()->flush();
  EXPECT_EQ(lines.text(), "");
}

TEST(ProtobufLogging, ParseUntrustedSaysWhatProtobufSaidAndLogsNothing) {
  InstallProtobufLogHandler();
  LogLines lines;
  v1::Event e;
  Status s = ParseUntrusted(EventThatIsNotUtf8(), e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a signalbus.v1.Event ("), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'signalbus.v1.Event.sender' contains invalid UTF-8"), std::string::npos) << s.message();
  // Bytes that are not protobuf at all: refused, with nothing of protobuf's to add.
  s = ParseUntrusted(std::string("\xff\xff\xff", 3), e);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(ParseUntrusted(testing::UserCreated("1").SerializeAsString(), e).ok());
  spdlog::default_logger()->flush();
  EXPECT_EQ(lines.text(), "");
}

}  // namespace
}  // namespace signalbus
