// /proc/<pid>/status, read line by line.
#include "proc_stats.h"

#include <fstream>
#include <sstream>
#include <string>

namespace signalbus::testing {
namespace {

// "VmRSS:	  12345 kB" -> 12345 * 1024.
std::optional<std::uint64_t> StatusKilobytes(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream value(line.substr(field.size() + 1));
    std::uint64_t kb = 0;
    if (value >> kb) return kb * 1024;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> ResidentBytes(pid_t pid) { return StatusKilobytes(pid, "VmRSS"); }
std::optional<std::uint64_t> PeakResidentBytes(pid_t pid) { return StatusKilobytes(pid, "VmHWM"); }

}  // namespace signalbus::testing
