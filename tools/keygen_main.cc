// signalbus-keygen: writes a CURVE key pair for the broker or a service.
//   signalbus-keygen broker --dir /etc/signalbus      -> broker.key (0600), broker.pub
//   signalbus-keygen profile-creator                  -> ./profile-creator.key, .pub
// Prints the public key (give it to whoever must trust this name); never the secret.
#include <cstdio>
#include <string>

#include "signalbus/core/cli.h"
#include "signalbus/core/curve_keys.h"

int main(int argc, char** argv) {
  using namespace signalbus;
  CLI::App app{"Write a CURVE key pair: NAME.key (the secret, mode 0600) and NAME.pub (the public key).",
               "signalbus-keygen"};
  app.set_version_flag("--version", "signalbus-keygen 0.1.0");
  std::string name;
  std::string dir = ".";
  bool force = false;
  app.add_option("name", name, "Whose key: 'broker' or a service's name ([A-Za-z0-9_.-], at most 100)")->required();
  app.add_option("--dir", dir, "Directory to write the two files into (it must exist)")->capture_default_str();
  app.add_flag("--force", force, "Replace existing files of that name (the old key stops working where it is used)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ReportParseError(app, e);
  }
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  if (!pair.ok()) {
    std::fprintf(stderr, "signalbus-keygen: %s\n", pair.status().message().c_str());
    return kExitFailure;
  }
  if (Status s = WriteCurveKeyPair(dir, name, *pair, force); !s.ok()) {
    std::fprintf(stderr, "signalbus-keygen: %s\n", s.message().c_str());
    return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  std::printf("wrote %s/%s.key (secret, mode 0600) and %s/%s.pub\npublic key %s\n", dir.c_str(), name.c_str(),
              dir.c_str(), name.c_str(), pair->public_key.c_str());
  return 0;
}
