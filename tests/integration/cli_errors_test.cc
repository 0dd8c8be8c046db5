// People make mistakes: every program answers a bad flag with one clear line on stderr
// and a non-zero exit, and signalbus-publish says so clearly when no broker answers.
#include <fstream>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "process.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

int Lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

void ExpectOneLineError(const RunResult& r, int exit_code, const std::string& program, const std::string& needle) {
  EXPECT_EQ(r.exit_code, exit_code) << r.err;
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(program), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(CliErrors, UnknownFlagIsOneLineAndExitTwoForEveryProgram) {
  for (const char* program :
       {"signalbus-publish", "signalbus-broker", "signalbus-listen", "signalbus-profile-creator"}) {
    ExpectOneLineError(RunToCompletion(program, {"--no-such-flag"}), 2, program, "no-such-flag");
  }
}

TEST(CliErrors, MalformedEndpointIsRejected) {
  ExpectOneLineError(RunToCompletion("signalbus-publish", {"post_save", "auth.User", "--broker", "localhost:5555"}), 2,
                     "signalbus-publish", "localhost:5555");
  ExpectOneLineError(RunToCompletion("signalbus-broker", {"--groups", "tcp://127.0.0.1:*", "--ingest", "udp://x:1"}), 2, "signalbus-broker",
                     "udp://x:1");
}

TEST(CliErrors, PublishExplainsWhatIsWrongWithTheEvent) {
  ExpectOneLineError(RunToCompletion("signalbus-publish", {"post_save"}), 2, "signalbus-publish", "SENDER");
  ExpectOneLineError(RunToCompletion("signalbus-publish", {"post_save", "auth/User"}), 1, "signalbus-publish",
                     "auth/User");
  ExpectOneLineError(RunToCompletion("signalbus-publish", {"post_delete", "auth.User", "--created"}), 1,
                     "signalbus-publish", "--created");
  ExpectOneLineError(RunToCompletion("signalbus-publish", {"post_save", "auth.User", "--json", "{oops"}), 1,
                     "signalbus-publish", "--json");
  ExpectOneLineError(RunToCompletion("signalbus-publish", {"post_save", "auth.User", "--timeout", "soon"}), 2,
                     "signalbus-publish", "--timeout");
  ExpectOneLineError(RunToCompletion("signalbus-publish", {"post_save", "auth.User", "--ndjson", "-"}), 2,
                     "signalbus-publish", "not both");
}

TEST(CliErrors, UnreachableBrokerIsOneLineAndExitOneAfterTheTimeout) {
  std::string dir = MakeTempDir("sb-cli");
  RunResult r = RunToCompletion("signalbus-publish", {"post_save", "auth.User", "--pk", "1", "--broker",
                                                      "ipc://" + dir + "/no-broker", "--timeout", "500ms"});
  ExpectOneLineError(r, 1, "signalbus-publish", "no broker answered");
}

TEST(CliErrors, BadNdjsonLinesAreReportedByNumberAndTheRestStillPublished) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  std::string dir = MakeTempDir("sb-cli");
  std::string path = dir + "/events.ndjson";
  {
    std::ofstream out(path);
    out << R"({"signal":"post_save","sender":"auth.User","model_save":{"instance":{"pk":"1"},"created":true}})" << "\n";
    out << "this is not json\n";
    out << R"({"signal":"post_save","sender":"auth.User","model_save":{"instance":{"pk":"2"},"created":true}})" << "\n";
  }
  RunResult r = RunToCompletion("signalbus-publish", {"--broker", broker.ingest(), "--ndjson", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line 2:"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("published 2 events"), std::string::npos) << r.out;
  EXPECT_TRUE(broker.WaitForMetric("signalbus_ingest_accepted_total", 2, 20s));
}

TEST(CliErrors, BrokerOnAnAddressInUseSaysSoAndExitsOne) {
  BrokerProcess first;
  ASSERT_TRUE(first.ready());
  RunResult r = RunToCompletion("signalbus-broker", {"--groups", "tcp://127.0.0.1:*", "--ingest", first.ingest(), "--live", "tcp://127.0.0.1:*",
                                                     "--metrics", "off", "--data-dir", MakeTempDir("sb-data")});
  ExpectOneLineError(r, 1, "signalbus-broker", first.ingest());
}

}  // namespace
}  // namespace signalbus::testing
