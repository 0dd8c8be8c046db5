// The on-disk format of the broker's durable log: constants only. The prose spec is
// docs/log-format.md; log_record.cc encodes and parses, segment.cc scans and
// recovers a segment, file_store.cc ties segments into a log.
//
// A data directory holds segments, each an append-only file of records named by the
// offset of its first record, plus one optional index file per sealed segment:
//   00000000000000000001.log    records 1, 2, 3, ...
//   00000000000000000001.index  sparse index of that segment (a cache)
//   LOCK                        held (flock) by the process that has the log open
//
// Record layout (all integers little-endian):
//   +0   u32  masked CRC32C of bytes [4, kHeaderSize + length)
//   +4   u32  length: bytes after the header
//   +8   u8   type (kFullType: one event; kBatchType: several)
//   +9   u8   flags (full: 0; batch: kAtomicFlag or 0)
//   +10  u16  full: topic length; batch: number of events (>= 1)
//   +12  u64  offset (batch: of its first event; the others follow, +1 each)
//   +20  i64  timestamp, ms since the Unix epoch
//   +28  full: topic bytes, then event bytes (a serialized signalbus.v1.Event)
//        batch: per event, u16 topic length, u32 event length, topic, event
//
// Index entry layout (kIndexEntrySize bytes, little-endian):
//   +0   u64  a       } meaning depends on kind, see IndexEntryKind
//   +8   u64  b       }
//   +16  i64  c       }
//   +24  u32  kind
//   +28  u32  masked CRC32C of bytes [0, 28)
#pragma once

#include <cstddef>
#include <cstdint>

namespace signalbus::eventlog::log_format {

inline constexpr std::size_t kHeaderSize = 28;
inline constexpr std::size_t kCrcOffset = 0;
inline constexpr std::size_t kLengthOffset = 4;
inline constexpr std::size_t kTypeOffset = 8;
inline constexpr std::size_t kFlagsOffset = 9;
inline constexpr std::size_t kTopicLengthOffset = 10;
inline constexpr std::size_t kOffsetOffset = 12;
inline constexpr std::size_t kTimestampOffset = 20;

// Record types. A future incompatible layout gets a new type; readers treat unknown
// types as damage.
inline constexpr std::uint8_t kFullType = 1;
// Several events in one record, under one checksum: written, lost to a torn tail and
// read back all together. Events of one publish batch.
inline constexpr std::uint8_t kBatchType = 2;
// Batch flag: the publisher asked for the batch to be handled as a unit (an atomic
// batch, e.g. one database transaction): groups deliver its events together.
inline constexpr std::uint8_t kAtomicFlag = 1;
// Bytes before each event's topic in a batch record: u16 topic length, u32 event length.
inline constexpr std::size_t kBatchEntryHeaderSize = 6;
inline constexpr std::size_t kMaxBatchEvents = 0xFFFF;

inline constexpr std::size_t kMaxTopicBytes = 0xFFFF;
// Upper bound on a record's payload (topic + event; a batch's entries). Larger values
// in a header are damage, never a record.
inline constexpr std::uint32_t kMaxPayloadBytes = 64u << 20;

inline constexpr std::size_t kIndexEntrySize = 32;

enum class IndexEntryKind : std::uint32_t {
  // a = record offset, b = byte position of that record, c = the largest timestamp
  // of the records before it in the segment (INT64_MIN for none).
  kRecord = 0,
  // A damaged byte range skipped at open with skip_corrupt: a = begin, b = end.
  kSkipped = 1,
  // Last entry of a complete index: a = next offset (one past the last record),
  // b = segment size in bytes, c = largest timestamp in the segment.
  kSeal = 2,
};

// Width of the zero-padded decimal base offset in segment file names.
inline constexpr int kFileNameDigits = 20;
inline constexpr const char* kLogSuffix = ".log";
inline constexpr const char* kIndexSuffix = ".index";
inline constexpr const char* kTempSuffix = ".tmp";
inline constexpr const char* kLockFileName = "LOCK";

// Offsets start here in an empty log; 0 means "no record".
inline constexpr std::uint64_t kFirstOffset = 1;

}  // namespace signalbus::eventlog::log_format
