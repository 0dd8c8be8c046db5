// Publishing again what the bus printed: lines from signalbus-listen, signalbus-audit and
// `signalbus-admin dlq list` carry their first publisher's id and sequence, and
// `signalbus-publish --ndjson` must still have them confirmed (it once waited 10 s and
// exited 1), each event keeping its event id and content, numbered 1..N under the
// publishing process's own publisher id.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "broker_process.h"
#include "ndjson_events.h"
#include "process.h"
#include "sample_events.h"
#include "signalbus/core/event_json.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

std::vector<v1::Event> EventsIn(const std::string& text) {
  std::vector<v1::Event> events;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto event = EventFromJson(line);
    EXPECT_TRUE(event.ok()) << event.status().ToString() << ": " << line;
    if (event.ok()) events.push_back(*event);
  }
  return events;
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The event without what its publisher stamped on it.
v1::Event Content(v1::Event event) {
  event.clear_publisher_id();
  event.clear_sequence();
  event.clear_unconfirmed_from();
  return event;
}

class RepublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.ready());
    dir_ = MakeTempDir("sb-republish");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Publishes a file with signalbus-publish; its exit status and output.
  RunResult Publish(const std::string& file) {
    return RunToCompletion("signalbus-publish", {"--broker", broker_.ingest(), "--ndjson", file, "--timeout", "5s"},
                           30s);
  }

  // A group member printing every event from the start of the log, `count` of them.
  std::unique_ptr<Process> Listen(const std::string& group, int count) {
    auto listen = std::make_unique<Process>(
        "signalbus-listen", std::vector<std::string>{"--groups", broker_.groups(), "--group", group, "--start",
                                                     "earliest", "--count", std::to_string(count)});
    return listen;
  }

  // Checks that `again` are `original` re-published by one process: the same ids and
  // content in the same order, sequences 1..N under one publisher id of its own.
  void ExpectRepublished(const std::vector<v1::Event>& again, const std::vector<v1::Event>& original) {
    ASSERT_EQ(again.size(), original.size());
    std::set<std::string> original_publishers;
    for (const v1::Event& e : original) original_publishers.insert(e.publisher_id());
    for (std::size_t i = 0; i < again.size(); ++i) {
      EXPECT_EQ(again[i].event_id(), original[i].event_id()) << i;
      EXPECT_EQ(again[i].publisher_id(), again[0].publisher_id()) << i;
      EXPECT_EQ(original_publishers.count(again[i].publisher_id()), 0u) << "published under the first publisher's id";
      EXPECT_EQ(again[i].sequence(), i + 1);
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(Content(again[i]), Content(original[i])))
          << again[i].DebugString() << "\nvs\n"
          << original[i].DebugString();
    }
  }

  BrokerProcess broker_;
  std::string dir_;
};

TEST_F(RepublishTest, LinesPrintedByListenAndAuditAreConfirmedWithTheirEventIdsKept) {
  constexpr int kUsers = 40;
  // Everything that will reach the log: the originals, then two re-publications.
  auto tail = Listen("tail", 3 * kUsers);
  auto listen = Listen("first", kUsers);
  const std::string audit_file = dir_ + "/audit.ndjson";
  Process audit("signalbus-audit", {"--groups", broker_.groups(), "--file", audit_file, "--start", "earliest"});
  ASSERT_TRUE(audit.WaitForStdoutLine("ready", 20s)) << audit.Stderr();

  RunResult first = Publish(WriteUsersCreated(dir_ + "/users.ndjson", 1, kUsers));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(listen->Wait(30s), 0) << listen->Stderr();
  const std::string listened = dir_ + "/listened.ndjson";
  std::ofstream(listened) << listen->Stdout();
  ASSERT_TRUE(Eventually([&] { return EventIdsInFile(audit_file).size() == kUsers; }, 30s));
  const std::string audited = dir_ + "/audited.ndjson";
  std::ofstream(audited) << ReadWhole(audit_file);
  const std::vector<v1::Event> original = EventsIn(listen->Stdout());
  ASSERT_EQ(original.size(), static_cast<std::size_t>(kUsers));
  ASSERT_FALSE(original[0].publisher_id().empty()) << "the lines should carry their publisher's id";

  for (const std::string& file : {listened, audited}) {
    auto started = std::chrono::steady_clock::now();
    RunResult again = Publish(file);
    EXPECT_EQ(again.exit_code, 0) << file << ": " << again.err;
    EXPECT_NE(again.out.find("published 40 events"), std::string::npos) << again.out;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "confirms were not awaited but timed out";
  }

  ASSERT_EQ(tail->Wait(30s), 0) << tail->Stderr();
  std::vector<v1::Event> all = EventsIn(tail->Stdout());
  ASSERT_EQ(all.size(), static_cast<std::size_t>(3 * kUsers));
  std::vector<v1::Event> logged_first(all.begin(), all.begin() + kUsers);
  std::vector<v1::Event> from_listen(all.begin() + kUsers, all.begin() + 2 * kUsers);
  std::vector<v1::Event> from_audit(all.begin() + 2 * kUsers, all.end());
  ExpectRepublished(from_listen, original);
  ExpectRepublished(from_audit, original);
  EXPECT_NE(from_listen[0].publisher_id(), from_audit[0].publisher_id());
  EXPECT_EQ(broker_.Metric("signalbus_ingest_accepted_total"), 3 * kUsers);
  EXPECT_EQ(audit.Stop(), 0);
}

TEST_F(RepublishTest, DeadLettersListedByAdminArePublishedAgainWithTheirEventIds) {
  // A pk that is not an integer: the profile-creator's handler fails, and with one
  // attempt allowed the event is dead-lettered at once.
  v1::Event bad = UserCreated("13");
  bad.mutable_model_save()->mutable_instance()->set_pk("thirteen");
  bad.set_ordering_key("auth.User:thirteen");
  RunResult published = Publish(WriteEvents(dir_ + "/bad.ndjson", {bad}));
  ASSERT_EQ(published.exit_code, 0) << published.err;
  Process creator("signalbus-profile-creator", {"--db", dir_ + "/profiles.sqlite3", "--groups", broker_.groups(),
                                                "--start", "earliest", "--max-deliver", "1"});
  ASSERT_TRUE(creator.WaitForStdoutLine("ready", 20s)) << creator.Stderr();
  ASSERT_TRUE(broker_.WaitForMetric("signalbus_group_dead_lettered_total", 1, 30s)) << creator.Stderr();

  RunResult listed =
      RunToCompletion("signalbus-admin", {"--broker", broker_.groups(), "dlq", "list", "profile-creator"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  ASSERT_NE(listed.out.find("\"offset\":"), std::string::npos) << listed.out;
  const std::string dead_letters = dir_ + "/dlq.ndjson";
  std::ofstream(dead_letters) << listed.out;

  RunResult again = Publish(dead_letters);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("published 1 event"), std::string::npos) << again.out;

  auto tail = Listen("tail", 2);
  ASSERT_EQ(tail->Wait(30s), 0) << tail->Stderr();
  std::vector<v1::Event> all = EventsIn(tail->Stdout());
  ASSERT_EQ(all.size(), 2u);
  ExpectRepublished({all[1]}, {all[0]});
  EXPECT_EQ(all[1].event_id(), bad.event_id());
  EXPECT_EQ(creator.Stop(), 0);
}

}  // namespace
}  // namespace signalbus::testing
