// The real broker opening a damaged log: a torn tail (the file cut at every byte of its
// last two records, or random bytes appended) is cut off and every whole record kept,
// and nothing but those records is ever delivered; a flipped bit in a sealed segment is
// reported and the broker refuses to start, and with --skip-corrupt it starts and never
// delivers the damaged record; a record damaged while the broker runs stalls the group
// that reaches it, visibly, until an operator seeks past it. Format: docs/log-format.md.
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "log_files.h"
#include "ndjson_events.h"
#include "process.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kHeaderBytes = 28;

class LogRecoveryTest : public ::testing::Test {
 protected:
  // Publishes `count` users through a broker with --fsync always and stops it cleanly:
  // every record is on disk. Returns their event ids in log order.
  std::vector<std::string> WriteLog(int count, std::vector<std::string> broker_args = {}) {
    broker_args.insert(broker_args.end(), {"--data-dir", data_dir_, "--fsync", "always"});
    BrokerProcess broker(broker_args);
    EXPECT_TRUE(broker.ready());
    std::string users = WriteUsersCreated(dir_ + "/users-" + std::to_string(files_++) + ".ndjson", 1, count);
    RunResult published = RunToCompletion("signalbus-publish", {"--broker", broker.ingest(), "--ndjson", users});
    EXPECT_EQ(published.exit_code, 0) << published.err;
    EXPECT_EQ(broker.process().Stop(), 0);
    return EventIdsInFile(users);
  }

  // Starts a broker on the log, joins a new group from the earliest offset, publishes
  // one more user, and returns the ids the group received once that one arrived.
  std::vector<std::string> DeliveredFromEarliest(std::vector<std::string> broker_args = {}) {
    broker_args.insert(broker_args.end(), {"--data-dir", data_dir_});
    BrokerProcess broker(broker_args);
    EXPECT_TRUE(broker.ready()) << broker.process().Stderr();
    if (!broker.ready()) return {};
    std::string audit_file = dir_ + "/audit-" + std::to_string(files_) + ".ndjson";
    Process audit("signalbus-audit", {"--file", audit_file, "--groups", broker.groups(), "--group",
                                      "check-" + std::to_string(files_), "--start", "earliest"});
    EXPECT_TRUE(audit.WaitForStdoutLine("ready", 20s)) << audit.Stderr();
    std::string one_more = WriteUsersCreated(dir_ + "/users-" + std::to_string(files_++) + ".ndjson", 1000, 1);
    RunResult published = RunToCompletion("signalbus-publish", {"--broker", broker.ingest(), "--ndjson", one_more});
    EXPECT_EQ(published.exit_code, 0) << published.err;
    std::string last = EventIdsInFile(one_more).at(0);
    EXPECT_TRUE(Eventually(
        [&] {
          auto ids = EventIdsInFile(audit_file);
          return !ids.empty() && ids.back() == last;
        },
        30s));
    EXPECT_EQ(audit.Stop(), 0);
    auto ids = EventIdsInFile(audit_file);
    if (!ids.empty()) ids.pop_back();  // the one just published
    return ids;
  }

  std::string dir_ = MakeTempDir("sb-recovery");
  std::string data_dir_ = dir_ + "/log";
  int files_ = 0;
};

// Starts a broker on the log, returns its durable offset after recovery, stops it.
double RecoveredOffset(const std::string& data_dir, const std::string& context) {
  BrokerProcess broker({"--data-dir", data_dir});
  EXPECT_TRUE(broker.ready()) << context << "\n" << broker.process().Stderr();
  if (!broker.ready()) return -1;
  double durable = broker.Metric("signalbus_log_durable_offset");
  EXPECT_EQ(broker.process().Stop(), 0) << context;
  return durable;
}

TEST_F(LogRecoveryTest, CutAtEveryByteOfTheLastTwoRecordsKeepsEveryWholeRecordBeforeTheCut) {
  constexpr int kRecords = 6;
  std::vector<std::string> ids = WriteLog(kRecords);
  auto segments = SegmentFiles(data_dir_);
  ASSERT_EQ(segments.size(), 1u);
  const std::string segment = segments[0];
  std::vector<std::size_t> bounds = RecordBounds(segment);
  ASSERT_EQ(bounds.size(), kRecords + 1u);
  const std::string intact = ReadFileBytes(segment);

  for (std::size_t cut = bounds[kRecords - 2]; cut < bounds[kRecords]; ++cut) {
    const std::size_t kept = cut >= bounds[kRecords - 1] ? kRecords - 1 : kRecords - 2;
    WriteFileBytes(segment, intact.substr(0, cut));
    std::string context = "cut at byte " + std::to_string(cut);
    ASSERT_EQ(RecoveredOffset(data_dir_, context), static_cast<double>(kept)) << context;
    ASSERT_EQ(std::filesystem::file_size(segment), bounds[kept]) << context << ": the torn bytes stay";
  }

  // What is delivered after a cut inside the header of the last record, and one inside
  // the body of the one before: the whole records before the cut, then new events.
  for (std::size_t cut : {bounds[kRecords - 1] + kHeaderBytes / 2, bounds[kRecords - 2] + kHeaderBytes + 7}) {
    const std::size_t kept = cut >= bounds[kRecords - 1] ? kRecords - 1 : kRecords - 2;
    WriteFileBytes(segment, intact.substr(0, cut));
    EXPECT_EQ(DeliveredFromEarliest(), std::vector<std::string>(ids.begin(), ids.begin() + kept))
        << "cut at byte " << cut;
    WriteFileBytes(segment, intact);
  }
}

TEST_F(LogRecoveryTest, RandomBytesAfterTheLastRecordAreCutOffAndNeverDelivered) {
  constexpr int kRecords = 5;
  std::vector<std::string> ids = WriteLog(kRecords);
  const std::string segment = SegmentFiles(data_dir_).at(0);
  const std::string intact = ReadFileBytes(segment);
  std::mt19937 random(20261125);
  for (std::size_t garbage : {1, 7, 27, 28, 29, 100, 333, 4096}) {
    std::string bytes = intact;
    for (std::size_t i = 0; i < garbage; ++i) bytes.push_back(static_cast<char>(random() & 0xff));
    WriteFileBytes(segment, bytes);
    std::string context = std::to_string(garbage) + " random bytes appended";
    ASSERT_EQ(RecoveredOffset(data_dir_, context), kRecords) << context;
    ASSERT_EQ(std::filesystem::file_size(segment), intact.size()) << context;
  }
  std::string bytes = intact;
  for (int i = 0; i < 500; ++i) bytes.push_back(static_cast<char>(random() & 0xff));
  WriteFileBytes(segment, bytes);
  EXPECT_EQ(DeliveredFromEarliest(), ids);
}

TEST_F(LogRecoveryTest, AFlippedBitInASealedSegmentIsReportedAndItsRecordNeverDelivered) {
  // Small segments, so the first one is sealed with others after it.
  std::vector<std::string> ids = WriteLog(40, {"--segment-bytes", "4096"});
  auto segments = SegmentFiles(data_dir_);
  ASSERT_GE(segments.size(), 3u);
  const std::string sealed = segments[0];
  std::vector<std::size_t> bounds = RecordBounds(sealed);
  ASSERT_GE(bounds.size(), 5u);
  std::string bytes = ReadFileBytes(sealed);
  const std::size_t flipped_at = bounds[2] + kHeaderBytes + 40;  // inside record 3's event
  bytes[flipped_at] = static_cast<char>(bytes[flipped_at] ^ 0x10);
  WriteFileBytes(sealed, bytes);
  const std::string segment_name = std::filesystem::path(sealed).filename().string();

  // Refused, naming the segment, and nothing changed on disk.
  RunResult refused = RunToCompletion("signalbus-broker",
                                      {"--ingest", "tcp://127.0.0.1:*", "--live", "tcp://127.0.0.1:*", "--groups",
                                       "tcp://127.0.0.1:*", "--metrics", "off", "--data-dir", data_dir_});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find(segment_name), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--skip-corrupt"), std::string::npos) << refused.err;
  EXPECT_EQ(ReadFileBytes(sealed), bytes);

  // Told to skip it: it starts, and a group reading everything never sees record 3.
  std::vector<std::string> expected = ids;
  expected.erase(expected.begin() + 2);
  EXPECT_EQ(DeliveredFromEarliest({"--skip-corrupt"}), expected);
}

TEST_F(LogRecoveryTest, ARecordDamagedWhileTheBrokerRunsStallsItsGroupVisiblyUntilSeekedPast) {
  BrokerProcess broker({"--data-dir", data_dir_, "--fsync", "always"});
  ASSERT_TRUE(broker.ready()) << broker.process().Stderr();
  std::string users = WriteUsersCreated(dir_ + "/users.ndjson", 1, 10);
  RunResult published = RunToCompletion("signalbus-publish", {"--broker", broker.ingest(), "--ndjson", users});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  const std::vector<std::string> ids = EventIdsInFile(users);
  auto segments = SegmentFiles(data_dir_);
  ASSERT_EQ(segments.size(), 1u);
  std::vector<std::size_t> bounds = RecordBounds(segments[0]);
  ASSERT_EQ(bounds.size(), 11u);
  FlipBitsInPlace(segments[0], bounds[4] + kHeaderBytes + 40, 0x10);  // inside record 5's event

  // A new group reads from the start: records 1-4, then it cannot go on, and says so.
  std::string audit_file = dir_ + "/audit.ndjson";
  Process audit("signalbus-audit",
                {"--file", audit_file, "--groups", broker.groups(), "--group", "check", "--start", "earliest"});
  ASSERT_TRUE(audit.WaitForStdoutLine("ready", 20s)) << audit.Stderr();
  const std::string stalled = "signalbus_group_stalled{group=\"check\"}";
  ASSERT_TRUE(Eventually([&] { return broker.Metric(stalled) == 1; }, 30s)) << broker.Metric(stalled);
  ASSERT_TRUE(Eventually([&] { return EventIdsInFile(audit_file).size() == 4; }, 30s));
  EXPECT_EQ(EventIdsInFile(audit_file), std::vector<std::string>(ids.begin(), ids.begin() + 4));
  RunResult listed = RunToCompletion("signalbus-admin", {"--broker", broker.groups(), "groups"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("group check is stalled: cannot read the log at offset 5: data_loss"), std::string::npos)
      << listed.out;

  // The operator moves it past the damaged record: the rest arrives, record 5 never.
  RunResult seek = RunToCompletion("signalbus-admin", {"--broker", broker.groups(), "seek", "check", "--offset", "6"});
  ASSERT_EQ(seek.exit_code, 0) << seek.err;
  std::vector<std::string> expected = ids;
  expected.erase(expected.begin() + 4);
  ASSERT_TRUE(Eventually([&] { return EventIdsInFile(audit_file).size() == 9; }, 30s));
  EXPECT_EQ(EventIdsInFile(audit_file), expected);
  EXPECT_TRUE(Eventually([&] { return broker.Metric(stalled) == 0; }, 30s)) << broker.Metric(stalled);
  EXPECT_EQ(audit.Stop(), 0);
}

}  // namespace
}  // namespace signalbus::testing
