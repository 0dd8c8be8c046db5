// Endpoint defaults and syntax checks.
#include "signalbus/core/endpoints.h"

#include <cstdlib>

#include "signalbus/core/logging.h"

namespace signalbus {

std::string FromEnv(const char* variable, std::string_view fallback) {
  const char* value = std::getenv(variable);
  if (value != nullptr && *value != '\0') return value;
  return std::string(fallback);
}

Status ValidateEndpoint(std::string_view endpoint) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("endpoint '" + Printable(endpoint) + "' " + std::string(why) +
                           " (expected tcp://host:port, ipc://path or inproc://name)");
  };
  std::size_t scheme_end = endpoint.find("://");
  if (scheme_end == std::string_view::npos) return bad("has no scheme");
  std::string_view scheme = endpoint.substr(0, scheme_end);
  std::string_view rest = endpoint.substr(scheme_end + 3);
  if (rest.empty()) return bad("has no address");
  if (scheme == "ipc" || scheme == "inproc") return Status::Ok();
  if (scheme != "tcp") return bad("has an unsupported scheme");
  std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("has no host:port");
  std::string_view port = rest.substr(colon + 1);
  if (port == "*" || port == "0") return Status::Ok();
  if (port.empty() || port.size() > 5) return bad("has a bad port");
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("has a bad port");
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) return bad("has a port out of range");
  return Status::Ok();
}

}  // namespace signalbus
