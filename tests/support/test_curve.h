// CURVE for integration tests. Key pairs written as signalbus-keygen writes them, an
// allow-list file, and the suite-wide switch: with SIGNALBUS_TEST_CURVE=1 every
// BrokerProcess starts with a broker key and an allow-list granting everything to one
// test principal, and this process's environment (SIGNALBUS_CURVE_*) points every
// client it makes or spawns at them — so the same tests run with CURVE on.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "signalbus/core/sockets.h"

namespace signalbus::testing {

struct TestKey {
  std::string public_key;  // Z85
  std::string key_file;    // DIR/NAME.key, mode 0600
  std::string pub_file;    // DIR/NAME.pub
};

// A fresh key pair NAME.key/NAME.pub in `dir`. Aborts the test on failure.
TestKey MakeTestKey(const std::string& dir, const std::string& name);

// What a test's client sockets use: CURVE from SIGNALBUS_CURVE_* when set, else none.
SocketOptions ClientSocketOptions();
// The same CURVE settings as a CurveSecurity (nullopt when the environment sets none).
std::optional<CurveSecurity> ClientCurveFromEnv();

// True when SIGNALBUS_TEST_CURVE=1: the suite runs with CURVE on every broker.
bool CurveSuiteOn();
// The broker flags of the suite's CURVE setup (--curve-key-file, --allow-list), made
// once per process; the first call also sets SIGNALBUS_CURVE_SERVER_KEY and
// SIGNALBUS_CURVE_KEY_FILE in this process's environment. Empty when CurveSuiteOn() is
// false.
std::vector<std::string> SuiteCurveBrokerArgs();

}  // namespace signalbus::testing
