// CRC32C (Castagnoli), the checksum of every log record and index entry. Uses the
// SSE4.2 crc32 instruction when the CPU has it (chosen once, at run time) and a
// slicing-by-8 table otherwise. Both paths are exposed so tests can check each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace signalbus::eventlog::crc32c {

// CRC32C of data[0, n) continued from `crc`, the CRC32C of the bytes before it.
// Extend(0, ...) starts a new checksum. Thread-safe.
std::uint32_t Extend(std::uint32_t crc, const void* data, std::size_t n);
inline std::uint32_t Value(const void* data, std::size_t n) { return Extend(0, data, n); }
inline std::uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// The two implementations behind Extend.
std::uint32_t ExtendSoftware(std::uint32_t crc, const void* data, std::size_t n);
// REQUIRES: HardwareAvailable().
std::uint32_t ExtendHardware(std::uint32_t crc, const void* data, std::size_t n);
bool HardwareAvailable();

// A CRC stored next to the data it covers is masked, so that computing a CRC over
// bytes that contain CRCs (an index of records, a record of records) stays strong.
inline constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
inline std::uint32_t Mask(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline std::uint32_t Unmask(std::uint32_t masked) {
  std::uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace signalbus::eventlog::crc32c
