// Top-level protobuf field walk that stops before the payload (field 20 and up).
#include "signalbus/core/event_scan.h"

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

std::optional<PublisherFields> ScanPublisherFields(std::string_view bytes) {
  PublisherFields out;
  bool have_id = false;
  bool have_sequence = false;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::uint64_t tag = 0;
    if (!ReadVarint(bytes, pos, tag)) return std::nullopt;
    std::uint64_t field = tag >> 3;
    std::uint32_t wire_type = tag & 7;
    if (field > 10) break;  // fields are written in order: nothing relevant follows
    std::uint64_t value = 0;
    switch (wire_type) {
      case 0:  // varint
        if (!ReadVarint(bytes, pos, value)) return std::nullopt;
        if (field == 7) {
          out.sequence = value;
          have_sequence = value != 0;
        } else if (field == 10) {
          out.unconfirmed_from = value;
        }
        break;
      case 1:  // 64-bit
        if (bytes.size() - pos < 8) return std::nullopt;
        pos += 8;
        break;
      case 2:  // length-delimited
        if (!ReadVarint(bytes, pos, value) || value > bytes.size() - pos) return std::nullopt;
        if (field == 6) {
          out.publisher_id = bytes.substr(pos, value);
          have_id = true;
        } else if (field == 2) {
          out.event_id = bytes.substr(pos, value);
        }
        pos += value;
        break;
      case 5:  // 32-bit
        if (bytes.size() - pos < 4) return std::nullopt;
        pos += 4;
        break;
      default:
        return std::nullopt;
    }
    if (field == 10) break;
  }
  if (!have_id || !have_sequence || out.publisher_id.empty()) return std::nullopt;
  return out;
}

}  // namespace signalbus
