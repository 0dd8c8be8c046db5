// Endpoint syntax and environment overrides.
#include "signalbus/core/endpoints.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace signalbus {
namespace {

TEST(Endpoints, AcceptsTcpIpcAndInproc) {
  for (const char* e : {"tcp://127.0.0.1:5555", "tcp://127.0.0.1:*", "tcp://localhost:1", "tcp://[::1]:80",
                        "ipc:///tmp/sb.sock", "inproc://broker"}) {
    EXPECT_TRUE(ValidateEndpoint(e).ok()) << e;
  }
}

TEST(Endpoints, RejectsMalformedEndpoints) {
  for (const char* e : {"", "127.0.0.1:5555", "tcp://", "tcp://127.0.0.1", "tcp://127.0.0.1:70000",
                        "tcp://127.0.0.1:abc", "udp://127.0.0.1:5", "tcp://:5555"}) {
    EXPECT_FALSE(ValidateEndpoint(e).ok()) << e;
  }
}

TEST(Endpoints, EnvironmentOverridesTheDefault) {
  ::unsetenv("SIGNALBUS_TEST_ENDPOINT");
  EXPECT_EQ(FromEnv("SIGNALBUS_TEST_ENDPOINT", "tcp://127.0.0.1:1"), "tcp://127.0.0.1:1");
  ::setenv("SIGNALBUS_TEST_ENDPOINT", "tcp://127.0.0.1:2", 1);
  EXPECT_EQ(FromEnv("SIGNALBUS_TEST_ENDPOINT", "tcp://127.0.0.1:1"), "tcp://127.0.0.1:2");
  ::unsetenv("SIGNALBUS_TEST_ENDPOINT");
}

}  // namespace
}  // namespace signalbus
