// A cheap scan of a serialized Event for its publisher identity, without a full parse:
// protobuf writes fields in number order, so event_id (2), publisher_id (6), sequence (7)
// and unconfirmed_from (10) sit before the payload (20 and up). Used on paths that must
// not pay for a decode: rebuilding the publishers' state from the log at start, and
// naming the publisher of a message the broker rejects.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace signalbus {

struct PublisherFields {
  std::string_view event_id;      // points into the scanned bytes; may be empty
  std::string_view publisher_id;  // points into the scanned bytes; never empty
  std::uint64_t sequence = 0;     // never 0
  std::uint64_t unconfirmed_from = 0;
};

// nullopt if the bytes are malformed before field 11 or carry no publisher_id or no
// nonzero sequence. Never reads past the end of `bytes`.
std::optional<PublisherFields> ScanPublisherFields(std::string_view bytes);

}  // namespace signalbus
