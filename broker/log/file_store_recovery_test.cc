// FileStore recovery: torn tails are cut, corruption is refused (or skipped when
// asked), index files are only a cache. Damage is done to real files byte by byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "log_record.h"
#include "log_test_util.h"
#include "signalbus/log/file_store.h"

namespace signalbus::eventlog {
namespace {

using testing::AppendFileBytes;
using testing::EventFor;
using testing::FlipBit;
using testing::RandomBytes;
using testing::ReadFileBytes;
using testing::TempDir;
using testing::TopicFor;
using testing::WriteFileBytes;

std::int64_t Ts(std::uint64_t i) { return 5000 + static_cast<std::int64_t>(i); }
std::uint64_t SizeOf(std::uint64_t i) { return RecordSize(TopicFor(i).size(), EventFor(i).size()); }

class FileStoreRecoveryTest : public ::testing::Test {
 protected:
  static FileStore::Options Options(std::uint64_t segment_bytes = kDefaultSegmentBytes) {
    FileStore::Options o;
    o.segment_bytes = segment_bytes;
    o.index_interval_bytes = 512;
    return o;
  }

  Result<std::unique_ptr<FileStore>> Open(FileStore::Options o) { return FileStore::Open(dir_.path(), o); }

  std::unique_ptr<FileStore> MustOpen(FileStore::Options o) {
    Result<std::unique_ptr<FileStore>> store = Open(o);
    if (!store.ok()) ADD_FAILURE() << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Appends records first..last (synced) and closes the store.
  void Write(std::uint64_t first, std::uint64_t last, FileStore::Options o) {
    std::unique_ptr<FileStore> store = MustOpen(o);
    ASSERT_NE(store, nullptr);
    for (std::uint64_t i = first; i <= last; ++i) ASSERT_EQ(*store->Append(TopicFor(i), EventFor(i), Ts(i)), i);
    ASSERT_TRUE(store->Sync().ok());
  }

  static std::vector<Record> ReadAll(FileStore& store, std::uint64_t from = 0) {
    Result<std::vector<Record>> r = store.Read(from, 1'000'000, SIZE_MAX);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<Record>{};
  }

  // Every record in `got` is the original one; returns their offsets.
  static std::vector<std::uint64_t> OffsetsOf(const std::vector<Record>& got) {
    std::vector<std::uint64_t> offsets;
    for (const Record& r : got) {
      EXPECT_EQ(r.event, EventFor(r.offset)) << "garbage returned at offset " << r.offset;
      EXPECT_EQ(r.topic, TopicFor(r.offset));
      EXPECT_EQ(r.timestamp_ms, Ts(r.offset));
      offsets.push_back(r.offset);
    }
    return offsets;
  }

  static std::vector<std::uint64_t> Range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = first; i <= last; ++i) v.push_back(i);
    return v;
  }

  // Base offsets of the segments on disk, ascending.
  std::vector<std::uint64_t> Segments() const {
    std::vector<std::uint64_t> bases;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      if (auto b = ParseSegmentFileName(e.path().filename().string(), ".log")) bases.push_back(*b);
    }
    std::sort(bases.begin(), bases.end());
    return bases;
  }
  std::string LogPath(std::uint64_t base) const { return dir_.File(FileStore::SegmentFileName(base)); }
  std::string IndexPath(std::uint64_t base) const { return dir_.File(FileStore::IndexFileName(base)); }

  TempDir dir_;
};

TEST_F(FileStoreRecoveryTest, TornTailAtEveryByteOfTheLastTwoRecordsIsCut) {
  constexpr std::uint64_t kRecords = 20;
  Write(1, kRecords, Options());
  const std::string path = LogPath(1);
  const std::string pristine = ReadFileBytes(path);
  std::vector<std::uint64_t> end(kRecords + 1, 0);  // end[i]: byte after record i
  for (std::uint64_t i = 1; i <= kRecords; ++i) end[i] = end[i - 1] + SizeOf(i);
  ASSERT_EQ(end[kRecords], pristine.size());

  for (std::uint64_t cut = end[kRecords - 2]; cut < end[kRecords]; ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    WriteFileBytes(path, pristine.substr(0, cut));
    std::uint64_t kept = 0;
    while (kept < kRecords && end[kept + 1] <= cut) ++kept;
    {
      std::unique_ptr<FileStore> store = MustOpen(Options());
      ASSERT_NE(store, nullptr);
      EXPECT_EQ(OffsetsOf(ReadAll(*store)), Range(1, kept));
      EXPECT_EQ(store->next_offset(), kept + 1);
      EXPECT_EQ(store->recovery().torn_bytes, cut - end[kept]);
      EXPECT_EQ(store->recovery().torn_segment.empty(), cut == end[kept]);
      EXPECT_EQ(std::filesystem::file_size(path), end[kept]);
      if (cut % 7 != 0) continue;
      ASSERT_EQ(*store->Append("after/crash", "new", 1), kept + 1);
      ASSERT_TRUE(store->Sync().ok());
    }
    std::unique_ptr<FileStore> store = MustOpen(Options());
    ASSERT_NE(store, nullptr);
    std::vector<Record> all = ReadAll(*store);
    ASSERT_EQ(all.size(), kept + 1);
    EXPECT_EQ(all.back(), (Record{kept + 1, 1, "after/crash", "new"}));
    EXPECT_EQ(store->recovery().torn_bytes, 0u);
  }
}

TEST_F(FileStoreRecoveryTest, GarbageAfterTheLastRecordIsCutAndNeverReturned) {
  Write(1, 30, Options());
  const std::string path = LogPath(1);
  const std::string pristine = ReadFileBytes(path);
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    for (std::size_t len : {1, 5, 27, 28, 29, 200, 4096, 70000}) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " length " + std::to_string(len));
      WriteFileBytes(path, pristine + RandomBytes(len, seed * 1000 + len));
      std::unique_ptr<FileStore> store = MustOpen(Options());
      ASSERT_NE(store, nullptr);
      EXPECT_EQ(OffsetsOf(ReadAll(*store)), Range(1, 30));
      EXPECT_EQ(store->recovery().torn_bytes, len);
      EXPECT_EQ(store->next_offset(), 31u);
    }
  }
  // Zeros, as left by a file system that extended the file but lost the data blocks.
  WriteFileBytes(path, pristine + std::string(8192, '\0'));
  std::unique_ptr<FileStore> store = MustOpen(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OffsetsOf(ReadAll(*store)), Range(1, 30));
  EXPECT_EQ(store->recovery().torn_bytes, 8192u);
}

TEST_F(FileStoreRecoveryTest, PlausibleHeaderWithMissingPayloadIsATornTail) {
  Write(1, 10, Options());
  std::string next;
  EncodeRecord(&next, 11, Ts(11), TopicFor(11), EventFor(11));
  AppendFileBytes(LogPath(1), next.substr(0, next.size() - 1));
  std::unique_ptr<FileStore> store = MustOpen(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OffsetsOf(ReadAll(*store)), Range(1, 10));
  EXPECT_EQ(store->recovery().torn_bytes, next.size() - 1);
}

TEST_F(FileStoreRecoveryTest, FlippedBitInSealedSegmentIsDataLossUnlessSkipped) {
  Write(1, 120, Options(4096));
  const std::vector<std::uint64_t> bases = Segments();
  ASSERT_GE(bases.size(), 4u);
  const std::uint64_t base = bases[1];
  const std::uint64_t victim = base + 2;
  const std::uint64_t start = SizeOf(base) + SizeOf(base + 1);  // byte position of the victim
  const std::string path = LogPath(base);
  const std::string pristine = ReadFileBytes(path);
  // Every field of the record: crc, length (low and high bits), type, flags, topic
  // length, offset, timestamp, topic, event.
  for (std::uint64_t at : {0, 4, 7, 8, 9, 10, 12, 19, 20, 28, 40, static_cast<int>(SizeOf(victim)) - 1}) {
    for (int bit : {0, 7}) {
      SCOPED_TRACE("byte " + std::to_string(at) + " bit " + std::to_string(bit));
      WriteFileBytes(path, pristine);
      FlipBit(path, start + at, bit);
      Result<std::unique_ptr<FileStore>> refused = Open(Options(4096));
      ASSERT_FALSE(refused.ok());
      EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
      const std::string& m = refused.status().message();
      EXPECT_NE(m.find(FileStore::SegmentFileName(base)), std::string::npos) << m;
      EXPECT_NE(m.find("at byte " + std::to_string(start)), std::string::npos) << m;
      EXPECT_NE(m.find("offsets from " + std::to_string(victim) + " to " + std::to_string(victim)), std::string::npos)
          << m;

      FileStore::Options skip = Options(4096);
      skip.skip_corrupt = true;
      std::unique_ptr<FileStore> store = MustOpen(skip);
      ASSERT_NE(store, nullptr);
      std::vector<std::uint64_t> expected = Range(1, 120);
      expected.erase(std::find(expected.begin(), expected.end(), victim));
      EXPECT_EQ(OffsetsOf(ReadAll(*store)), expected);
      ASSERT_EQ(store->recovery().skipped.size(), 1u);
      EXPECT_EQ(store->recovery().skipped[0].first_offset, victim);
      EXPECT_EQ(store->recovery().skipped[0].last_offset, victim);
      EXPECT_EQ(store->recovery().skipped[0].begin_byte, start);
      EXPECT_EQ(store->recovery().skipped[0].end_byte, start + SizeOf(victim));
      Result<std::vector<Record>> from_victim = store->Read(victim, 1, SIZE_MAX);
      ASSERT_TRUE(from_victim.ok());
      ASSERT_EQ(from_victim->size(), 1u);
      EXPECT_EQ(from_victim->front().offset, victim + 1);
      EXPECT_EQ(store->next_offset(), 121u);
    }
  }
}

TEST_F(FileStoreRecoveryTest, FlippedBitMidActiveSegmentIsCorruptionNotATornTail) {
  Write(1, 20, Options());
  std::uint64_t start = 0;
  for (std::uint64_t i = 1; i < 5; ++i) start += SizeOf(i);
  FlipBit(LogPath(1), start + 50, 3);
  Result<std::unique_ptr<FileStore>> refused = Open(Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(refused.status().message().find("valid records resume at offset 6"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(std::filesystem::file_size(LogPath(1)), start + [] {
    std::uint64_t rest = 0;
    for (std::uint64_t i = 5; i <= 20; ++i) rest += SizeOf(i);
    return rest;
  }()) << "a refused open must not cut anything";

  FileStore::Options skip = Options();
  skip.skip_corrupt = true;
  std::unique_ptr<FileStore> store = MustOpen(skip);
  ASSERT_NE(store, nullptr);
  std::vector<std::uint64_t> expected = Range(1, 20);
  expected.erase(expected.begin() + 4);
  EXPECT_EQ(OffsetsOf(ReadAll(*store)), expected);
  EXPECT_EQ(store->recovery().torn_bytes, 0u);
  // Appending goes on after the damaged range.
  ASSERT_EQ(*store->Append(TopicFor(21), EventFor(21), Ts(21)), 21u);
  expected.push_back(21);
  EXPECT_EQ(OffsetsOf(ReadAll(*store)), expected);
}

TEST_F(FileStoreRecoveryTest, FlippedBitInTheLastRecordIsATornTail) {
  // Nothing valid follows it, so it cannot be told from a write cut short.
  Write(1, 20, Options());
  FlipBit(LogPath(1), std::filesystem::file_size(LogPath(1)) - 10, 1);
  std::unique_ptr<FileStore> store = MustOpen(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OffsetsOf(ReadAll(*store)), Range(1, 19));
  EXPECT_EQ(store->recovery().torn_bytes, SizeOf(20));
}

TEST_F(FileStoreRecoveryTest, DamageFoundByReadIsDataLossAndNeverReturned) {
  Write(1, 120, Options(4096));
  std::unique_ptr<FileStore> store = MustOpen(Options(4096));
  ASSERT_NE(store, nullptr);
  const std::uint64_t base = Segments()[1];
  FlipBit(LogPath(base), SizeOf(base) + 40, 2);  // record base + 1, after open verified it
  Result<std::vector<Record>> r = store->Read(base + 1, 10, SIZE_MAX);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find(FileStore::SegmentFileName(base)), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("byte " + std::to_string(SizeOf(base))), std::string::npos);
  EXPECT_NE(r.status().message().find("offset " + std::to_string(base + 1)), std::string::npos);
  // Records before it still read; the reader of the damaged one gets no record at all.
  r = store->Read(base, 1, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(OffsetsOf(*r), Range(base, base));
  r = store->Read(Segments()[2], 5, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 5u);
}

TEST_F(FileStoreRecoveryTest, DamagedOrMissingIndexFilesAreRebuilt) {
  Write(1, 300, Options(4096));
  const std::vector<std::uint64_t> bases = Segments();
  ASSERT_GE(bases.size(), 8u);
  std::map<std::uint64_t, std::string> originals;
  for (std::size_t i = 0; i + 1 < bases.size(); ++i) originals[bases[i]] = ReadFileBytes(IndexPath(bases[i]));
  ASSERT_FALSE(std::filesystem::exists(IndexPath(bases.back()))) << "the active segment has no index file";

  auto damage = [&] {
    for (const auto& [base, bytes] : originals) WriteFileBytes(IndexPath(base), bytes);
    std::filesystem::remove(IndexPath(bases[0]));
    WriteFileBytes(IndexPath(bases[1]), originals[bases[1]].substr(0, originals[bases[1]].size() - 5));
    FlipBit(IndexPath(bases[2]), 3, 0);
    WriteFileBytes(IndexPath(bases[3]), RandomBytes(originals[bases[3]].size(), 9));
    WriteFileBytes(IndexPath(bases[4]), originals[bases[5]]);  // another segment's: stale
    WriteFileBytes(IndexPath(bases[5]), originals[bases[5]].substr(0, 32 * 2));  // no seal entry
  };
  auto check_reads = [&](FileStore& store) {
    EXPECT_EQ(OffsetsOf(ReadAll(store)), Range(1, 300));
    for (std::uint64_t i = 1; i <= 300; ++i) {
      Result<std::vector<Record>> r = store.Read(i, 1, SIZE_MAX);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(OffsetsOf(*r), Range(i, i));
      ASSERT_EQ(*store.OffsetForTime(Ts(i)), i);
    }
  };

  damage();
  {
    std::unique_ptr<FileStore> store = MustOpen(Options(4096));  // verifies everything
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->recovery().indexes_written, 6u);
    check_reads(*store);
  }
  for (const auto& [base, bytes] : originals) EXPECT_EQ(ReadFileBytes(IndexPath(base)), bytes) << base;

  FileStore::Options trusting = Options(4096);
  trusting.verify_all_segments = false;
  {
    std::unique_ptr<FileStore> store = MustOpen(trusting);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->recovery().segments_verified, 1u) << "only the active segment is read";
    check_reads(*store);
  }
  damage();
  {
    std::unique_ptr<FileStore> store = MustOpen(trusting);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->recovery().segments_verified, 7u) << "six rebuilt and the active one";
    EXPECT_EQ(store->recovery().indexes_written, 6u);
    check_reads(*store);
  }
  for (const auto& [base, bytes] : originals) EXPECT_EQ(ReadFileBytes(IndexPath(base)), bytes) << base;
}

TEST_F(FileStoreRecoveryTest, OpenVerifiesEveryRecord) {
  Write(1, 500, Options(8192));
  std::unique_ptr<FileStore> store = MustOpen(Options(8192));
  ASSERT_NE(store, nullptr);
  std::uint64_t bytes = 0;
  for (std::uint64_t i = 1; i <= 500; ++i) bytes += SizeOf(i);
  EXPECT_EQ(store->recovery().records_verified, 500u);
  EXPECT_EQ(store->recovery().bytes_verified, bytes);
  EXPECT_EQ(store->recovery().segments_verified, store->recovery().segments);
  EXPECT_EQ(store->total_bytes(), bytes);
}

// Damage that appears after open (the disk goes bad under a running broker): reads that
// reach the damaged record fail, reads that start after it step over it, and nothing
// read is ever other than what was written. The index holds only the segment's first
// record, so every read walks from there across the damage.
TEST_F(FileStoreRecoveryTest, DamageAfterOpenHidesOnlyTheDamagedRecordFromReadsThatStartPastIt) {
  FileStore::Options options = Options();
  options.index_interval_bytes = 1 << 20;
  std::unique_ptr<FileStore> store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  for (std::uint64_t i = 1; i <= 40; ++i) ASSERT_EQ(*store->Append(TopicFor(i), EventFor(i), Ts(i)), i);
  ASSERT_TRUE(store->Sync().ok());
  const std::uint64_t victim = 10;
  std::uint64_t start = 0;
  for (std::uint64_t i = 1; i < victim; ++i) start += SizeOf(i);
  const std::string path = LogPath(1);
  // crc, length (low bit: the walk loses its way), type (a header no writer makes: its
  // length is not trusted), offset, timestamp, topic, event.
  for (std::uint64_t at : {0, 4, 8, 12, 20, 28, 40}) {
    SCOPED_TRACE("byte " + std::to_string(at));
    FlipBit(path, start + at, 0);
    Result<std::vector<Record>> at_victim = store->Read(victim, 1, SIZE_MAX);
    ASSERT_FALSE(at_victim.ok());
    EXPECT_EQ(at_victim.status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(OffsetsOf(ReadAll(*store, 1)), Range(1, victim - 1));  // what comes before, then the damage
    Result<std::vector<Record>> after = store->Read(victim + 1, 1'000'000, SIZE_MAX);
    if (at == 4 || at == 8) {
      // No trustworthy length: no way to find the next record without an index entry.
      ASSERT_FALSE(after.ok());
      EXPECT_EQ(after.status().code(), StatusCode::kDataLoss);
    } else {
      ASSERT_TRUE(after.ok()) << after.status().ToString();
      EXPECT_EQ(OffsetsOf(*after), Range(victim + 1, 40));
    }
    FlipBit(path, start + at, 0);  // repaired
    EXPECT_EQ(OffsetsOf(ReadAll(*store, 1)), Range(1, 40));
  }
}

TEST_F(FileStoreRecoveryTest, MissingSegmentIsDataLossUnlessSkipped) {
  Write(1, 120, Options(4096));
  const std::vector<std::uint64_t> bases = Segments();
  ASSERT_GE(bases.size(), 3u);
  std::filesystem::remove(LogPath(bases[1]));
  Result<std::unique_ptr<FileStore>> refused = Open(Options(4096));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(refused.status().message().find("offsets " + std::to_string(bases[1]) + " to " +
                                            std::to_string(bases[2] - 1)),
            std::string::npos)
      << refused.status().message();

  FileStore::Options skip = Options(4096);
  skip.skip_corrupt = true;
  std::unique_ptr<FileStore> store = MustOpen(skip);
  ASSERT_NE(store, nullptr);
  std::vector<std::uint64_t> expected = Range(1, bases[1] - 1);
  for (std::uint64_t i = bases[2]; i <= 120; ++i) expected.push_back(i);
  EXPECT_EQ(OffsetsOf(ReadAll(*store)), expected);
  Result<std::vector<Record>> r = store->Read(bases[1], 1, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(OffsetsOf(*r), Range(bases[2], bases[2]));
}

TEST_F(FileStoreRecoveryTest, EmptyLastSegmentKeepsItsBaseOffset) {
  Write(1, 10, Options());
  WriteFileBytes(LogPath(11), "");  // a crash right after a roll
  {
    std::unique_ptr<FileStore> store = MustOpen(Options());
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->next_offset(), 11u);
    EXPECT_EQ(store->segment_count(), 2u);
    ASSERT_EQ(*store->Append("a/b", "c", 1), 11u);
  }
  WriteFileBytes(LogPath(50), "");  // offsets 12..49 in no file
  Result<std::unique_ptr<FileStore>> refused = Open(Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss);
}

TEST_F(FileStoreRecoveryTest, SecondOpenOfTheSameDirectoryIsRefused) {
  std::unique_ptr<FileStore> store = MustOpen(Options());
  ASSERT_NE(store, nullptr);
  Result<std::unique_ptr<FileStore>> second = Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

TEST_F(FileStoreRecoveryTest, MissingDirectoryWithoutCreateIsNotFound) {
  FileStore::Options o = Options();
  o.create_if_missing = false;
  Result<std::unique_ptr<FileStore>> r = FileStore::Open(dir_.File("nope"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(FileStoreRecoveryTest, UnrelatedFilesAreLeftAlone) {
  WriteFileBytes(dir_.File("README"), "hello");
  WriteFileBytes(dir_.File("123.log"), "not a segment name");
  Write(1, 5, Options());
  std::unique_ptr<FileStore> store = MustOpen(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OffsetsOf(ReadAll(*store)), Range(1, 5));
  EXPECT_TRUE(std::filesystem::exists(dir_.File("README")));
  EXPECT_TRUE(std::filesystem::exists(dir_.File("123.log")));
}

}  // namespace
}  // namespace signalbus::eventlog
