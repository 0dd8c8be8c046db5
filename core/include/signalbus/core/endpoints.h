// Where the broker listens: defaults on loopback, overridable by environment variable
// and by flag, and the check that an endpoint string is one ZeroMQ can use.
#pragma once

#include <string>
#include <string_view>

#include "signalbus/core/status.h"

namespace signalbus {

inline constexpr std::string_view kDefaultIngestEndpoint = "tcp://127.0.0.1:5555";
inline constexpr std::string_view kDefaultLiveEndpoint = "tcp://127.0.0.1:5556";
inline constexpr std::string_view kDefaultGroupsEndpoint = "tcp://127.0.0.1:5557";
inline constexpr std::string_view kDefaultMetricsAddress = "127.0.0.1:5558";

inline constexpr const char* kIngestEnv = "SIGNALBUS_INGEST";
inline constexpr const char* kLiveEnv = "SIGNALBUS_LIVE";
inline constexpr const char* kGroupsEnv = "SIGNALBUS_GROUPS";
inline constexpr const char* kMetricsEnv = "SIGNALBUS_METRICS";

// The environment variable's value if set and non-empty, else the fallback.
std::string FromEnv(const char* variable, std::string_view fallback);

// tcp://host:port (port may be * when binding), ipc://path, inproc://name.
Status ValidateEndpoint(std::string_view endpoint);

}  // namespace signalbus
