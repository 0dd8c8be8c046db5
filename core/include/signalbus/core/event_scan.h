// A cheap scan of a serialized Event for its publisher identity or its ordering key,
// without a full parse: protobuf writes fields in number order, so event_id (2),
// publisher_id (6), sequence (7), ordering_key (9) and unconfirmed_from (10) sit before
// the payload (20 and up). Used on paths that must not pay for a decode: rebuilding the
// publishers' state from the log at start, naming the publisher of a message the broker
// rejects, and a consumer group's per-key order for records read back from the log.
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

// The ordering key (empty when the event has none); nullopt if the top-level framing of
// the bytes is malformed anywhere (nested messages are not looked into: cheap, and no
// substitute for a decode). Points into `bytes`.
std::optional<std::string_view> ScanOrderingKey(std::string_view bytes);

}  // namespace signalbus
