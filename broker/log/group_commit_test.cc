// GroupCommitter: policy parsing, and a real appender thread racing the syncer — the
// durable offset only grows and catches up with the last append, under every policy.
#include "signalbus/log/group_commit.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "fault_injection_file_io.h"
#include "log_test_util.h"
#include "signalbus/log/file_store.h"
#include "signalbus/log/memory_store.h"

namespace signalbus::eventlog {
namespace {

using testing::EventFor;
using testing::TempDir;

TEST(SyncPolicyTest, ParsesTheThreePolicies) {
  Result<SyncPolicy> p = ParseSyncPolicy("always");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, SyncPolicy::Kind::kAlways);
  p = ParseSyncPolicy("never");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, SyncPolicy::Kind::kNever);
  p = ParseSyncPolicy("interval:10ms");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, SyncPolicy::Kind::kInterval);
  EXPECT_EQ(p->interval, std::chrono::milliseconds(10));
  p = ParseSyncPolicy("interval:2s");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->interval, std::chrono::milliseconds(2000));
  EXPECT_EQ(FormatSyncPolicy(*ParseSyncPolicy("interval:10ms")), "interval:10ms");
  EXPECT_EQ(FormatSyncPolicy(*ParseSyncPolicy("always")), "always");
}

TEST(SyncPolicyTest, RejectsAnythingElse) {
  for (const char* bad : {"", "Always", "sometimes", "interval", "interval:", "interval:0ms", "interval:-1ms",
                          "interval:10xs", "never:1ms"}) {
    Result<SyncPolicy> p = ParseSyncPolicy(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  }
}

// Records every reported offset; lets the test wait for one without sleeping.
class DurableLog {
 public:
  void Report(std::uint64_t offset) {
    std::lock_guard lock(mu_);
    if (offset <= last_) monotonic_ = false;
    last_ = offset;
    ++reports_;
    cv_.notify_all();
  }
  // True once `offset` was reported, false at the deadline.
  bool WaitFor(std::uint64_t offset, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return last_ >= offset; });
  }
  bool monotonic() const {
    std::lock_guard lock(mu_);
    return monotonic_;
  }
  std::uint64_t reports() const {
    std::lock_guard lock(mu_);
    return reports_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t last_ = 0;
  std::uint64_t reports_ = 0;
  bool monotonic_ = true;
};

class GroupCommitTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<FileStore> OpenStore() {
    FileStore::Options o;
    o.segment_bytes = 1 << 20;  // several rolls during the run
    Result<std::unique_ptr<FileStore>> store = FileStore::Open(dir_.path(), o);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  TempDir dir_;
};

TEST_P(GroupCommitTest, DurableOffsetIsMonotonicAndCatchesUpWithAppends) {
  std::unique_ptr<FileStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  DurableLog log;
  GroupCommitter committer(
      store.get(), *ParseSyncPolicy(GetParam()), [&](std::uint64_t d) { log.Report(d); },
      [](const Status& s) { ADD_FAILURE() << s.ToString(); });
  committer.Start();
  constexpr std::uint64_t kRecords = 50'000;
  const std::string event = EventFor(1);
  // The appender runs on its own thread, as the broker's poll thread would.
  std::thread appender([&] {
    for (std::uint64_t i = 1; i <= kRecords; ++i) {
      Result<std::uint64_t> r = store->Append("auth.User/post_save", event, static_cast<std::int64_t>(i));
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(*r, i);
      if (i % 16 == 0 || i == kRecords) committer.Notify();
    }
  });
  appender.join();
  EXPECT_TRUE(log.WaitFor(kRecords)) << "durable offset stuck at " << committer.durable_offset();
  EXPECT_EQ(committer.durable_offset(), kRecords);
  if (std::string(GetParam()) != "never") {
    EXPECT_EQ(store->durable_offset(), kRecords);
  }
  EXPECT_EQ(store->flushed_offset(), kRecords);
  committer.Stop();
  EXPECT_TRUE(log.monotonic());
  EXPECT_GE(committer.sync_count(), 1u);
  EXPECT_LE(log.reports(), committer.sync_count());
}

TEST_P(GroupCommitTest, StopMakesEverythingDurable) {
  std::unique_ptr<FileStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  DurableLog log;
  GroupCommitter committer(store.get(), *ParseSyncPolicy(GetParam()), [&](std::uint64_t d) { log.Report(d); }, nullptr);
  committer.Start();
  for (std::uint64_t i = 1; i <= 1000; ++i) ASSERT_TRUE(store->Append("a/b", EventFor(i), 0).ok());
  committer.Stop();  // no Notify: Stop alone must commit what is pending
  EXPECT_EQ(committer.durable_offset(), 1000u);
  EXPECT_TRUE(log.monotonic());
}

INSTANTIATE_TEST_SUITE_P(Policies, GroupCommitTest, ::testing::Values("always", "interval:1ms", "never"),
                         [](const auto& info) {
                           std::string name = info.param;
                           return name == "interval:1ms" ? std::string("interval1ms") : name;
                         });

TEST(GroupCommitMemoryStoreTest, WorksWithAnyEventStore) {
  MemoryStore store;
  DurableLog log;
  GroupCommitter committer(&store, *ParseSyncPolicy("always"), [&](std::uint64_t d) { log.Report(d); }, nullptr);
  committer.Start();
  for (std::uint64_t i = 1; i <= 5000; ++i) {
    ASSERT_TRUE(store.Append("a/b", "e", 0).ok());
    committer.Notify();
  }
  EXPECT_TRUE(log.WaitFor(5000));
  committer.Stop();
  EXPECT_TRUE(log.monotonic());
}

TEST(GroupCommitFailureTest, SyncFailureIsReportedOnceAndSyncingStops) {
  TempDir dir;
  testing::FaultInjectionFileIo io;
  FileStore::Options o;
  o.file_io = &io;
  Result<std::unique_ptr<FileStore>> store = FileStore::Open(dir.path(), o);
  ASSERT_TRUE(store.ok());
  std::mutex mu;
  std::condition_variable cv;
  int errors = 0;
  GroupCommitter committer(store->get(), *ParseSyncPolicy("always"), nullptr, [&](const Status& s) {
    EXPECT_EQ(s.code(), StatusCode::kInternal);
    std::lock_guard lock(mu);
    ++errors;
    cv.notify_all();
  });
  io.FailNthSync(1);
  committer.Start();
  ASSERT_TRUE((*store)->Append("a/b", "c", 0).ok());
  committer.Notify();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return errors > 0; }));
  }
  EXPECT_FALSE((*store)->Append("a/b", "d", 0).ok());
  committer.Notify();
  committer.Stop();
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(committer.durable_offset(), 0u);
}

TEST(GroupCommitTimingTest, IntervalPolicyBoundsTheSyncRate) {
  TempDir dir;
  Result<std::unique_ptr<FileStore>> store = FileStore::Open(dir.path(), FileStore::Options{});
  ASSERT_TRUE(store.ok());
  GroupCommitter committer(store->get(), *ParseSyncPolicy("interval:20ms"), nullptr, nullptr);
  const auto start = std::chrono::steady_clock::now();
  committer.Start();
  std::uint64_t i = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300)) {
    ASSERT_TRUE((*store)->Append("a/b", "c", 0).ok());
    committer.Notify();
    if (++i % 64 == 0) std::this_thread::yield();
  }
  committer.Stop();
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  // One sync per tick at most, plus the final one in Stop.
  EXPECT_LE(committer.sync_count(), static_cast<std::uint64_t>(elapsed_ms / 20 + 2));
  EXPECT_EQ(committer.durable_offset(), i);
}

TEST(GroupCommitTimingTest, AlwaysWaitsOutTheGapBetweenTwoSyncsAndLosesNothing) {
  MemoryStore store;  // a sync costs nothing: back to back, thousands would run
  SyncPolicy policy = *ParseSyncPolicy("always");
  policy.min_gap = std::chrono::milliseconds(20);
  GroupCommitter committer(&store, policy, nullptr, nullptr);
  const auto start = std::chrono::steady_clock::now();
  committer.Start();
  std::uint64_t i = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300)) {
    ASSERT_TRUE(store.Append("a/b", "c", 0).ok());
    committer.Notify();
    if (++i % 64 == 0) std::this_thread::yield();
  }
  committer.Stop();
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  // The first sync at once, then one per gap at most, plus the final one in Stop.
  EXPECT_LE(committer.sync_count(), static_cast<std::uint64_t>(elapsed_ms / 20 + 2));
  EXPECT_EQ(committer.durable_offset(), i);
}

TEST(SyncPolicyTest, AlwaysKeepsTheDefaultGapAndTheOthersHaveNone) {
  EXPECT_EQ(ParseSyncPolicy("always")->min_gap, kDefaultSyncGap);
  EXPECT_EQ(ParseSyncPolicy("never")->min_gap.count(), 0);
  EXPECT_EQ(ParseSyncPolicy("interval:10ms")->min_gap.count(), 0);
}

}  // namespace
}  // namespace signalbus::eventlog
