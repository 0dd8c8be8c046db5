// The envelope's limits and the one log path, against the real broker: a flood of
// events whose strings are not UTF-8 (each of which makes libprotobuf log a line when it
// parses it) leaves a bounded number of lines on the broker's stderr; an event whose
// values nest to kMaxValueNesting is stored and printed by signalbus-listen, while one
// nested deeper (just above the limit, and far beyond protobuf's own) and one with an
// over-long publisher_id are refused as invalid_event, and valid events sent beside them
// still go through.
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_process.h"
#include "process.h"
#include "raw_publisher.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/event_json.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/sockets.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

using Message = std::pair<std::string, std::string>;  // topic, event bytes

// The one place this file talks to the broker's ingest socket directly, as a peer that
// is allowed in but wrong would: a raw ZeroMQ publisher of the kind ingest accepts (an
// XPUB that waits for the broker's subscription, so the slow-joiner effect drops
// nothing), sending each message as two frames. Returned to keep the connection open
// until the caller has seen the broker handle what was sent.
std::unique_ptr<RawPublisher> SendRaw(const std::string& ingest, const std::vector<Message>& messages) {
  auto publisher = std::make_unique<RawPublisher>(ingest);
  for (const auto& [topic, event] : messages) publisher->SendFrames({topic, event});
  return publisher;
}

// Sent raw, an event carries no publisher identity (fire-and-forget): the broker
// neither deduplicates nor confirms it, and no sequence of another test's making can
// leave a gap.
v1::Event Anonymous(v1::Event e) {
  e.clear_publisher_id();
  e.clear_sequence();
  e.clear_unconfirmed_from();
  return e;
}

Message Encoded(const v1::Event& e) { return {TopicOf(e), EncodeEvent(e)}; }

std::string Rejected(const std::string& reason) {
  return "signalbus_ingest_rejected_total{reason=\"" + reason + "\"}";
}

int CountOf(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// ---- A flood that makes libprotobuf log.

// The encoding of `event` with the first byte of `marker` (a string it carries) made
// 0xff: no longer UTF-8, which libprotobuf refuses to parse and logs an ERROR line for.
std::string WithBrokenUtf8(const v1::Event& event, const std::string& marker) {
  std::string bytes = EncodeEvent(event);
  const std::size_t at = bytes.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  if (at != std::string::npos) bytes[at] = '\xff';
  return bytes;
}

// Damaged events of several shapes: a top-level string, a Struct key deep in the
// payload, a header, each also behind an unknown field (which sends it down the full
// parse even before the damage is reached).
std::vector<std::string> EventsThatAreNotUtf8() {
  std::vector<std::string> out;
  v1::Event source = Anonymous(UserCreated("1"));
  source.set_source("FLOODsource");
  out.push_back(WithBrokenUtf8(source, "FLOODsource"));
  v1::Event key = Anonymous(UserCreated("2"));
  (*key.mutable_model_save()->mutable_instance()->mutable_fields()->mutable_fields())["FLOODkey"].set_bool_value(true);
  out.push_back(WithBrokenUtf8(key, "FLOODkey"));
  v1::Event header = Anonymous(UserCreated("3"));
  (*header.mutable_headers())["trace"] = "FLOODheader";
  out.push_back(WithBrokenUtf8(header, "FLOODheader"));
  for (std::size_t i = 0, n = out.size(); i < n; ++i) out.push_back(std::string("\xf8\x07\x01", 3) + out[i]);
  return out;
}

int protobuf_lines_in_this_process = 0;
void CountProtobufLine(google::protobuf::LogLevel, const char*, int, const std::string&) {
  ++protobuf_lines_in_this_process;
}

TEST(EnvelopeLimitsTest, AFloodThatMakesLibprotobufLogLeavesABoundedNumberOfLinesOnTheBrokersStderr) {
  const std::vector<std::string> hostile = EventsThatAreNotUtf8();
  // The premise: parsed the plain way, each of these makes libprotobuf log a line.
  google::protobuf::LogHandler* previous = google::protobuf::SetLogHandler(&CountProtobufLine);
  for (const std::string& bytes : hostile) {
    v1::Event e;
    EXPECT_FALSE(e.ParseFromString(bytes));
  }
  google::protobuf::SetLogHandler(previous);
  ASSERT_EQ(protobuf_lines_in_this_process, static_cast<int>(hostile.size()));

  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  constexpr int kFlood = 6000;
  std::vector<Message> messages;
  for (int i = 0; i < kFlood; ++i) messages.push_back({"auth.User/post_save", hostile[i % hostile.size()]});
  const v1::Event sentinel = Anonymous(UserCreated("99"));
  messages.push_back(Encoded(sentinel));  // handled after every message before it on this connection

  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<RawPublisher> raw = SendRaw(broker.ingest(), messages);
  ASSERT_TRUE(broker.WaitForMetric("signalbus_ingest_accepted_total", 1, 60s));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(broker.Metric(Rejected("undecodable")), kFlood);
  EXPECT_EQ(broker.Metric("signalbus_ingest_accepted_total"), 1);
  EXPECT_EQ(broker.process().Stop(), 0);

  const std::string err = broker.process().Stderr();
  // libprotobuf's own lines, if any, are rate-limited; its words are in the rejections'
  // details, logged by the broker's own limiter.
  EXPECT_LE(CountOf(err, "libprotobuf"), kProtobufLogBurst) << err.substr(0, 4000);
  bool reason_logged = false;
  for (std::size_t start = 0, nl = err.find('\n'); nl != std::string::npos; start = nl + 1, nl = err.find('\n', start)) {
    const std::string line = err.substr(start, nl - start);
    reason_logged |= line.find("undecodable") != std::string::npos &&
                     line.find("contains invalid UTF-8") != std::string::npos &&
                     line.find("libprotobuf") == std::string::npos;
  }
  EXPECT_TRUE(reason_logged) << err.substr(0, 4000);
  // Every line: the broker's rejection limiter (a burst of 20, then 5 a second, and a
  // count of the rest every 10 s), libprotobuf's own at most, and a few of start and stop.
  const int bound = 20 + static_cast<int>(5 * (seconds + 1)) + static_cast<int>(seconds / 10) + 2 +
                    kProtobufLogBurst + 10;
  const int lines = CountOf(err, "\n");
  EXPECT_LE(lines, bound) << lines << " lines for " << kFlood << " messages in " << seconds << " s";
  std::cout << "[ measured ] " << kFlood << " events that make libprotobuf log: " << lines
            << " lines on the broker's stderr (" << CountOf(err, "invalid UTF-8") << " naming invalid UTF-8, "
            << CountOf(err, "libprotobuf") << " from libprotobuf itself) in " << seconds << " s\n";
}

// ---- Nesting and publisher ids, end to end.

std::string WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
  return path;
}

// A post_save whose fields nest `depth` levels (objects), as signalbus-publish reads it,
// with what the publisher fills in left out.
std::string PostSaveJsonNested(const std::string& pk, int depth) {
  std::string fields = "{\"a\":";
  for (int level = 2; level <= depth; ++level) fields += "{\"a\":";
  fields += "\"deep\"" + std::string(static_cast<std::size_t>(depth), '}');
  return R"({"signal":"post_save","sender":"auth.User","model_save":{"instance":{"pk":")" + pk +
         R"(","fields":)" + fields + R"(},"created":true}})";
}

TEST(EnvelopeLimitsTest, ValuesNestedToTheLimitAreStoredAndPrintedDeeperOnesAndOverlongPublisherIdsAreInvalid) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());

  // Through signalbus-publish (the JSON parser, then the broker): at the limit, objects;
  // one level more is refused by the publisher itself, naming the limit, and the lines
  // around it still go out.
  const std::string dir = MakeTempDir("sb-limits");
  const std::string ndjson = WriteLines(dir + "/events.ndjson", {PostSaveJsonNested("10", kMaxValueNesting),
                                                                 PostSaveJsonNested("11", kMaxValueNesting + 1),
                                                                 PostSaveJsonNested("12", 1)});
  RunResult publish = RunToCompletion("signalbus-publish", {"--broker", broker.ingest(), "--ndjson", ndjson}, 30s);
  EXPECT_EQ(publish.exit_code, 1) << publish.err;
  EXPECT_NE(publish.out.find("published 2 events"), std::string::npos) << publish.out << publish.err;
  EXPECT_NE(publish.err.find("line 2: the event's JSON values nest deeper than 24 levels"), std::string::npos)
      << publish.err;

  // Raw, as a peer that is allowed in but wrong: valid events (one at the limit, arrays)
  // beside events the broker must refuse as invalid_event.
  std::vector<Message> messages;
  std::vector<std::string> valid_ids;
  auto valid = [&](v1::Event e) {
    e = Anonymous(std::move(e));
    valid_ids.push_back(e.event_id());
    messages.push_back(Encoded(e));
  };
  valid(UserCreated("20"));
  valid(UserCreatedWithFieldsNested("21", kMaxValueNesting, /*arrays=*/true));
  messages.push_back(Encoded(Anonymous(UserCreatedWithFieldsNested("22", kMaxValueNesting + 1))));
  valid(UserCreated("23"));
  // 60 objects: deeper than protobuf's own recursion limit (100 messages) lets it parse.
  messages.push_back(Encoded(Anonymous(UserCreatedWithFieldsNested("24", 60))));
  v1::Event long_id = UserCreated("25");
  long_id.set_publisher_id(std::string(kMaxPublisherIdBytes + 1, 'p'));
  messages.push_back(Encoded(long_id));
  v1::Event huge_id = UserCreated("26");  // the issue's case: 900 KB publisher ids
  huge_id.set_publisher_id(std::string(900'000, 'p'));
  messages.push_back(Encoded(huge_id));
  valid(UserCreated("27"));
  std::unique_ptr<RawPublisher> raw = SendRaw(broker.ingest(), messages);

  const double accepted = 2 + static_cast<double>(valid_ids.size());
  ASSERT_TRUE(broker.WaitForMetric("signalbus_ingest_accepted_total", accepted, 30s))
      << broker.Metric("signalbus_ingest_accepted_total");
  std::optional<std::string> page = HttpGet(broker.metrics_url(), "/metrics");
  ASSERT_TRUE(page);
  EXPECT_EQ(MetricValue(*page, Rejected("invalid_event")), 4) << *page;
  EXPECT_EQ(MetricValue(*page, Rejected("undecodable")), 0);
  EXPECT_EQ(MetricValue(*page, "signalbus_ingest_accepted_total"), accepted);

  // Everything stored prints: a new group from the start of the log sees each accepted
  // event, the ones nested to the limit included, as NDJSON that parses back.
  RunResult listen = RunToCompletion("signalbus-listen", {"--group", "limits-reader", "--groups", broker.groups(),
                                                          "--start", "earliest", "--count",
                                                          std::to_string(static_cast<int>(accepted))},
                                     30s);
  ASSERT_EQ(listen.exit_code, 0) << listen.err;
  std::set<std::string> seen_ids;
  std::set<std::string> seen_pks;
  std::size_t start = 0;
  for (std::size_t nl = listen.out.find('\n'); nl != std::string::npos; start = nl + 1, nl = listen.out.find('\n', start)) {
    Result<v1::Event> event = EventFromJson(listen.out.substr(start, nl - start));
    ASSERT_TRUE(event.ok()) << event.status().message();
    ASSERT_TRUE(ValidateEvent(*event).ok()) << ValidateEvent(*event).message();
    seen_ids.insert(event->event_id());
    seen_pks.insert(event->model_save().instance().pk());
  }
  for (const std::string& id : valid_ids) EXPECT_TRUE(seen_ids.count(id)) << id;
  EXPECT_EQ(seen_pks, (std::set<std::string>{"10", "12", "20", "21", "23", "27"}));
  EXPECT_TRUE(broker.process().Running());

  EXPECT_EQ(broker.process().Stop(), 0);
  const std::string err = broker.process().Stderr();
  EXPECT_NE(err.find("nest deeper than 24 levels"), std::string::npos) << err;
  EXPECT_NE(err.find("publisher_id is 129 bytes, over the limit of 128"), std::string::npos) << err;
  EXPECT_NE(err.find("publisher_id is 900000 bytes"), std::string::npos) << err;
}

}  // namespace
}  // namespace signalbus::testing
