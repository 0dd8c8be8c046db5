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

int DecodeChar(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

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
  // the top two always zero).
  std::array<std::uint8_t, 16> bytes{};
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(millis >> (8 * (5 - i)));
  for (int i = 0; i < 10; ++i) bytes[6 + i] = random[i];
  std::string out(kEventIdLength, '0');
  // Digit i (from the right) holds bits [5i, 5i+5) of the 128-bit big-endian number.
  for (int i = 0; i < static_cast<int>(kEventIdLength); ++i) {
    int value = 0;
    for (int b = 4; b >= 0; --b) {
      int bit = 5 * i + b;  // bit index from the least significant end
      if (bit < 128 && ((bytes[15 - bit / 8] >> (bit % 8)) & 1)) value |= 1 << b;
    }
    out[kEventIdLength - 1 - i] = kAlphabet[value];
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

}  // namespace signalbus
