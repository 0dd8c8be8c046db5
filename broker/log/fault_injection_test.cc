// FileStore under injected I/O faults: failures surface as Status values, never as a
// crash or a silently lost record, and a simulated power cut keeps exactly what was
// synced (the durable offset reported before the cut is a lower bound of what is left).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "fault_injection_file_io.h"
#include "log_test_util.h"
#include "signalbus/log/file_store.h"
#include "signalbus/log/group_commit.h"

namespace signalbus::eventlog {
namespace {

using testing::EventFor;
using testing::FaultInjectionFileIo;
using testing::TempDir;
using testing::TopicFor;

std::int64_t Ts(std::uint64_t i) { return static_cast<std::int64_t>(i); }

class FaultInjectionTest : public ::testing::Test {
 protected:
  FileStore::Options Options(std::uint64_t segment_bytes = kDefaultSegmentBytes) {
    FileStore::Options o;
    o.segment_bytes = segment_bytes;
    o.write_buffer_bytes = 4096;
    o.index_interval_bytes = 1024;
    o.file_io = &io_;
    return o;
  }

  std::unique_ptr<FileStore> MustOpen(FileStore::Options o) {
    Result<std::unique_ptr<FileStore>> store = FileStore::Open(dir_.path(), o);
    if (!store.ok()) ADD_FAILURE() << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Every record in the store is the original one, and offsets are exactly 1..n.
  static std::uint64_t CheckContents(FileStore& store) {
    Result<std::vector<Record>> all = store.Read(0, 10'000'000, SIZE_MAX);
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    if (!all.ok()) return 0;
    for (std::size_t k = 0; k < all->size(); ++k) {
      const Record& r = (*all)[k];
      EXPECT_EQ(r.offset, k + 1);
      EXPECT_EQ(r.event, EventFor(r.offset)) << "wrong bytes at offset " << r.offset;
      if (r.offset != k + 1 || r.event != EventFor(r.offset)) break;
    }
    EXPECT_EQ(store.next_offset(), all->size() + 1);
    return all->size();
  }

  TempDir dir_;
  FaultInjectionFileIo io_;
};

TEST_F(FaultInjectionTest, FailedWriteSurfacesAsStatusAndNothingSyncedIsLost) {
  std::unique_ptr<FileStore> store = MustOpen(Options());
  ASSERT_NE(store, nullptr);
  for (std::uint64_t i = 1; i <= 50; ++i) ASSERT_TRUE(store->Append(TopicFor(i), EventFor(i), Ts(i)).ok());
  ASSERT_EQ(*store->Sync(), 50u);

  io_.FailNthWrite(1, /*partial_bytes=*/100);  // a short write, then ENOSPC
  Status failed;
  std::uint64_t i = 51;
  for (; i <= 1000 && failed.ok(); ++i) {
    Result<std::uint64_t> r = store->Append(TopicFor(i), EventFor(i), Ts(i));
    failed = r.status();  // the buffer fills and the write fails within a few appends
  }
  ASSERT_FALSE(failed.ok()) << "no write was attempted";
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  // From now on the store refuses writes, and says why.
  EXPECT_EQ(store->Append("a/b", "c", 0).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(store->Flush().ok());
  EXPECT_FALSE(store->Sync().ok());
  EXPECT_EQ(store->durable_offset(), 50u);
  // Reads of what was written still work.
  Result<std::vector<Record>> r = store->Read(1, 50, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 50u);

  store.reset();
  store = MustOpen(Options());  // cuts the partial write
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery().torn_bytes, 100u);
  EXPECT_GE(CheckContents(*store), 50u);
}

TEST_F(FaultInjectionTest, FailedSyncSurfacesAsStatusAndDurableOffsetStays) {
  std::unique_ptr<FileStore> store = MustOpen(Options());
  ASSERT_NE(store, nullptr);
  for (std::uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(store->Append(TopicFor(i), EventFor(i), Ts(i)).ok());
  ASSERT_EQ(*store->Sync(), 10u);
  for (std::uint64_t i = 11; i <= 20; ++i) ASSERT_TRUE(store->Append(TopicFor(i), EventFor(i), Ts(i)).ok());
  io_.FailNthSync(1);
  Result<std::uint64_t> synced = store->Sync();
  ASSERT_FALSE(synced.ok());
  EXPECT_EQ(synced.status().code(), StatusCode::kInternal);
  EXPECT_EQ(store->durable_offset(), 10u);
  // A failed fdatasync may have dropped dirty pages: retrying could falsely succeed,
  // so the store stays failed.
  EXPECT_FALSE(store->Sync().ok());
  EXPECT_FALSE(store->Append("a/b", "c", 0).ok());

  store.reset();
  ASSERT_TRUE(io_.DropUnsyncedData().ok());
  store = MustOpen(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(CheckContents(*store), 10u);
}

TEST_F(FaultInjectionTest, FailedSyncWhileRollingSurfacesAsStatus) {
  std::unique_ptr<FileStore> store = MustOpen(Options(4096));
  ASSERT_NE(store, nullptr);
  io_.FailNthSync(1);  // the first fdatasync is the roll's
  Status failed;
  for (std::uint64_t i = 1; i <= 100 && failed.ok(); ++i) failed = store->Append(TopicFor(i), EventFor(i), Ts(i)).status();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(store->durable_offset(), 0u);
  EXPECT_EQ(store->segment_count(), 1u);
}

TEST_F(FaultInjectionTest, CrashKeepsExactlyTheSyncedRecords) {
  std::mt19937_64 rng(1234);
  std::uint64_t next = 1;
  for (int round = 0; round < 25; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::unique_ptr<FileStore> store = MustOpen(Options(8192));  // rolls often
    ASSERT_NE(store, nullptr);
    ASSERT_EQ(CheckContents(*store), next - 1);
    std::uint64_t durable = store->durable_offset();
    const int steps = 1 + static_cast<int>(rng() % 6);
    for (int step = 0; step < steps; ++step) {
      const std::uint64_t n = rng() % 60;
      for (std::uint64_t k = 0; k < n; ++k, ++next) {
        ASSERT_EQ(*store->Append(TopicFor(next), EventFor(next), Ts(next)), next);
      }
      switch (rng() % 3) {
        case 0: durable = *store->Sync(); break;
        case 1: ASSERT_TRUE(store->Flush().ok()); break;
        default: break;
      }
    }
    durable = std::max(durable, store->durable_offset());  // a roll syncs too
    store.reset();  // the crash: flushed data reaches the "OS" ...
    ASSERT_TRUE(io_.DropUnsyncedData().ok());  // ... and the power cut drops it
    store = MustOpen(Options(8192));
    ASSERT_NE(store, nullptr);
    const std::uint64_t survived = CheckContents(*store);
    EXPECT_EQ(survived, durable);
    next = survived + 1;
  }
}

TEST_F(FaultInjectionTest, CrashDuringGroupCommitKeepsEveryReportedOffset) {
  for (const char* policy : {"always", "interval:1ms"}) {
    SCOPED_TRACE(policy);
    TempDir dir;
    FileStore::Options o = Options(64 << 10);
    Result<std::unique_ptr<FileStore>> opened = FileStore::Open(dir.path(), o);
    ASSERT_TRUE(opened.ok());
    std::unique_ptr<FileStore> store = std::move(*opened);
    std::atomic<std::uint64_t> reported{0};
    std::atomic<bool> errored{false};
    GroupCommitter committer(
        store.get(), *ParseSyncPolicy(policy), [&](std::uint64_t d) { reported.store(d); },
        [&](const Status&) { errored.store(true); });
    committer.Start();
    // Crash once a good part of the log is durable, in the middle of the traffic.
    std::uint64_t appended = 0;
    for (std::uint64_t i = 1; i <= 200'000; ++i) {
      Result<std::uint64_t> r = store->Append(TopicFor(i), EventFor(i, 40), Ts(i));
      if (!r.ok()) break;
      appended = i;
      committer.Notify();
      if (i == 3000) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (reported.load() < 1000 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
        io_.Crash();
      }
    }
    committer.Stop();
    const std::uint64_t last_reported = committer.durable_offset();
    EXPECT_GE(last_reported, 1000u);
    EXPECT_LE(last_reported, appended);
    store.reset();
    ASSERT_TRUE(io_.DropUnsyncedData().ok());
    opened = FileStore::Open(dir.path(), o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Result<std::vector<Record>> all = (*opened)->Read(0, 10'000'000, SIZE_MAX);
    ASSERT_TRUE(all.ok());
    EXPECT_GE(all->size(), last_reported) << "a reported durable offset was lost";
    for (std::size_t k = 0; k < all->size(); ++k) {
      ASSERT_EQ((*all)[k].offset, k + 1);
      ASSERT_EQ((*all)[k].event, EventFor(k + 1, 40));
    }
  }
}

}  // namespace
}  // namespace signalbus::eventlog
