// Checksummed records and atomic file replacement for the groups' state files.
//
// A file is an 8-byte header (4-byte magic, u32 format version, little-endian) and then
// records:
//   +0  u32  masked CRC32C of bytes [8, 9 + length): the type byte and the payload
//   +4  u32  length of the payload
//   +8  u8   type
//   +9  payload (a serialized protobuf message)
// State files hold one record and are only ever replaced whole (WriteFileAtomically);
// dead-letter files are appended to, and compacted by replacing them whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/log/file_io.h"

namespace signalbus::groups {

inline constexpr std::size_t kFileHeaderSize = 8;
inline constexpr std::size_t kRecordHeaderSize = 9;
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::uint32_t kMaxRecordPayload = 256u << 20;
inline constexpr std::string_view kStateMagic = "SBGS";
inline constexpr std::string_view kDeadLetterMagic = "SBDL";

std::string FileHeader(std::string_view magic);
// Appends one framed record to `out`.
void AppendRecord(std::uint8_t type, std::string_view payload, std::string* out);

struct RecordView {
  std::uint8_t type = 0;
  std::string_view payload;  // points into the parsed bytes
};

struct ParsedFile {
  std::vector<RecordView> records;
  // Bytes of header + whole valid records; less than the file size when the last record
  // was torn (the writer died mid-append).
  std::uint64_t valid_bytes = 0;
  bool torn_tail = false;
};

// Parses a whole file. An incomplete or failing record at the very end is a torn tail
// when allow_torn_tail (reported, not an error); anything else wrong — bad magic or
// version, a failing record with more bytes after it — is DataLoss naming `path` and the
// byte position.
Result<ParsedFile> ParseFile(std::string_view bytes, std::string_view magic, const std::string& path,
                             bool allow_torn_tail);

Result<std::string> ReadWholeFile(eventlog::FileIo& io, const std::string& path);

// Replaces dir/name with `contents` so that a crash leaves either the old or the new
// file: write dir/name.tmp, fdatasync, rename over dir/name, fsync dir.
Status WriteFileAtomically(eventlog::FileIo& io, const std::string& dir, const std::string& name,
                           std::string_view contents);

// The same for several files of one directory, with one fsync of the directory for all
// of them. Returns one status per file, in order; a file is replaced (and reported OK)
// only once the directory sync after its rename succeeded.
struct FileContents {
  std::string name;
  std::string_view contents;
};
std::vector<Status> WriteFilesAtomically(eventlog::FileIo& io, const std::string& dir,
                                         const std::vector<FileContents>& files);

}  // namespace signalbus::groups
