// Batch records: several events under one checksum. Read returns them whole and marks
// an atomic batch's events as one unit; after a crash a batch is either all there or
// not at all, at every byte a write can be cut at or a bit can flip.
#include <gtest/gtest.h>

#include <memory>

#include "log_record.h"
#include "log_test_util.h"
#include "signalbus/log/file_store.h"
#include "signalbus/log/memory_store.h"

namespace signalbus::eventlog {
namespace {

using testing::EventFor;
using testing::FlipBit;
using testing::ReadFileBytes;
using testing::TempDir;
using testing::TopicFor;
using testing::WriteFileBytes;

constexpr std::int64_t kTs = 7000;

// Events i in [first, last] as refs into strings the caller keeps.
struct Events {
  std::vector<std::string> topics, events;
  std::vector<EventRef> refs;
  Events(std::uint64_t first, std::uint64_t last, std::size_t size = 200) {
    for (std::uint64_t i = first; i <= last; ++i) {
      topics.push_back(TopicFor(i));
      events.push_back(EventFor(i, size));
    }
    for (std::size_t i = 0; i < topics.size(); ++i) refs.push_back({topics[i], events[i]});
  }
};

FileStore::Options SmallIndex() {
  FileStore::Options o;
  o.index_interval_bytes = 512;
  return o;
}

std::vector<Record> ReadAll(EventStore& store, std::uint64_t from = 0) {
  Result<std::vector<Record>> r = store.Read(from, 1'000'000, SIZE_MAX);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<Record>{};
}

// Every record is the original event of its offset; the units are as expected.
void ExpectEvents(const std::vector<Record>& got, std::uint64_t first, std::uint64_t last) {
  ASSERT_EQ(got.size(), last >= first ? last - first + 1 : 0);
  for (std::uint64_t i = first; i <= last; ++i) {
    const Record& r = got[i - first];
    ASSERT_EQ(r.offset, i);
    ASSERT_EQ(r.topic, TopicFor(i));
    ASSERT_EQ(r.event, EventFor(i)) << "offset " << i;
  }
}

// Writes: 1..3 single, 4..8 an atomic batch, 9..10 a plain batch, 11..14 an atomic batch.
void WriteMixed(EventStore& store) {
  for (std::uint64_t i = 1; i <= 3; ++i) ASSERT_EQ(*store.Append(TopicFor(i), EventFor(i), kTs), i);
  Events a(4, 8), b(9, 10), c(11, 14);
  ASSERT_EQ(*store.AppendBatch(a.refs, true, kTs), 4u);
  ASSERT_EQ(*store.AppendBatch(b.refs, false, kTs), 9u);
  ASSERT_EQ(*store.AppendBatch(c.refs, true, kTs), 11u);
  ASSERT_EQ(store.next_offset(), 15u);
}

// The units of WriteMixed's offsets (1..14) among `got`.
void ExpectUnits(const std::vector<Record>& got) {
  for (const Record& r : got) {
    if (r.offset > 14) continue;
    SCOPED_TRACE("offset " + std::to_string(r.offset));
    if (r.offset >= 4 && r.offset <= 8) {
      EXPECT_EQ(r.unit_first, 4u);
      EXPECT_EQ(r.unit_size, 5u);
    } else if (r.offset >= 11 && r.offset <= 14) {
      EXPECT_EQ(r.unit_first, 11u);
      EXPECT_EQ(r.unit_size, 4u);
    } else {
      EXPECT_EQ(r.unit_size, 0u);
    }
  }
}

template <typename Store>
std::unique_ptr<EventStore> OpenStore(TempDir& dir);
template <>
std::unique_ptr<EventStore> OpenStore<MemoryStore>(TempDir&) {
  return std::make_unique<MemoryStore>();
}
template <>
std::unique_ptr<EventStore> OpenStore<FileStore>(TempDir& dir) {
  auto store = FileStore::Open(dir.path(), SmallIndex());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

template <typename Store>
class BatchStoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
};
using Stores = ::testing::Types<MemoryStore, FileStore>;
TYPED_TEST_SUITE(BatchStoreTest, Stores);

TYPED_TEST(BatchStoreTest, BatchesReadBackAsTheirEventsWithAtomicUnitsMarked) {
  auto store = OpenStore<TypeParam>(this->dir_);
  WriteMixed(*store);
  std::vector<Record> all = ReadAll(*store);
  ExpectEvents(all, 1, 14);
  ExpectUnits(all);
  // From inside a batch: the rest of it, still marked as its unit.
  std::vector<Record> tail = ReadAll(*store, 6);
  ExpectEvents(tail, 6, 14);
  ExpectUnits(tail);
}

TYPED_TEST(BatchStoreTest, NoLimitSplitsAnAtomicBatch) {
  auto store = OpenStore<TypeParam>(this->dir_);
  WriteMixed(*store);
  Result<std::vector<Record>> one = store->Read(4, 1, SIZE_MAX);
  ASSERT_TRUE(one.ok());
  ExpectEvents(*one, 4, 8);
  Result<std::vector<Record>> small = store->Read(1, 4, 1);
  ASSERT_TRUE(small.ok());
  ExpectEvents(*small, 1, 1);  // a single record alone past the byte limit
  Result<std::vector<Record>> upto = store->Read(3, 2, SIZE_MAX);
  ASSERT_TRUE(upto.ok());
  ExpectEvents(*upto, 3, 8);  // the batch that the second record starts comes whole
}

TYPED_TEST(BatchStoreTest, RefusesEmptyOversizedAndOverlongBatches) {
  auto store = OpenStore<TypeParam>(this->dir_);
  EXPECT_EQ(store->AppendBatch({}, true, kTs).status().code(), StatusCode::kInvalidArgument);
  std::string big_topic(70000, 't');
  EXPECT_EQ(store->AppendBatch({{big_topic, "e"}}, false, kTs).status().code(), StatusCode::kInvalidArgument);
  std::vector<EventRef> many(kMaxBatchEvents + 1, EventRef{"t/x", "e"});
  EXPECT_EQ(store->AppendBatch(many, false, kTs).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->next_offset(), 1u);
  many.pop_back();
  ASSERT_EQ(*store->AppendBatch(many, true, kTs), 1u);
  EXPECT_EQ(store->next_offset(), 1u + kMaxBatchEvents);
}

class BatchRecoveryTest : public ::testing::Test {
 protected:
  std::unique_ptr<FileStore> Open(FileStore::Options o = SmallIndex()) {
    auto store = FileStore::Open(dir_.path(), o);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string LogPath() const { return dir_.File(FileStore::SegmentFileName(1)); }
  TempDir dir_;
};

TEST_F(BatchRecoveryTest, ReopenScansBatchesAndEveryStartOffsetReadsRight) {
  {
    auto store = Open();
    WriteMixed(*store);
    // Enough batches after those for several index entries.
    for (std::uint64_t first = 15; first < 215; first += 10) {
      Events e(first, first + 9);
      ASSERT_EQ(*store->AppendBatch(e.refs, first % 20 == 15, kTs), first);
    }
    ASSERT_TRUE(store->Sync().ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->next_offset(), 215u);
  EXPECT_EQ(store->recovery().torn_bytes, 0u);
  for (std::uint64_t from = 1; from < 215; ++from) {
    std::vector<Record> got = ReadAll(*store, from);
    ExpectEvents(got, from, 214);
    ExpectUnits(got);
    for (const Record& r : got) {  // batches starting at 15, 35, ... are atomic
      if (r.offset < 15) continue;
      const std::uint64_t first = r.offset - (r.offset - 15) % 10;
      EXPECT_EQ(r.unit_size, first % 20 == 15 ? 10u : 0u) << r.offset;
      EXPECT_EQ(r.unit_first, first % 20 == 15 ? first : 0u) << r.offset;
    }
  }
  // After the batches, single records take the next offsets.
  EXPECT_EQ(*store->Append("t/after", "x", kTs), 215u);
}

TEST_F(BatchRecoveryTest, ATornAtomicBatchIsCutWholeAtEveryByte) {
  {
    auto store = Open();
    WriteMixed(*store);
    ASSERT_TRUE(store->Sync().ok());
  }
  const std::string pristine = ReadFileBytes(LogPath());
  // The last record is the atomic batch 11..14: find where it starts.
  Events c(11, 14);
  const std::uint64_t batch_start = pristine.size() - (log_format::kHeaderSize + BatchPayloadSize(c.refs));
  ASSERT_LT(batch_start, pristine.size());
  for (std::uint64_t cut = batch_start; cut < pristine.size(); ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    WriteFileBytes(LogPath(), pristine.substr(0, cut));
    auto store = Open();
    ASSERT_NE(store, nullptr);
    std::vector<Record> all = ReadAll(*store);
    ExpectEvents(all, 1, 10);  // nothing of 11..14
    EXPECT_EQ(store->next_offset(), 11u);
    EXPECT_EQ(store->recovery().torn_bytes, cut - batch_start);
  }
  WriteFileBytes(LogPath(), pristine);
  auto store = Open();
  ExpectEvents(ReadAll(*store), 1, 14);
}

TEST_F(BatchRecoveryTest, ABitFlippedInTheLastBatchDropsAllOfItAndNothingElse) {
  {
    auto store = Open();
    WriteMixed(*store);
    ASSERT_TRUE(store->Sync().ok());
  }
  const std::string pristine = ReadFileBytes(LogPath());
  Events c(11, 14);
  const std::uint64_t batch_start = pristine.size() - (log_format::kHeaderSize + BatchPayloadSize(c.refs));
  for (std::uint64_t byte = batch_start; byte < pristine.size(); byte += 3) {
    SCOPED_TRACE("bit flipped in byte " + std::to_string(byte));
    WriteFileBytes(LogPath(), pristine);
    FlipBit(LogPath(), byte, static_cast<int>(byte % 8));
    auto store = Open();
    ASSERT_NE(store, nullptr);
    std::vector<Record> all = ReadAll(*store);
    ExpectEvents(all, 1, 10);
    EXPECT_EQ(store->next_offset(), 11u);
  }
}

TEST_F(BatchRecoveryTest, ABitFlippedInABatchOfASealedSegmentIsDataLossOrSkippedWhole) {
  FileStore::Options o = SmallIndex();
  o.segment_bytes = 2048;
  {
    auto store = FileStore::Open(dir_.path(), o);
    ASSERT_TRUE(store.ok());
    Events a(1, 5);
    ASSERT_EQ(*(*store)->AppendBatch(a.refs, true, kTs), 1u);
    Events b(6, 10);
    ASSERT_EQ(*(*store)->AppendBatch(b.refs, true, kTs), 6u);  // rolls: a second segment
    ASSERT_TRUE((*store)->Sync().ok());
    ASSERT_EQ((*store)->segment_count(), 2u);
  }
  FlipBit(LogPath(), 100, 3);
  auto refused = FileStore::Open(dir_.path(), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
  o.skip_corrupt = true;
  auto skipped = FileStore::Open(dir_.path(), o);
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  ExpectEvents(ReadAll(**skipped), 6, 10);  // never a part of batch 1..5
}

}  // namespace
}  // namespace signalbus::eventlog
