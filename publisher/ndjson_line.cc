// Reading an --ndjson line: a plain event, or a dead letter's event.
#include "ndjson_line.h"

#include <string>

#include "signalbus/core/event_json.h"

namespace signalbus {
namespace {

// `signalbus-admin dlq list` (broker/admin/admin_output.cc, DeadLetterJson) starts with
// the offset and ends with the event: {"offset":N,…,"event":{…}} or, for bytes that do
// not parse, "event":null,"event_base64":"…". The members before it are numbers and
// escaped strings, in which `,"event":` cannot appear (a quote inside is \").
constexpr std::string_view kDeadLetterStart = "{\"offset\":";
constexpr std::string_view kEventMember = ",\"event\":";

}  // namespace

Result<v1::Event> EventFromNdjsonLine(std::string_view line) {
  std::size_t first = line.find_first_not_of(" \t");
  std::size_t last = line.find_last_not_of(" \t\r");
  if (first == std::string_view::npos) return InvalidArgument("empty line");
  line = line.substr(first, last - first + 1);

  Result<v1::Event> event = Status(StatusCode::kInvalidArgument, "");
  if (line.starts_with(kDeadLetterStart)) {
    std::size_t at = line.find(kEventMember);
    if (at == std::string_view::npos || !line.ends_with("}")) {
      return InvalidArgument("a dead letter without its event");
    }
    std::string_view inner = line.substr(at + kEventMember.size());
    inner.remove_suffix(1);  // the dead letter's closing brace
    if (inner.starts_with("null")) {
      return InvalidArgument("a dead letter whose event does not parse (only event_base64): cannot be re-published");
    }
    event = EventFromJson(inner);
    if (!event.ok()) return InvalidArgument("a dead letter's event: " + event.status().message());
  } else {
    event = EventFromJson(line);
    if (!event.ok()) return event.status();
  }
  event->clear_publisher_id();
  event->clear_sequence();
  event->clear_unconfirmed_from();
  return event;
}

}  // namespace signalbus
