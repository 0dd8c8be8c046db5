// Top-level protobuf field walk that stops before the payload (field 20 and up).
#include "signalbus/core/event_scan.h"

#include <cstdint>

namespace signalbus {
namespace {

bool ReadVarint(std::string_view bytes, std::size_t& pos, std::uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= bytes.size()) return false;
    auto byte = static_cast<std::uint8_t>(bytes[pos++]);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

// Walks the top-level fields, handing each one up to `last_field` to `visit` (field
// number, varint value, length-delimited bytes) and stopping after it. False if the
// bytes are malformed before that point.
template <typename Visit>
bool WalkFields(std::string_view bytes, std::uint64_t last_field, Visit&& visit) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::uint64_t tag = 0;
    if (!ReadVarint(bytes, pos, tag)) return false;
    std::uint64_t field = tag >> 3;
    std::uint32_t wire_type = tag & 7;
    if (field == 0) return false;
    if (field > last_field) return true;  // fields are written in order: nothing relevant follows
    std::uint64_t value = 0;
    std::string_view delimited;
    switch (wire_type) {
      case 0:  // varint
        if (!ReadVarint(bytes, pos, value)) return false;
        break;
      case 1:  // 64-bit
        if (bytes.size() - pos < 8) return false;
        pos += 8;
        break;
      case 2:  // length-delimited
        if (!ReadVarint(bytes, pos, value) || value > bytes.size() - pos) return false;
        delimited = bytes.substr(pos, value);
        pos += value;
        break;
      case 5:  // 32-bit
        if (bytes.size() - pos < 4) return false;
        pos += 4;
        break;
      default:
        return false;
    }
    visit(field, value, delimited);
    if (field == last_field) return true;
  }
  return true;
}

std::optional<PublisherFields> ScanPublisherFields(std::string_view bytes) {
  PublisherFields out;
  const bool sound = WalkFields(bytes, 10, [&](std::uint64_t field, std::uint64_t value, std::string_view delimited) {
    if (field == 7) out.sequence = value;
    if (field == 10) out.unconfirmed_from = value;
    if (field == 6) out.publisher_id = delimited;
    if (field == 2) out.event_id = delimited;
  });
  if (!sound || out.sequence == 0 || out.publisher_id.empty()) return std::nullopt;
  return out;
}

std::optional<std::string_view> ScanOrderingKey(std::string_view bytes) {
  std::string_view key;
  // To the end: the top-level framing of the whole event is checked on the way.
  const bool sound = WalkFields(bytes, UINT64_MAX, [&](std::uint64_t field, std::uint64_t, std::string_view delimited) {
    if (field == 9) key = delimited;
  });
  if (!sound) return std::nullopt;
  return key;
}

}  // namespace signalbus
