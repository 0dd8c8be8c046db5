// AuditLog: one NDJSON line per event, written only by Sync(), a torn last line fenced
// off on reopening, and errors that name the file.
#include "audit/audit_log.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "sample_events.h"
#include "signalbus/core/event_json.h"

namespace signalbus::audit {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(AuditLogTest, AppendsOneLinePerEventOnlyWhenSynced) {
  std::string path = testing::MakeTempDir("sb-audit") + "/sub/dir/audit.ndjson";
  Result<AuditLog> log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  v1::Event first = testing::UserCreated("1");
  v1::Event second = testing::UserCreated("2");
  ASSERT_TRUE(log->Append(first).ok());
  ASSERT_TRUE(log->Append(second).ok());
  EXPECT_EQ(log->pending_lines(), 2u);
  EXPECT_EQ(ReadFile(path), "");  // nothing before the sync that precedes the ack
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->pending_lines(), 0u);
  EXPECT_EQ(Lines(ReadFile(path)), (std::vector<std::string>{*EventToJson(first), *EventToJson(second)}));
  ASSERT_TRUE(log->Sync().ok());  // an empty batch changes nothing
  EXPECT_EQ(Lines(ReadFile(path)).size(), 2u);
}

TEST(AuditLogTest, ReopeningAppendsAndFencesOffATornLastLine) {
  std::string path = testing::MakeTempDir("sb-audit") + "/audit.ndjson";
  {
    std::ofstream out(path);
    out << "{\"event_id\":\"torn";  // a writer died mid-line
  }
  Result<AuditLog> log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  v1::Event event = testing::UserCreated("3");
  ASSERT_TRUE(log->Append(event).ok());
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(Lines(ReadFile(path)), (std::vector<std::string>{"{\"event_id\":\"torn", *EventToJson(event)}));
}

TEST(AuditLogTest, UnopenablePathIsAStatusNamingIt) {
  std::string dir = testing::MakeTempDir("sb-audit");
  Result<AuditLog> log = AuditLog::Open(dir);  // a directory
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find(dir), std::string::npos) << log.status().message();
  EXPECT_FALSE(AuditLog::Open("").ok());
}

}  // namespace
}  // namespace signalbus::audit
