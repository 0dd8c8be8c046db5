// The signalbus-admin program against a scripted broker: output on stdout, exit 0; the
// broker's refusal or silence is one line on stderr and exit 1; a flag mistake is one
// line and exit 2.
#include <gtest/gtest.h>

#include "admin_output.h"
#include "fake_admin_broker.h"
#include "process.h"

namespace signalbus::admin {
namespace {

using namespace std::chrono_literals;
using signalbus::testing::Process;
using signalbus::testing::RunResult;
using signalbus::testing::RunToCompletion;
using signalbus::testing::SpawnOptions;

int Lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

void ExpectOneLineError(const RunResult& r, int exit_code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, exit_code) << r.err;
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("signalbus-admin: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

// Runs the program while the test thread plays the broker: `answer` gets the request
// and returns the reply.
template <typename Answer>
RunResult RunAgainst(testing::FakeAdminBroker& broker, std::vector<std::string> args, Answer answer,
                     SpawnOptions options = {}) {
  Process admin("signalbus-admin", std::move(args), std::move(options));
  std::optional<v1::GroupRequest> request = broker.Next(20s);
  EXPECT_TRUE(request.has_value()) << admin.Stderr();
  if (request) broker.Reply(answer(*request));
  RunResult r;
  std::optional<int> status = admin.Wait(20s);
  EXPECT_TRUE(status.has_value());
  r.exit_code = status.value_or(-1);
  r.out = admin.Stdout();
  r.err = admin.Stderr();
  return r;
}

v1::GroupReply Admin(v1::AdminReply admin) {
  v1::GroupReply reply;
  *reply.mutable_admin() = std::move(admin);
  return reply;
}

TEST(AdminCliTest, GroupsPrintsTheTableOrNdjson) {
  testing::FakeAdminBroker broker;
  v1::AdminReply groups;
  *groups.add_groups() = testing::SampleGroup("profile-creator");
  RunResult table = RunAgainst(broker, {"groups", "--broker", broker.endpoint()}, [&](const v1::GroupRequest& r) {
    EXPECT_TRUE(r.has_list_groups());
    return Admin(groups);
  });
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out, GroupsTable({testing::SampleGroup("profile-creator")}));

  // The endpoint from the environment, and --json.
  SpawnOptions env;
  env.env["SIGNALBUS_GROUPS"] = broker.endpoint();
  RunResult json = RunAgainst(broker, {"groups", "--json"}, [&](const v1::GroupRequest&) { return Admin(groups); }, env);
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out, GroupJson(testing::SampleGroup("profile-creator")) + "\n");
}

TEST(AdminCliTest, DlqCommandsSendTheirRequestAndReport) {
  testing::FakeAdminBroker broker;
  RunResult list = RunAgainst(broker, {"--broker", broker.endpoint(), "dlq", "list", "audit", "--limit", "3"},
                              [&](const v1::GroupRequest& r) {
                                EXPECT_EQ(r.list_dead_letters().group(), "audit");
                                EXPECT_EQ(r.list_dead_letters().limit(), 3u);
                                v1::AdminReply reply;
                                reply.add_dead_letters()->set_offset(9);
                                reply.add_dead_letters()->set_offset(10);
                                return Admin(reply);
                              });
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(Lines(list.out), 2) << list.out;
  EXPECT_EQ(list.out.rfind(R"({"offset":9,)", 0), 0u) << list.out;

  RunResult replay = RunAgainst(broker, {"dlq", "replay", "audit", "--offset", "9", "--offset", "10", "--broker",
                                         broker.endpoint()},
                                [&](const v1::GroupRequest& r) {
                                  EXPECT_EQ(r.replay_dead_letters().offsets_size(), 2);
                                  v1::AdminReply reply;
                                  reply.set_affected(2);
                                  return Admin(reply);
                                });
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(replay.out, "replayed 2 dead-lettered events of group audit\n");

  RunResult purge = RunAgainst(broker, {"dlq", "purge", "audit", "--broker", broker.endpoint()},
                               [&](const v1::GroupRequest& r) {
                                 EXPECT_TRUE(r.has_purge_dead_letters());
                                 v1::AdminReply reply;
                                 reply.set_affected(4);
                                 return Admin(reply);
                               });
  EXPECT_EQ(purge.out, "purged 4 dead-lettered events of group audit\n");
}

TEST(AdminCliTest, SeekSendsTheChosenPosition) {
  testing::FakeAdminBroker broker;
  RunResult r = RunAgainst(broker, {"seek", "profile-creator", "--time", "2024-05-01T12:00:00Z", "--broker",
                                    broker.endpoint()},
                           [&](const v1::GroupRequest& request) {
                             EXPECT_EQ(request.seek_group().group(), "profile-creator");
                             EXPECT_EQ(request.seek_group().position().time().seconds(), 1714564800);
                             return Admin(v1::AdminReply());
                           });
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "group profile-creator resumes from 2024-05-01T12:00:00Z\n");
}

TEST(AdminCliTest, DeleteGroupSendsTheGroupAndReports) {
  testing::FakeAdminBroker broker;
  RunResult r = RunAgainst(broker, {"delete-group", "old-mailer", "--broker", broker.endpoint()},
                           [&](const v1::GroupRequest& request) {
                             EXPECT_EQ(request.delete_group().group(), "old-mailer");
                             v1::AdminReply reply;
                             reply.set_affected(1);
                             return Admin(reply);
                           });
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "group old-mailer deleted\n");
  RunResult refused = RunAgainst(broker, {"delete-group", "busy", "--broker", broker.endpoint()},
                                 [&](const v1::GroupRequest&) {
                                   v1::AdminReply reply;
                                   reply.set_error("group \"busy\" has 2 members connected; stop them first");
                                   return Admin(reply);
                                 });
  ExpectOneLineError(refused, 1, "has 2 members connected");
}

TEST(AdminCliTest, TheBrokersRefusalIsOneLineAndExitOne) {
  testing::FakeAdminBroker broker;
  RunResult r = RunAgainst(broker, {"seek", "nope", "--earliest", "--broker", broker.endpoint()},
                           [&](const v1::GroupRequest&) {
                             v1::AdminReply reply;
                             reply.set_error("unknown group 'nope'");
                             return Admin(reply);
                           });
  ExpectOneLineError(r, 1, "unknown group 'nope'");
}

TEST(AdminCliTest, AnUnreachableBrokerIsOneLineAndExitOne) {
  std::string dir = signalbus::testing::MakeTempDir("sb-admin");
  RunResult r = RunToCompletion("signalbus-admin", {"groups", "--broker", "ipc://" + dir + "/none", "--timeout", "300ms"});
  ExpectOneLineError(r, 1, "no broker answered at ipc://" + dir + "/none within 300ms");
}

TEST(AdminCliTest, FlagMistakesAreOneLineAndExitTwo) {
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"--no-such-flag"}), 2, "no-such-flag");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {}), 2, "choose a command");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"dlq"}), 2, "choose list, replay or purge");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"seek", "g"}), 2, "--earliest,--latest,--offset,--time");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"seek", "g", "--earliest", "--latest"}), 2, "2 were given");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"seek", "g", "--time", "yesterday"}), 2, "--time");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"dlq", "list"}), 2, "group");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"delete-group"}), 2, "group");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"dlq", "replay", "g", "--offset", "-1"}), 2, "--offset");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"groups", "--timeout", "soon"}), 2, "--timeout");
  ExpectOneLineError(RunToCompletion("signalbus-admin", {"groups", "--broker", "localhost:5557"}), 2, "--broker");
}

}  // namespace
}  // namespace signalbus::admin
