// What /proc says about a running process, for tests that bound a daemon's memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace signalbus::testing {

// Resident set size (VmRSS) in bytes, or nullopt when the process is gone.
std::optional<std::uint64_t> ResidentBytes(pid_t pid);
// The highest resident set size so far (VmHWM) in bytes, or nullopt when gone.
std::optional<std::uint64_t> PeakResidentBytes(pid_t pid);

inline constexpr std::uint64_t kMiB = 1024 * 1024;

}  // namespace signalbus::testing
