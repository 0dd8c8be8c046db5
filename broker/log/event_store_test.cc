// One suite, run against MemoryStore and FileStore: what the broker may rely on from
// any EventStore. Reopen tests run on the FileStore alone: only it has something to reopen.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "log_record.h"
#include "log_test_util.h"
#include "signalbus/log/file_store.h"
#include "signalbus/log/memory_store.h"

namespace signalbus::eventlog {
namespace {

using testing::EventFor;
using testing::TempDir;
using testing::TopicFor;

struct StoreConfig {
  std::uint64_t segment_bytes = kDefaultSegmentBytes;
  RetentionPolicy retention;
};

class MemoryHarness {
 public:
    std::unique_ptr<EventStore> Open(const StoreConfig& c) {
    return std::make_unique<MemoryStore>(MemoryStore::Options{c.segment_bytes, c.retention});
  }
};

class FileHarness {
 public:
    std::unique_ptr<EventStore> Open(const StoreConfig& c) {
    FileStore::Options options;
    options.segment_bytes = c.segment_bytes;
    options.retention = c.retention;
    options.index_interval_bytes = 1024;  // many entries, so lookups are exercised
    Result<std::unique_ptr<FileStore>> store = FileStore::Open(dir_.path(), options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    return std::move(*store);
  }

 private:
  TempDir dir_;
};

template <typename Harness>
class EventStoreTest : public ::testing::Test {
 protected:
  EventStore& Open(StoreConfig config = {}) {
    config_ = config;
    store_.reset();  // one open store per directory at a time
    store_ = harness_.Open(config);
    if (store_ == nullptr) throw std::runtime_error("open failed");
    return *store_;
  }
  EventStore& Reopen() { return Open(config_); }

  // Appends records i in [first, last], timestamp 1000 + 10 * i, and checks offsets.
  void AppendRange(std::uint64_t first, std::uint64_t last) {
    for (std::uint64_t i = first; i <= last; ++i) {
      Result<std::uint64_t> offset = store_->Append(TopicFor(i), EventFor(i), Ts(i));
      ASSERT_TRUE(offset.ok()) << offset.status().ToString();
      ASSERT_EQ(*offset, i);
    }
  }
  static std::int64_t Ts(std::uint64_t i) { return 1000 + 10 * static_cast<std::int64_t>(i); }

  std::vector<Record> ReadAll(std::uint64_t from = 0) {
    Result<std::vector<Record>> records = store_->Read(from, 1'000'000, SIZE_MAX);
    EXPECT_TRUE(records.ok()) << records.status().ToString();
    return records.ok() ? *records : std::vector<Record>{};
  }

  static void ExpectRecordsAre(const std::vector<Record>& records, std::uint64_t first, std::uint64_t last) {
    ASSERT_EQ(records.size(), last >= first ? last - first + 1 : 0);
    for (std::uint64_t i = first; i <= last; ++i) {
      const Record& r = records[i - first];
      ASSERT_EQ(r.offset, i);
      ASSERT_EQ(r.timestamp_ms, Ts(i));
      ASSERT_EQ(r.topic, TopicFor(i));
      ASSERT_EQ(r.event, EventFor(i));
    }
  }

  // Size of record i in a segment: what segment_bytes and retention count.
  static std::uint64_t SizeOf(std::uint64_t i) { return RecordSize(TopicFor(i).size(), EventFor(i).size()); }

  Harness harness_;
  StoreConfig config_;
  std::unique_ptr<EventStore> store_;
};

using Harnesses = ::testing::Types<MemoryHarness, FileHarness>;
class HarnessNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryHarness> ? "MemoryStore" : "FileStore";
  }
};
TYPED_TEST_SUITE(EventStoreTest, Harnesses, HarnessNames);

TYPED_TEST(EventStoreTest, EmptyStoreStartsAtOffsetOne) {
  EventStore& store = this->Open();
  EXPECT_EQ(store.first_offset(), 1u);
  EXPECT_EQ(store.next_offset(), 1u);
  EXPECT_EQ(store.durable_offset(), 0u);
  EXPECT_TRUE(this->ReadAll().empty());
  Result<std::uint64_t> at = store.OffsetForTime(0);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(*at, 1u);
}

TYPED_TEST(EventStoreTest, AppendedRecordsReadBackIdentical) {
  EventStore& store = this->Open();
  this->AppendRange(1, 300);
  EXPECT_EQ(store.next_offset(), 301u);
  EXPECT_EQ(store.first_offset(), 1u);
  this->ExpectRecordsAre(this->ReadAll(), 1, 300);
  this->ExpectRecordsAre(this->ReadAll(123), 123, 300);
}

TYPED_TEST(EventStoreTest, EmptyTopicAndEventRoundTrip) {
  EventStore& store = this->Open();
  ASSERT_EQ(*store.Append("", "", -5), 1u);
  ASSERT_EQ(*store.Append("t/x", "", 0), 2u);
  std::vector<Record> all = this->ReadAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], (Record{1, -5, "", ""}));
  EXPECT_EQ(all[1], (Record{2, 0, "t/x", ""}));
}

TYPED_TEST(EventStoreTest, OffsetsAreDenseAndMonotonicAcrossSegments) {
  EventStore& store = this->Open({.segment_bytes = 4096});
  for (std::uint64_t i = 1; i <= 500; ++i) {
    ASSERT_EQ(store.next_offset(), i);
    ASSERT_EQ(*store.Append(TopicFor(i), EventFor(i), this->Ts(i)), i);
  }
  std::vector<Record> all = this->ReadAll();
  ASSERT_EQ(all.size(), 500u);
  for (std::size_t k = 0; k < all.size(); ++k) ASSERT_EQ(all[k].offset, k + 1);
}

TYPED_TEST(EventStoreTest, ReadHonoursRecordAndByteLimits) {
  EventStore& store = this->Open({.segment_bytes = 8192});
  this->AppendRange(1, 200);
  Result<std::vector<Record>> r = store.Read(10, 7, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  this->ExpectRecordsAre(*r, 10, 16);

  // Byte limit: as many whole records as fit.
  const std::size_t three = (TopicFor(50) + EventFor(50) + TopicFor(51) + EventFor(51) + TopicFor(52) + EventFor(52)).size();
  r = store.Read(50, 100, three);
  ASSERT_TRUE(r.ok());
  this->ExpectRecordsAre(*r, 50, 52);
  r = store.Read(50, 100, three - 1);
  ASSERT_TRUE(r.ok());
  this->ExpectRecordsAre(*r, 50, 51);

  // The first record comes back even if it alone is over the limit.
  r = store.Read(60, 100, 1);
  ASSERT_TRUE(r.ok());
  this->ExpectRecordsAre(*r, 60, 60);

  r = store.Read(60, 0, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = store.Read(201, 10, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = store.Read(0, 2, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  this->ExpectRecordsAre(*r, 1, 2);
}

TYPED_TEST(EventStoreTest, EveryStartOffsetReadsTheRightRecord) {
  EventStore& store = this->Open({.segment_bytes = 6000});
  this->AppendRange(1, 150);
  for (std::uint64_t from = 1; from <= 150; ++from) {
    Result<std::vector<Record>> r = store.Read(from, 2, SIZE_MAX);
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->empty());
    ASSERT_EQ(r->front().offset, from);
    ASSERT_EQ(r->front().event, EventFor(from));
  }
}

TYPED_TEST(EventStoreTest, FlushAndSyncAdvanceTheirOffsets) {
  EventStore& store = this->Open();
  this->AppendRange(1, 10);
  ASSERT_TRUE(store.Flush().ok());
  EXPECT_EQ(store.flushed_offset(), 10u);
  EXPECT_EQ(store.durable_offset(), 0u);
  Result<std::uint64_t> durable = store.Sync();
  ASSERT_TRUE(durable.ok());
  EXPECT_EQ(*durable, 10u);
  EXPECT_EQ(store.durable_offset(), 10u);
  this->AppendRange(11, 12);
  EXPECT_EQ(*store.Sync(), 12u);
  EXPECT_EQ(*store.Sync(), 12u);
}

TYPED_TEST(EventStoreTest, OffsetForTimeFindsFirstRecordAtOrAfter) {
  EventStore& store = this->Open({.segment_bytes = 5000});
  this->AppendRange(1, 300);  // timestamps 1010, 1020, ..., 4000
  EXPECT_EQ(*store.OffsetForTime(0), 1u);
  EXPECT_EQ(*store.OffsetForTime(1010), 1u);
  EXPECT_EQ(*store.OffsetForTime(1011), 2u);
  for (std::uint64_t i = 1; i <= 300; ++i) {
    ASSERT_EQ(*store.OffsetForTime(this->Ts(i)), i);
    ASSERT_EQ(*store.OffsetForTime(this->Ts(i) - 5), i);
  }
  EXPECT_EQ(*store.OffsetForTime(4001), 301u);  // none: where the next record will be
}

TYPED_TEST(EventStoreTest, OffsetForTimeWithClockGoingBackwards) {
  EventStore& store = this->Open({.segment_bytes = 2000});
  // 1..50 at 100.., then a clock step back: 51..100 at 50..
  for (std::uint64_t i = 1; i <= 50; ++i) ASSERT_TRUE(store.Append("a/b", EventFor(i), 100 + static_cast<int>(i)).ok());
  for (std::uint64_t i = 51; i <= 100; ++i) ASSERT_TRUE(store.Append("a/b", EventFor(i), static_cast<int>(i) - 1).ok());
  EXPECT_EQ(*store.OffsetForTime(60), 1u);    // record 1 (101) is the first at or after 60
  EXPECT_EQ(*store.OffsetForTime(140), 40u);  // record 40 has 140
  EXPECT_EQ(*store.OffsetForTime(151), 101u);  // none: next_offset()
}

TYPED_TEST(EventStoreTest, RetentionBySizeDeletesWholeOldSegmentsOnly) {
  const std::uint64_t segment_bytes = 4096;
  EventStore& store = this->Open({.segment_bytes = segment_bytes, .retention = {.max_bytes = 3 * 4096}});
  this->AppendRange(1, 400);
  ASSERT_TRUE(store.ApplyRetention(0).ok());
  const std::uint64_t first = store.first_offset();
  EXPECT_GT(first, 1u);
  // Whole segments: what is left is a suffix that starts at a segment boundary and
  // holds at most max_bytes, and one more segment would have fitted under the limit
  // only if it were not there.
  std::uint64_t kept = 0;
  for (std::uint64_t i = first; i <= 400; ++i) kept += this->SizeOf(i);
  EXPECT_LE(kept, 3 * segment_bytes);
  EXPECT_GT(kept + this->SizeOf(first - 1), 2 * segment_bytes);
  this->ExpectRecordsAre(this->ReadAll(0), first, 400);
  this->ExpectRecordsAre(this->ReadAll(1), first, 400);
  EXPECT_EQ(*store.OffsetForTime(0), first);
  // Offsets go on: never reused after retention.
  this->AppendRange(401, 410);
  EXPECT_EQ(store.next_offset(), 411u);
}

TYPED_TEST(EventStoreTest, RetentionNeverDeletesTheActiveSegment) {
  EventStore& store = this->Open({.segment_bytes = 4096, .retention = {.max_bytes = 1}});
  this->AppendRange(1, 100);
  ASSERT_TRUE(store.ApplyRetention(0).ok());
  std::vector<Record> left = this->ReadAll();
  ASSERT_FALSE(left.empty());
  EXPECT_EQ(left.back().offset, 100u);
  std::uint64_t kept = 0;
  for (const Record& r : left) kept += RecordSize(r.topic.size(), r.event.size());
  EXPECT_LE(kept, 4096u);
}

TYPED_TEST(EventStoreTest, RetentionByAgeDeletesSegmentsWhoseNewestRecordIsTooOld) {
  EventStore& store = this->Open({.segment_bytes = 4096, .retention = {.max_age = std::chrono::milliseconds(1000)}});
  this->AppendRange(1, 300);  // timestamps up to 4000
  ASSERT_TRUE(store.ApplyRetention(1500).ok());  // nothing older than 500
  EXPECT_EQ(store.first_offset(), 1u);
  ASSERT_TRUE(store.ApplyRetention(3000).ok());  // cutoff 2000: record 100
  const std::uint64_t first = store.first_offset();
  EXPECT_GT(first, 1u);
  EXPECT_LE(first, 100u);  // the segment holding record 100 (ts 2000) stays
  // The segment before `first` held only records older than the cutoff.
  EXPECT_LT(this->Ts(first - 1), 2000);
  this->ExpectRecordsAre(this->ReadAll(), first, 300);
  ASSERT_TRUE(store.ApplyRetention(1'000'000).ok());  // all old: only the active one stays
  EXPECT_EQ(this->ReadAll().back().offset, 300u);
}

TYPED_TEST(EventStoreTest, AppendRejectsOversizedTopic) {
  EventStore& store = this->Open();
  Result<std::uint64_t> r = store.Append(std::string(70000, 'a'), "x", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*store.Append("a/b", "x", 0), 1u);
}

// Only a FileStore has something to reopen.
using PersistentStoreTest = EventStoreTest<FileHarness>;

TEST_F(PersistentStoreTest, ReopenKeepsEverythingAndContinuesOffsets) {
  EventStore* store = &this->Open({.segment_bytes = 4096});
  this->AppendRange(1, 250);
  ASSERT_TRUE(store->Sync().ok());
  store = &this->Reopen();
  EXPECT_EQ(store->next_offset(), 251u);
  EXPECT_EQ(store->durable_offset(), 250u);
  this->ExpectRecordsAre(this->ReadAll(), 1, 250);
  for (std::uint64_t i = 1; i <= 250; i += 17) EXPECT_EQ(*store->OffsetForTime(this->Ts(i)), i);
  this->AppendRange(251, 260);
  store = &this->Reopen();  // not synced, but flushed by the destructor: a clean close
  this->ExpectRecordsAre(this->ReadAll(), 1, 260);
}

TEST_F(PersistentStoreTest, ReopenAfterRetentionDoesNotReuseOffsets) {
  EventStore* store = &this->Open({.segment_bytes = 4096, .retention = {.max_bytes = 1}});
  this->AppendRange(1, 200);
  ASSERT_TRUE(store->ApplyRetention(0).ok());
  const std::uint64_t first = store->first_offset();
  store = &this->Reopen();
  EXPECT_EQ(store->first_offset(), first);
  EXPECT_EQ(store->next_offset(), 201u);
  this->AppendRange(201, 205);
  this->ExpectRecordsAre(this->ReadAll(), first, 205);
}

}  // namespace
}  // namespace signalbus::eventlog
