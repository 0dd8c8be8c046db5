// A client's CURVE settings (docs/security.md): the broker's public key it pins and the
// file of its own secret key, from flags, options or the environment
// (SIGNALBUS_CURVE_SERVER_KEY, SIGNALBUS_CURVE_KEY_FILE), turned into what MakeSocket
// applies. The one place every client program and library reads them.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "signalbus/core/sockets.h"
#include "signalbus/core/status.h"

namespace signalbus {

inline constexpr const char* kCurveServerKeyEnv = "SIGNALBUS_CURVE_SERVER_KEY";
inline constexpr const char* kCurveKeyFileEnv = "SIGNALBUS_CURVE_KEY_FILE";

struct CurveClientSettings {
  // The broker's public key: its 40 Z85 characters, or the path of its .pub file.
  std::string server_key;
  // This client's secret key file (NAME.key from signalbus-keygen, mode 0600).
  std::string key_file;
};

// Empty fields are taken from the environment.
CurveClientSettings CurveClientFromEnv(CurveClientSettings settings);

// nullopt when neither field is set (no CURVE); an error naming the flag, file or
// variable when only one is, or when a key or file is refused.
Result<std::optional<CurveSecurity>> LoadCurveClient(const CurveClientSettings& settings);

// --curve-server-key and --curve-key-file, with their environment variables.
void AddCurveClientFlags(CLI::App& app, CurveClientSettings* settings);

}  // namespace signalbus
