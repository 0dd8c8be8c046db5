// StateWriter: the newest waiting version of a file wins and none is written after a
// newer one, failures come back as outcomes, and the destructor writes what waits.
#include "state_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fault_injection_file_io.h"
#include "gated_file_io.h"
#include "test_harness.h"

namespace signalbus::groups::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Seen {
  std::string name;
  std::uint64_t version;
  bool ok;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> Outcomes(StateWriter& writer) {
  std::vector<Seen> out;
  for (const StateWriter::Outcome& o : writer.TakeOutcomes()) out.push_back(Seen{o.name, o.version, o.status.ok()});
  return out;
}

TEST(StateWriterTest, NewestWaitingVersionReplacesOlderOnesAndKeepsItsPlace) {
  TempDir dir;
  GatedFileIo io;
  StateWriter writer(&io, dir.path());
  io.Shut();
  writer.Submit("a.state", 1, "a1");
  io.WaitUntilHeld();  // a1 is being written
  writer.Submit("b.state", 1, "b1");
  writer.Submit("a.state", 2, "a2");
  writer.Submit("b.state", 2, "b2");
  writer.Submit("a.state", 3, "a3");  // replaces a2, behind b (queued before a2 was)
  EXPECT_FALSE(writer.idle());
  io.Open();
  writer.WaitIdle();
  EXPECT_EQ(Outcomes(writer),
            (std::vector<Seen>{{"a.state", 1, true}, {"b.state", 2, true}, {"a.state", 3, true}}));
  EXPECT_EQ(ReadFile(dir.path() + "/a.state"), "a3");
  EXPECT_EQ(ReadFile(dir.path() + "/b.state"), "b2");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/a.state.tmp"));
  EXPECT_TRUE(writer.idle());
}

TEST(StateWriterDeathTest, AnOlderVersionHandedOverAfterANewerOneAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  EXPECT_DEATH(
      {
        StateWriter writer(eventlog::DefaultFileIo(), dir.path());
        writer.Submit("a.state", 2, "a2");
        writer.Submit("a.state", 2, "again");
      },
      "");  // the reason is logged, on stdout
}

TEST(StateWriterTest, FailedWriteIsReportedAndTheOldFileStands) {
  TempDir dir;
  eventlog::testing::FaultInjectionFileIo io;
  StateWriter writer(&io, dir.path());
  writer.Submit("a.state", 1, "a1");
  writer.WaitIdle();
  io.FailNthSync(1);
  writer.Submit("a.state", 2, "a2");
  writer.WaitIdle();
  std::vector<StateWriter::Outcome> outcomes = writer.TakeOutcomes();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_TRUE(outcomes[0].status.ok());
  EXPECT_EQ(outcomes[1].version, 2u);
  EXPECT_FALSE(outcomes[1].status.ok());
  EXPECT_EQ(ReadFile(dir.path() + "/a.state"), "a1");
  writer.Submit("a.state", 3, "a3");  // the retry: a newer snapshot
  writer.WaitIdle();
  EXPECT_EQ(Outcomes(writer), (std::vector<Seen>{{"a.state", 3, true}}));
  EXPECT_EQ(ReadFile(dir.path() + "/a.state"), "a3");
}

TEST(StateWriterTest, DestructorWritesEverythingStillWaiting) {
  TempDir dir;
  GatedFileIo io;
  {
    StateWriter writer(&io, dir.path());
    io.Shut();
    writer.Submit("a.state", 1, "a1");
    io.WaitUntilHeld();
    writer.Submit("b.state", 1, "b1");
    writer.Submit("a.state", 2, "a2");
    io.Open();
  }
  EXPECT_EQ(ReadFile(dir.path() + "/a.state"), "a2");
  EXPECT_EQ(ReadFile(dir.path() + "/b.state"), "b1");
}

}  // namespace
}  // namespace signalbus::groups::testing
