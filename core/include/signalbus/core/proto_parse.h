// Parsing protobuf messages out of bytes a peer sent. libprotobuf logs some of what it
// refuses (a string that is not UTF-8: one ERROR line per message); here that complaint
// becomes the error's text instead of a log line, so a flood of bad messages cannot
// flood the log by way of protobuf.
#pragma once

#include <string_view>

#include <google/protobuf/message_lite.h>

#include "signalbus/core/status.h"

namespace signalbus {

// Parses `bytes` into `message` (cleared first). On failure: InvalidArgument naming the
// message type and, when protobuf said why, its words (printable, truncated). Never
// logs, once InstallProtobufLogHandler() has run (InitLogging() runs it).
Status ParseUntrusted(std::string_view bytes, google::protobuf::MessageLite& message);

}  // namespace signalbus
