// signalbus-publish's work once its flags are parsed: publish one event built from
// flags, or a stream of NDJSON events, then flush; report errors as single lines.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>

#include "event_flags.h"
#include "signalbus/publisher/publisher.h"

namespace signalbus {

struct PublishCommand {
  PublisherOptions publisher;
  std::chrono::milliseconds timeout{5000};  // connect, send and the final flush each
  std::optional<EventFlags> single;         // one event from flags, or
  std::string ndjson_path;                  // "-" for stdin: one event per line (ndjson_line.h)
  bool quiet = false;
};

// Returns the process exit status: 0 all published and flushed, 1 otherwise.
// Messages go to `err` as "signalbus-publish: ..." lines; a summary to `out` unless quiet.
int RunPublishCommand(const PublishCommand& command, std::ostream& out, std::ostream& err);

}  // namespace signalbus
