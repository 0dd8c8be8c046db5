// Counts the lines of a file as it grows (a child's --out file, say), reading only what
// is new since the last Count().
#pragma once

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <string>
#include <utility>

namespace signalbus::testing {

class LineCounter {
 public:
  explicit LineCounter(std::string path) : path_(std::move(path)) {}
  std::size_t Count() {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset_));
    char buffer[1 << 16];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      offset_ += static_cast<std::size_t>(in.gcount());
      lines_ += static_cast<std::size_t>(std::count(buffer, buffer + in.gcount(), '\n'));
    }
    return lines_;
  }

 private:
  std::string path_;
  std::size_t offset_ = 0;
  std::size_t lines_ = 0;
};

}  // namespace signalbus::testing
