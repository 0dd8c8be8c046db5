// Durations given by people on the command line: "250ms", "5s", "2m", "1h"; a bare
// number means seconds.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "signalbus/core/status.h"

namespace signalbus {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace signalbus
