// Each C++ handler runs once per event: a real receiver process with two handlers on one
// topic, one always throwing. The other handler sees every event exactly once; the
// failing one alone is retried (3 attempts) and dead-lettered in its own group.
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "ndjson_events.h"
#include "process.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

// handler -> event id -> times seen
std::map<std::string, std::map<std::string, int>> Seen(const std::string& path) {
  std::map<std::string, std::map<std::string, int>> seen;
  std::ifstream in(path);
  std::string handler, id;
  while (in >> handler >> id) ++seen[handler][id];
  return seen;
}

int Lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

TEST(HandlerGroupsTest, TwoHandlersOnOneTopicEachRunOnceAndOnlyTheFailingOneIsRetriedAndDeadLettered) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  const std::string dir = MakeTempDir("sb-handlers");
  const std::string out = dir + "/seen.txt";
  Process receiver("two_handlers", {broker.groups(), out});
  ASSERT_TRUE(receiver.WaitForStdoutLine("ready", 20s)) << receiver.Stderr();
  RunResult published = RunToCompletion(
      "signalbus-publish", {"--broker", broker.ingest(), "--ndjson", WriteUsersCreated(dir + "/u.ndjson", 1, 5)}, 60s);
  ASSERT_EQ(published.exit_code, 0) << published.err;

  std::string letters;
  ASSERT_TRUE(Eventually(
      [&] {
        letters = RunToCompletion("signalbus-admin", {"--broker", broker.groups(), "dlq", "list", "site.always-fails"})
                      .out;
        return Lines(letters) == 5;
      },
      30s))
      << letters;
  auto seen = Seen(out);
  ASSERT_EQ(seen["welcome"].size(), 5u);
  for (const auto& [id, times] : seen["welcome"]) EXPECT_EQ(times, 1) << id;
  ASSERT_EQ(seen["always-fails"].size(), 5u);
  for (const auto& [id, times] : seen["always-fails"]) EXPECT_EQ(times, 3) << id;
  EXPECT_NE(letters.find("\"attempts\":3"), std::string::npos) << letters;
  RunResult none = RunToCompletion("signalbus-admin", {"--broker", broker.groups(), "dlq", "list", "site"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(Lines(none.out), 0) << none.out;
  EXPECT_EQ(receiver.Stop(), 0) << receiver.Stderr();
}

}  // namespace
}  // namespace signalbus::testing
