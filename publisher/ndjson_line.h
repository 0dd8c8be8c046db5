// One line of `signalbus-publish --ndjson`: the event it carries. A line is either an
// Event in JSON, as signalbus-listen and signalbus-audit print them, or a dead letter
// as `signalbus-admin dlq list` prints it ({"offset":…,"attempts":…,…,"event":{…}}),
// whose event is taken, so that any of those outputs can be published again.
//
// The event keeps its event_id and content; the publisher id, sequence and
// unconfirmed_from it carried are cleared: they were the first publisher's session
// numbering, and the publishing process numbers its own (docs/wire-protocol.md,
// "Publisher sessions"). Receivers, idempotent by event id, see the same event.
#pragma once

#include <string_view>

#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

// kInvalidArgument, with the reason, for a line that is neither.
Result<v1::Event> EventFromNdjsonLine(std::string_view line);

}  // namespace signalbus
