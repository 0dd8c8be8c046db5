// A client's CURVE settings: flags and environment to a CurveSecurity.
#include "signalbus/core/curve_config.h"

#include <cstdlib>

namespace signalbus {

CurveClientSettings CurveClientFromEnv(CurveClientSettings settings) {
  auto from_env = [](std::string& field, const char* name) {
    const char* value = std::getenv(name);
    if (field.empty() && value != nullptr) field = value;
  };
  from_env(settings.server_key, kCurveServerKeyEnv);
  from_env(settings.key_file, kCurveKeyFileEnv);
  return settings;
}

Result<std::optional<CurveSecurity>> LoadCurveClient(const CurveClientSettings& settings) {
  if (settings.server_key.empty() && settings.key_file.empty()) return std::optional<CurveSecurity>();
  if (settings.server_key.empty()) {
    return InvalidArgument(std::string("a CURVE key file needs the broker's public key too (--curve-server-key or ") +
                           kCurveServerKeyEnv + ")");
  }
  if (settings.key_file.empty()) {
    return InvalidArgument(std::string("the broker's public key needs this client's key file too (--curve-key-file "
                                       "or ") + kCurveKeyFileEnv + "; signalbus-keygen writes one)");
  }
  if (!CurveAvailable()) return Unavailable("this libzmq was built without CURVE (zmq_has(\"curve\") is false)");
  Result<std::string> server_key = ReadCurvePublicKey(settings.server_key);
  if (!server_key.ok()) return server_key.status();
  Result<CurveKeyPair> pair = ReadCurveSecretFile(settings.key_file);
  if (!pair.ok()) return pair.status();
  CurveSecurity curve;
  curve.keys = std::move(pair).value();
  curve.server_key = std::move(server_key).value();
  return std::optional<CurveSecurity>(std::move(curve));
}

void AddCurveClientFlags(CLI::App& app, CurveClientSettings* settings) {
  app.add_option("--curve-server-key", settings->server_key,
                 "The broker's CURVE public key (Z85) or its .pub file: encrypt and authenticate to that broker only")
      ->envname(kCurveServerKeyEnv);
  app.add_option("--curve-key-file", settings->key_file,
                 "This client's CURVE secret key file (from signalbus-keygen, mode 0600)")
      ->envname(kCurveKeyFileEnv);
}

}  // namespace signalbus
