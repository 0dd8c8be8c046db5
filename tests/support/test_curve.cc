// Test keys, the client side's CURVE from the environment, and the suite-wide switch.
#include "test_curve.h"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "process.h"
#include "signalbus/core/curve_config.h"
#include "signalbus/core/curve_keys.h"

namespace signalbus::testing {

TestKey MakeTestKey(const std::string& dir, const std::string& name) {
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  if (!pair.ok()) return {};
  Status written = WriteCurveKeyPair(dir, name, *pair, /*overwrite=*/false);
  EXPECT_TRUE(written.ok()) << written.ToString();
  return TestKey{pair->public_key, dir + "/" + name + ".key", dir + "/" + name + ".pub"};
}

std::optional<CurveSecurity> ClientCurveFromEnv() {
  Result<std::optional<CurveSecurity>> curve = LoadCurveClient(CurveClientFromEnv({}));
  EXPECT_TRUE(curve.ok()) << curve.status().ToString();
  return curve.ok() ? *curve : std::nullopt;
}

SocketOptions ClientSocketOptions() {
  SocketOptions options;
  options.curve = ClientCurveFromEnv();
  return options;
}

bool CurveSuiteOn() {
  const char* on = std::getenv("SIGNALBUS_TEST_CURVE");
  return on != nullptr && std::string(on) == "1";
}

std::vector<std::string> SuiteCurveBrokerArgs() {
  if (!CurveSuiteOn()) return {};
  static const std::vector<std::string> args = [] {
    const std::string dir = MakeTempDir("sb-suite-curve");
    const TestKey broker = MakeTestKey(dir, "broker");
    const TestKey client = MakeTestKey(dir, "tests");
    const std::string allow = dir + "/allow.toml";
    std::ofstream(allow) << "[[principal]]\nname = \"tests\"\nkeys = [\"" << client.public_key
                         << "\"]\npublish = [\"*/*\"]\nsubscribe = [\"*/*\"]\njoin = [\"*\"]\nadmin = [\"*\"]\n";
    ::setenv(kCurveServerKeyEnv, broker.public_key.c_str(), 1);
    ::setenv(kCurveKeyFileEnv, client.key_file.c_str(), 1);
    return std::vector<std::string>{"--curve-key-file", broker.key_file, "--allow-list", allow};
  }();
  return args;
}

}  // namespace signalbus::testing
