// Record framing and atomic replacement. The CRC covers the type byte and the payload;
// the length is checked by bounds (a length pointing past the end of the file at the
// tail is a torn append, not damage).
#include "record_file.h"

#include <cstring>

#include "signalbus/log/crc32c.h"

namespace signalbus::groups {

namespace {

void PutU32(std::uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint32_t GetU32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

std::uint32_t RecordCrc(std::uint8_t type, std::string_view payload) {
  char t = static_cast<char>(type);
  std::uint32_t crc = eventlog::crc32c::Extend(0, &t, 1);
  return eventlog::crc32c::Extend(crc, payload.data(), payload.size());
}

}  // namespace

std::string FileHeader(std::string_view magic) {
  std::string out(magic);
  out.resize(kFileHeaderSize);
  PutU32(kFormatVersion, out.data() + 4);
  return out;
}

void AppendRecord(std::uint8_t type, std::string_view payload, std::string* out) {
  std::size_t at = out->size();
  out->resize(at + kRecordHeaderSize);
  PutU32(eventlog::crc32c::Mask(RecordCrc(type, payload)), out->data() + at);
  PutU32(static_cast<std::uint32_t>(payload.size()), out->data() + at + 4);
  (*out)[at + 8] = static_cast<char>(type);
  out->append(payload);
}

Result<ParsedFile> ParseFile(std::string_view bytes, std::string_view magic, const std::string& path,
                             bool allow_torn_tail) {
  ParsedFile parsed;
  std::string header = FileHeader(magic);
  if (bytes.size() < kFileHeaderSize) {
    // A file cut inside its header was being created when the writer died.
    if (allow_torn_tail && std::string_view(header).substr(0, bytes.size()) == bytes) {
      parsed.torn_tail = !bytes.empty();
      return parsed;
    }
    return DataLoss(path + ": file is damaged: " + std::to_string(bytes.size()) + " bytes, too short for its header");
  }
  if (bytes.substr(0, 4) != magic) return DataLoss(path + ": file is damaged: bad magic");
  if (std::uint32_t v = GetU32(bytes.data() + 4); v != kFormatVersion) {
    return DataLoss(path + ": unknown format version " + std::to_string(v));
  }
  std::size_t pos = kFileHeaderSize;
  while (pos < bytes.size()) {
    std::size_t left = bytes.size() - pos;
    auto damaged = [&](const std::string& what) -> Result<ParsedFile> {
      return DataLoss(path + ": file is damaged at byte " + std::to_string(pos) + ": " + what);
    };
    if (left < kRecordHeaderSize) {
      if (allow_torn_tail) break;
      return damaged("truncated record header");
    }
    std::uint32_t crc = eventlog::crc32c::Unmask(GetU32(bytes.data() + pos));
    std::uint32_t length = GetU32(bytes.data() + pos + 4);
    auto type = static_cast<std::uint8_t>(bytes[pos + 8]);
    if (length > kMaxRecordPayload || length > left - kRecordHeaderSize) {
      if (allow_torn_tail) break;
      return damaged("record length " + std::to_string(length) + " runs past the end of the file");
    }
    std::string_view payload = bytes.substr(pos + kRecordHeaderSize, length);
    if (RecordCrc(type, payload) != crc) {
      bool last = pos + kRecordHeaderSize + length == bytes.size();
      if (allow_torn_tail && last) break;
      return damaged("checksum mismatch");
    }
    parsed.records.push_back(RecordView{type, payload});
    pos += kRecordHeaderSize + length;
  }
  parsed.valid_bytes = pos;
  parsed.torn_tail = pos < bytes.size();
  return parsed;
}

Result<std::string> ReadWholeFile(eventlog::FileIo& io, const std::string& path) {
  Result<std::uint64_t> size = io.FileSize(path);
  if (!size.ok()) return size.status();
  Result<std::unique_ptr<eventlog::RandomAccessFile>> file = io.OpenReadable(path);
  if (!file.ok()) return file.status();
  std::string bytes(*size, '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    Result<std::size_t> n = (*file)->Read(done, bytes.size() - done, bytes.data() + done);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    done += *n;
  }
  bytes.resize(done);
  return bytes;
}

namespace {

// dir/name.tmp with `contents`, on disk.
Status WriteTemporary(eventlog::FileIo& io, const std::string& tmp, std::string_view contents) {
  // A tmp file left by a crash would be appended to: start from nothing.
  (void)io.Remove(tmp);
  Result<std::unique_ptr<eventlog::WritableFile>> file = io.OpenAppendable(tmp);
  if (!file.ok()) return file.status();
  if (Status s = (*file)->Append(contents); !s.ok()) return s;
  return (*file)->Sync();
}

}  // namespace

Status WriteFileAtomically(eventlog::FileIo& io, const std::string& dir, const std::string& name,
                           std::string_view contents) {
  return WriteFilesAtomically(io, dir, {FileContents{name, contents}}).front();
}

std::vector<Status> WriteFilesAtomically(eventlog::FileIo& io, const std::string& dir,
                                         const std::vector<FileContents>& files) {
  std::vector<Status> out(files.size());
  bool renamed = false;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string path = dir + "/" + files[i].name;
    const std::string tmp = path + ".tmp";
    out[i] = WriteTemporary(io, tmp, files[i].contents);
    if (out[i].ok()) out[i] = io.Rename(tmp, path);
    renamed = renamed || out[i].ok();
  }
  // Until the directory is synced a crash may bring back the old files: none of the
  // renamed ones is reported written before that.
  if (!renamed) return out;
  Status synced = io.SyncDir(dir);
  if (!synced.ok()) {
    for (Status& s : out) {
      if (s.ok()) s = synced;
    }
  }
  return out;
}

}  // namespace signalbus::groups
