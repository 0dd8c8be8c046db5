// Event ids: ULIDs (26 Crockford base32 characters, 48-bit millisecond time + 80
// random bits). Ids made by one process are strictly increasing, so sorting ids sorts
// events by creation time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace signalbus {

inline constexpr std::size_t kEventIdLength = 26;

// Thread-safe. Monotonic within the process, even within one millisecond.
std::string NewEventId();
// As above, with the time given (milliseconds since the Unix epoch). For tests.
std::string NewEventIdAt(std::uint64_t unix_millis);

bool IsValidEventId(std::string_view id);
// Milliseconds since the Unix epoch encoded in a valid id. REQUIRES: IsValidEventId(id).
std::uint64_t EventIdMillis(std::string_view id);

// The 128 bits a valid id stands for: two ids name the same event exactly when these
// are equal (lower case decodes like upper case). 16 bytes instead of 26 characters.
struct EventIdBits {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  friend bool operator==(const EventIdBits&, const EventIdBits&) = default;
};
// REQUIRES: IsValidEventId(id).
EventIdBits DecodeEventId(std::string_view id);

}  // namespace signalbus
