// A cheap scan of a serialized Event for its publisher identity, without a full parse:
// protobuf writes fields in number order, so publisher_id (6) and sequence (7) sit near
// the start. Used on paths that must not pay for a decode: dedupe at recovery, and
// naming the publisher of a message the broker rejects.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace signalbus {

struct PublisherFields {
  std::string_view publisher_id;  // points into the scanned bytes
  std::uint64_t sequence = 0;
};

// nullopt if the bytes are malformed before field 7 or carry no publisher_id/sequence.
// Never reads past the end of `bytes`.
std::optional<PublisherFields> ScanPublisherFields(std::string_view bytes);

}  // namespace signalbus
