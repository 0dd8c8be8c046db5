// ULID generation. Monotonic within the process: an id made in the same millisecond as
// the previous one increments the previous random part instead of drawing a new one.
#include "signalbus/core/event_id.h"

#include <array>
#include <chrono>
#include <mutex>
#include <random>

namespace signalbus {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// Digit values by byte, -1 for bytes that are not a digit. Lower case is accepted, as
// Crockford's base32 does; the excluded letters (I, L, O, U) are not digits in any case.
constexpr std::array<std::int8_t, 256> kDigitValues = [] {
  std::array<std::int8_t, 256> table{};
  table.fill(-1);
  for (int i = 0; i < 32; ++i) {
    const auto c = static_cast<unsigned char>(kAlphabet[i]);
    table[c] = static_cast<std::int8_t>(i);
    if (c >= 'A' && c <= 'Z') table[c - 'A' + 'a'] = static_cast<std::int8_t>(i);
  }
  return table;
}();

int DecodeChar(char c) { return kDigitValues[static_cast<unsigned char>(c)]; }

struct Generator {
  std::mutex mu;
  std::uint64_t last_millis = 0;
  std::array<std::uint8_t, 10> random{};
  std::mt19937_64 rng{std::random_device{}()};
};

Generator& TheGenerator() {
  static Generator* g = new Generator();  // never destroyed: usable during exit
  return *g;
}

std::string Encode(std::uint64_t millis, const std::array<std::uint8_t, 10>& random) {
  // 128 bits: 48 of time, 80 of randomness, written as 26 base32 digits (130 bits,
  // the top two always zero). As two halves: hi = bits 64..127, lo = bits 0..63.
  std::uint64_t hi = millis << 16 | std::uint64_t{random[0]} << 8 | random[1];
  std::uint64_t lo = 0;
  for (int i = 2; i < 10; ++i) lo = lo << 8 | random[i];
  std::string out(kEventIdLength, '0');
  // Digit i (from the right) holds bits [5i, 5i+5) of the 128-bit big-endian number.
  for (int i = 0; i < static_cast<int>(kEventIdLength); ++i) {
    const int bit = 5 * i;
    std::uint64_t value;
    if (bit >= 64) {
      value = hi >> (bit - 64);
    } else if (bit + 5 <= 64) {
      value = lo >> bit;
    } else {
      value = lo >> bit | hi << (64 - bit);  // straddles the halves (bit 60)
    }
    out[kEventIdLength - 1 - i] = kAlphabet[value & 31];
  }
  return out;
}

}  // namespace

std::string NewEventIdAt(std::uint64_t unix_millis) {
  Generator& g = TheGenerator();
  std::lock_guard lock(g.mu);
  if (unix_millis <= g.last_millis) {
    // Same (or an earlier, if the clock stepped back) millisecond: keep the last
    // time and add one to the random part so the id still sorts after the last.
    for (int i = 9; i >= 0; --i) {
      if (++g.random[i] != 0) break;
    }
    unix_millis = g.last_millis;
  } else {
    for (int i = 0; i < 10; i += 2) {
      std::uint64_t r = g.rng();
      g.random[i] = static_cast<std::uint8_t>(r);
      g.random[i + 1] = static_cast<std::uint8_t>(r >> 8);
    }
    g.random[0] &= 0x7f;  // room to increment within one millisecond without overflow
    g.last_millis = unix_millis;
  }
  return Encode(unix_millis, g.random);
}

std::string NewEventId() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return NewEventIdAt(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()));
}

bool IsValidEventId(std::string_view id) {
  if (id.size() != kEventIdLength) return false;
  if (DecodeChar(id[0]) < 0 || DecodeChar(id[0]) > 7) return false;  // 128 bits max
  for (char c : id) {
    if (DecodeChar(c) < 0) return false;
  }
  return true;
}

std::uint64_t EventIdMillis(std::string_view id) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 10; ++i) v = (v << 5) | static_cast<std::uint64_t>(DecodeChar(id[i]));
  return v;  // 10 digits = 50 bits; the top two are zero for a valid id
}

EventIdBits DecodeEventId(std::string_view id) {
  // 26 digits of 5 bits: the first carries the top 3 of 128. Two 64-bit halves shifted
  // together, 5 bits at a time (the broker decodes every sequenced event's id).
  std::uint64_t high = 0, low = 0;
  for (char c : id) {
    high = (high << 5) | (low >> 59);
    low = (low << 5) | static_cast<std::uint64_t>(kDigitValues[static_cast<unsigned char>(c)]);
  }
  return EventIdBits{high, low};
}

}  // namespace signalbus
