// Parsing of human durations for flags such as --timeout 5s.
#include "signalbus/core/duration.h"

#include <cmath>
#include <cstdlib>

#include "signalbus/core/logging.h"

namespace signalbus {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("duration '" + Printable(text) + "' is not like 250ms, 5s, 2m or 1h");
  };
  if (text.empty() || text.size() > 32) return bad();
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return bad();
  std::string number(text.substr(0, i));
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value) || value < 0) return bad();
  std::string_view unit = text.substr(i);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "ms") scale = 1;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else return bad();
  double ms = value * scale;
  if (ms > 1e12) return bad();
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace signalbus
