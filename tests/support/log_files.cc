// Walking a broker's segment files for fault-injection tests.
#include "log_files.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace signalbus::testing {
namespace {

constexpr std::size_t kHeaderBytes = 28;  // docs/log-format.md, "Records"

std::uint32_t LittleEndian32(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

}  // namespace

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());  // zero-padded offsets sort as numbers
  return files;
}

std::vector<std::size_t> RecordBounds(const std::string& segment_path) {
  std::string bytes = ReadFileBytes(segment_path);
  std::vector<std::size_t> bounds;
  std::size_t at = 0;
  while (at + kHeaderBytes <= bytes.size()) {
    bounds.push_back(at);
    at += kHeaderBytes + LittleEndian32(bytes, at + 4);
  }
  if (at != bytes.size()) return {};
  bounds.push_back(at);
  return bounds;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void FlipBitsInPlace(const std::string& path, std::size_t position, unsigned char mask) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekg(static_cast<std::streamoff>(position));
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(byte ^ mask);
  file.seekp(static_cast<std::streamoff>(position));
  file.write(&byte, 1);
}

}  // namespace signalbus::testing
