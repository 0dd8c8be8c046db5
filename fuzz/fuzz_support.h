// Shared by the fuzz targets: how an input is cut into frames, a scratch directory for
// targets that go through files, and an abort that names the broken property. The seed
// writer (seed_writer.cc) builds inputs with the same framing, so seeds and mutations
// speak one format.
#pragma once

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace signalbus::fuzz {

// A fuzz input read front to back. A frame is a u16 little-endian length and that many
// bytes (fewer at the end of the input). Reading past the end yields zeros and empty
// frames, so every input means something.
class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }
  std::uint8_t Byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  std::uint16_t U16() {
    const std::uint16_t lo = Byte();
    return static_cast<std::uint16_t>(lo | (Byte() << 8));
  }
  std::string_view Frame() {
    const std::size_t n = std::min<std::size_t>(U16(), rest_.size());
    std::string_view frame = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return frame;
  }
  std::string_view Rest() {
    std::string_view all = rest_;
    rest_ = {};
    return all;
  }

 private:
  std::string_view rest_;
};

// The framing FuzzInput reads, for the seed writer. REQUIRES: frame.size() <= 65535.
inline void AppendFrame(std::string* out, std::string_view frame) {
  out->push_back(static_cast<char>(frame.size() & 0xff));
  out->push_back(static_cast<char>(frame.size() >> 8));
  out->append(frame);
}

// A property of the code under test does not hold: say which, and crash so that
// libFuzzer keeps the input.
[[noreturn]] inline void Fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz property violated at %s:%d: %s\n", file, line, what);
  std::abort();
}
#define SIGNALBUS_FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::signalbus::fuzz::Fail(#cond, __FILE__, __LINE__))

// A directory of this process's own, emptied for each input (in /dev/shm when there is
// one: the targets that write files run thousands of inputs a second).
class ScratchDir {
 public:
  ScratchDir() {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    root_ = base / ("signalbus-fuzz-" + std::to_string(::getpid()));
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  // An empty directory: everything the previous input left is gone.
  const std::string& Fresh() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    std::filesystem::create_directories(root_);
    path_ = root_.string();
    return path_;
  }

 private:
  std::filesystem::path root_;
  std::string path_;
};

// Silences logging: the code under test logs every damaged file it sees.
inline void QuietLogs() { spdlog::set_level(spdlog::level::off); }

}  // namespace signalbus::fuzz
