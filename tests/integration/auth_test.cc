// A real broker with CURVE and an allow-list against real clients: strangers, clients
// without CURVE, PLAIN and a wrong pinned broker key get nothing in or out on any endpoint;
// a principal outside its grants is refused, counted and told why; a key removed by
// SIGHUP is refused at its next message; the broker's key rotates with the old and the
// next key side by side; a world-readable broker key stops the start.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_process.h"
#include "process.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/curve_config.h"
#include "signalbus/core/sockets.h"
#include "signalbus/publisher/publisher.h"
#include "test_curve.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

void WriteAllowList(const std::string& path, const std::string& accounts_key, const std::string& ops_key) {
  std::ofstream(path) << "[[principal]]\nname = \"accounts\"\nkeys = [\"" << accounts_key
                      << "\"]\npublish = [\"auth.User/*\"]\nsubscribe = [\"auth.User/post_save\"]\n"
                         "join = [\"profile-creator\"]\nadmin = [\"list\"]\n\n"
                         "[[principal]]\nname = \"ops\"\nkeys = [\""
                      << ops_key << "\"]\nadmin = [\"*\"]\n";
}

class AuthTest : public ::testing::Test {
 protected:
  AuthTest()
      : dir_(MakeTempDir("sb-auth-test")),
        broker_key_(MakeTestKey(dir_, "broker")),
        accounts_(MakeTestKey(dir_, "accounts")),
        ops_(MakeTestKey(dir_, "ops")),
        stranger_(MakeTestKey(dir_, "stranger")),
        allow_list_(dir_ + "/allow.toml") {
    WriteAllowList(allow_list_, accounts_.public_key, ops_.public_key);
    broker_ = std::make_unique<BrokerProcess>(
        std::vector<std::string>{"--curve-key-file", broker_key_.key_file, "--allow-list", allow_list_});
  }

  void SetUp() override { ASSERT_TRUE(broker_->ready()); }

  // A CLI's arguments with this key and the broker's public key pinned.
  std::vector<std::string> As(const TestKey& key, std::vector<std::string> args,
                              const std::string& pinned = "") const {
    args.insert(args.end(), {"--curve-server-key", pinned.empty() ? broker_key_.pub_file : pinned,
                             "--curve-key-file", key.key_file});
    return args;
  }

  RunResult Publish(std::vector<std::string> extra, const std::string& sender = "auth.User") const {
    std::vector<std::string> args{"post_save", sender, "--pk", "7", "--created", "--broker", broker_->ingest(),
                                  "--timeout", "3s"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunToCompletion("signalbus-publish", args, 30s);
  }

  double Metric(const std::string& sample) const { return broker_->Metric(sample); }

  // Whether an operator's listing shows a group of that name.
  bool GroupListed(const std::string& name) const {
    RunResult listed = RunToCompletion("signalbus-admin", As(ops_, {"--broker", broker_->groups(), "groups"}), 30s);
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    return listed.out.find(name) != std::string::npos;
  }

  std::string dir_;
  TestKey broker_key_, accounts_, ops_, stranger_;
  std::string allow_list_;
  std::unique_ptr<BrokerProcess> broker_;
};

// Connects a socket of `type` with PLAIN credentials and sends `frames` (the broker
// serves CURVE only: the handshake fails and nothing arrives).
void SendWithPlain(zmq::socket_type type, const std::string& endpoint, const std::vector<std::string>& frames) {
  zmq::socket_t socket = MakeSocket(SharedContext(), type);
  socket.set(zmq::sockopt::plain_username, "accounts");
  socket.set(zmq::sockopt::plain_password, "secret");
  socket.connect(endpoint);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    (void)socket.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                                                     : zmq::send_flags::dontwait);
  }
  socket.close();
}

TEST_F(AuthTest, StrangersNoCurvePlainAndAWrongBrokerKeyGetNothingInOrOutOnAnyEndpoint) {
  // A granted listener watches what the broker sends live.
  Process watcher("signalbus-listen", As(accounts_, {"auth.User/post_save", "--live", broker_->live()}));
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_subscriptions", 1, 20s)) << watcher.Stderr();

  RunResult stranger = Publish(As(stranger_, {}));
  EXPECT_NE(stranger.exit_code, 0);
  EXPECT_NE(stranger.err.find("allow-list"), std::string::npos) << stranger.err;
  RunResult no_curve = Publish({});
  EXPECT_NE(no_curve.exit_code, 0);
  EXPECT_NE(no_curve.err.find("handshake failed"), std::string::npos) << no_curve.err;
  RunResult wrong_broker = Publish(As(accounts_, {}, stranger_.pub_file));
  EXPECT_NE(wrong_broker.exit_code, 0);
  EXPECT_NE(wrong_broker.err.find("--curve-server-key"), std::string::npos) << wrong_broker.err;

  // Reading: live and as a group member, as a stranger and without CURVE.
  for (const std::vector<std::string>& args :
       {As(stranger_, {"auth.User/post_save", "--live", broker_->live(), "--count", "1"}),
        std::vector<std::string>{"auth.User/post_save", "--live", broker_->live(), "--count", "1"},
        As(stranger_, {"auth.User/post_save", "--group", "profile-creator", "--groups", broker_->groups(),
                       "--join-timeout", "3s", "--count", "1"}),
        As(ops_, {"auth.User/post_save", "--group", "profile-creator", "--groups", broker_->groups(), "--join-timeout",
                  "3s", "--count", "1"}, stranger_.pub_file)}) {
    RunResult r = RunToCompletion("signalbus-listen", args, 30s);
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  RunResult admin = RunToCompletion("signalbus-admin", As(stranger_, {"--broker", broker_->groups(), "groups"}), 30s);
  EXPECT_NE(admin.exit_code, 0);
  EXPECT_NE(admin.err.find("allow-list"), std::string::npos) << admin.err;

  // PLAIN on every endpoint, with a well-formed event and requests behind it.
  const v1::Event forged = UserCreated("666");
  SendWithPlain(zmq::socket_type::dealer, broker_->ingest(), {TopicOf(forged), EncodeEvent(forged)});
  SendWithPlain(zmq::socket_type::dealer, broker_->live(), {"junk"});
  SendWithPlain(zmq::socket_type::dealer, broker_->groups(), {"junk"});

  EXPECT_EQ(Metric("signalbus_ingest_accepted_total"), 0);
  EXPECT_EQ(Metric("signalbus_log_durable_offset"), 0);
  EXPECT_FALSE(GroupListed("profile-creator")) << "no stranger made or joined a group";
  EXPECT_EQ(Metric("signalbus_live_listeners"), 1) << "only the granted listener is subscribed";
  EXPECT_GE(Metric("signalbus_auth_refused_total{op=\"connect\"}"), 4);
  EXPECT_EQ(Metric("signalbus_auth_handler_up"), 1);

  // The first event the watcher sees is the granted publisher's.
  RunResult granted = Publish(As(accounts_, {}));
  ASSERT_EQ(granted.exit_code, 0) << granted.err;
  ASSERT_TRUE(watcher.WaitForStdoutLine("\"auth.User\"", 20s)) << watcher.Stderr();
  EXPECT_EQ(watcher.Stdout().find("666"), std::string::npos) << watcher.Stdout();
  EXPECT_EQ(Metric("signalbus_ingest_accepted_total"), 1);
}

TEST_F(AuthTest, PublishingASenderOutsideTheGrantIsRefusedAsForbiddenAndNothingIsLogged) {
  RunResult r = Publish(As(accounts_, {}), "shop.Order");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("forbidden"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("may not publish shop.Order/post_save"), std::string::npos) << r.err;
  RunResult ops = Publish(As(ops_, {}));
  EXPECT_NE(ops.exit_code, 0);
  EXPECT_NE(ops.err.find("forbidden"), std::string::npos) << ops.err;
  EXPECT_EQ(Metric("signalbus_auth_refused_total{op=\"publish\"}"), 2);
  EXPECT_EQ(Metric("signalbus_log_durable_offset"), 0);
  EXPECT_EQ(Metric("signalbus_ingest_accepted_total"), 0);
}

TEST_F(AuthTest, SubscribingOrJoiningOutsideTheGrantIsRefusedCountedAndToldWhy) {
  RunResult live = RunToCompletion(
      "signalbus-listen", As(accounts_, {"auth.User/*", "--live", broker_->live(), "--count", "1"}), 30s);
  EXPECT_NE(live.exit_code, 0);
  EXPECT_NE(live.err.find("auth.User/*"), std::string::npos) << live.err;
  EXPECT_GE(Metric("signalbus_auth_refused_total{op=\"subscribe\"}"), 1);
  EXPECT_EQ(Metric("signalbus_live_subscriptions"), 0);

  RunResult group = RunToCompletion(
      "signalbus-listen", As(accounts_, {"auth.User/post_save", "--group", "billing", "--groups", broker_->groups(),
                                         "--join-timeout", "3s", "--count", "1"}),
      30s);
  EXPECT_NE(group.exit_code, 0);
  EXPECT_NE(group.err.find("forbidden"), std::string::npos) << group.err;
  EXPECT_GE(Metric("signalbus_auth_refused_total{op=\"join\"}"), 1);

  RunResult topics = RunToCompletion(
      "signalbus-listen", As(accounts_, {"*/post_save", "--group", "profile-creator", "--groups", broker_->groups(),
                                         "--join-timeout", "3s", "--count", "1"}),
      30s);
  EXPECT_NE(topics.exit_code, 0);
  EXPECT_NE(topics.err.find("forbidden"), std::string::npos) << topics.err;
  EXPECT_FALSE(GroupListed("billing")) << "the refused join made no group";
  EXPECT_FALSE(GroupListed("profile-creator")) << "the refused join made no group";
}

TEST_F(AuthTest, AdminRequestsNeedTheirGrantListIsNotPurge) {
  // A group to administer, made by a granted member that reads one event and leaves.
  Process member("signalbus-listen", As(accounts_, {"auth.User/post_save", "--group", "profile-creator", "--groups",
                                                    broker_->groups(), "--count", "1"}));
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_group_members{group=\"profile-creator\"}", 1, 20s)) << member.Stderr();
  RunResult published = Publish(As(accounts_, {}));
  ASSERT_EQ(published.exit_code, 0) << published.err;
  ASSERT_EQ(member.Wait(20s), 0) << member.Stderr();

  RunResult list = RunToCompletion("signalbus-admin", As(accounts_, {"--broker", broker_->groups(), "groups"}), 30s);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  for (const std::vector<std::string>& request :
       {std::vector<std::string>{"dlq", "list", "profile-creator"},  // dead letters carry events: not 'list'
        std::vector<std::string>{"dlq", "purge", "profile-creator"},
        std::vector<std::string>{"seek", "profile-creator", "--latest"},
        std::vector<std::string>{"delete-group", "profile-creator"}}) {
    std::vector<std::string> args{"--broker", broker_->groups()};
    args.insert(args.end(), request.begin(), request.end());
    RunResult r = RunToCompletion("signalbus-admin", As(accounts_, args), 30s);
    EXPECT_NE(r.exit_code, 0) << request[0];
    EXPECT_NE(r.err.find("forbidden"), std::string::npos) << r.err;
  }
  EXPECT_GE(Metric("signalbus_auth_refused_total{op=\"admin\"}"), 4);
  RunResult seek = RunToCompletion(
      "signalbus-admin", As(ops_, {"--broker", broker_->groups(), "seek", "profile-creator", "--latest"}), 30s);
  EXPECT_EQ(seek.exit_code, 0) << seek.err;
}

TEST_F(AuthTest, AKeyRemovedBySighupIsRefusedAtItsNextMessageOnTheConnectionItHas) {
  PublisherOptions options;
  options.endpoint = broker_->ingest();
  options.curve = CurveClientSettings{broker_key_.pub_file, accounts_.key_file};
  Result<std::unique_ptr<Publisher>> connected = Publisher::Connect(options);
  ASSERT_TRUE(connected.ok()) << connected.status().ToString();
  Publisher& publisher = **connected;
  ASSERT_TRUE(publisher.Publish(UserCreated("1")).ok());
  ASSERT_TRUE(publisher.Flush(10s).ok());
  ASSERT_EQ(Metric("signalbus_ingest_accepted_total"), 1);

  WriteAllowList(allow_list_, ops_.public_key, ops_.public_key + "x");  // a bad file first: kept
  broker_->process().Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] { return broker_->process().Stderr().find("not reloaded") != std::string::npos; }, 20s));
  ASSERT_TRUE(publisher.Publish(UserCreated("2")).ok());
  ASSERT_TRUE(publisher.Flush(10s).ok()) << "a bad allow-list keeps the old one in force";

  // Now without the accounts key.
  std::ofstream(allow_list_) << "[[principal]]\nname = \"ops\"\nkeys = [\"" << ops_.public_key
                             << "\"]\nadmin = [\"*\"]\n";
  broker_->process().Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] { return broker_->process().Stderr().find("reloaded: 1 principals") != std::string::npos; },
                         20s));
  ASSERT_TRUE(publisher.Publish(UserCreated("3")).ok());
  Status flushed = publisher.Flush(10s);
  EXPECT_FALSE(flushed.ok());
  EXPECT_NE(flushed.ToString().find("forbidden"), std::string::npos) << flushed.ToString();
  EXPECT_EQ(Metric("signalbus_ingest_accepted_total"), 2);
  EXPECT_EQ(Metric("signalbus_log_durable_offset"), 2);
  // And a new connection with it does not get in.
  RunResult again = Publish(As(accounts_, {}));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("allow-list"), std::string::npos) << again.err;
}

// A fixed publisher id (an outbox relay's) reserved for its service in the allow-list:
// another service that may publish is refused it, also by a restarted broker that has
// the id in its log but has not seen its owner yet, while ids no one reserved stay free.
TEST(PublisherIdReservationTest, AReservedIdIsRefusedToAnotherServiceBeforeAndAfterARestart) {
  const std::string dir = MakeTempDir("sb-auth-reserved");
  const TestKey broker_key = MakeTestKey(dir, "broker");
  const TestKey accounts = MakeTestKey(dir, "accounts");
  const TestKey billing = MakeTestKey(dir, "billing");
  const std::string allow = dir + "/allow.toml";
  std::ofstream(allow) << "[[principal]]\nname = \"accounts\"\nkeys = [\"" << accounts.public_key
                       << "\"]\npublish = [\"auth.User/*\"]\npublisher_ids = [\"accounts-outbox*\"]\n\n"
                          "[[principal]]\nname = \"billing\"\nkeys = [\""
                       << billing.public_key << "\"]\npublish = [\"auth.User/*\"]\n";
  auto publish_as = [&](const BrokerProcess& broker, const TestKey& key, const std::string& id,
                        const std::string& pk) {
    PublisherOptions options;
    options.endpoint = broker.ingest();
    options.publisher_id = id;
    options.connect_timeout = 10s;
    options.curve = CurveClientSettings{broker_key.pub_file, key.key_file};
    Result<std::unique_ptr<Publisher>> connected = Publisher::Connect(options);
    if (!connected.ok()) return connected.status();
    if (Status s = (*connected)->Publish(UserCreated(pk)); !s.ok()) return s;
    return (*connected)->Flush(10s);
  };
  const std::vector<std::string> curve{"--curve-key-file", broker_key.key_file, "--allow-list", allow};
  auto broker = std::make_unique<BrokerProcess>(curve);
  ASSERT_TRUE(broker->ready());

  Status stolen = publish_as(*broker, billing, "accounts-outbox-1", "1");
  EXPECT_FALSE(stolen.ok());
  EXPECT_NE(stolen.ToString().find("reserved for principal 'accounts'"), std::string::npos) << stolen.ToString();
  Status owner = publish_as(*broker, accounts, "accounts-outbox-1", "2");
  EXPECT_TRUE(owner.ok()) << owner.ToString();
  Status free_id = publish_as(*broker, billing, "billing-relay-1", "3");
  EXPECT_TRUE(free_id.ok()) << free_id.ToString();

  // A restart on the same log: the broker knows accounts-outbox-1 from it, not its owner.
  std::vector<std::string> again = curve;
  again.insert(again.end(), {"--data-dir", broker->data_dir()});
  broker.reset();
  broker = std::make_unique<BrokerProcess>(again);
  ASSERT_TRUE(broker->ready());
  stolen = publish_as(*broker, billing, "accounts-outbox-1", "4");
  EXPECT_FALSE(stolen.ok());
  EXPECT_NE(stolen.ToString().find("reserved for principal 'accounts'"), std::string::npos) << stolen.ToString();
  EXPECT_EQ(broker->Metric("signalbus_auth_refused_total{op=\"publish\"}"), 1);
  EXPECT_EQ(broker->Metric("signalbus_log_durable_offset"), 2);
}

// The broker-wide tables are shared out by principal: one service past its share of live
// listeners or group members is refused, naming it, while another still gets in.
TEST(PrincipalBoundsTest, AServicePastItsShareOfListenersOrMembersIsRefusedAndAnotherStillGetsIn) {
  const std::string dir = MakeTempDir("sb-auth-bounds");
  const TestKey broker_key = MakeTestKey(dir, "broker");
  const TestKey accounts = MakeTestKey(dir, "accounts");
  const TestKey ops = MakeTestKey(dir, "ops");
  const std::string allow = dir + "/allow.toml";
  WriteAllowList(allow, accounts.public_key, ops.public_key);
  std::ofstream(allow, std::ios::app) << "subscribe = [\"*\"]\njoin = [\"*\"]\n";  // ops reads and joins too
  BrokerProcess broker({"--curve-key-file", broker_key.key_file, "--allow-list", allow,
                        "--live-max-listeners-per-principal", "1", "--max-group-members-per-principal", "1"});
  ASSERT_TRUE(broker.ready());
  auto as = [&](const TestKey& key, std::vector<std::string> args) {
    args.insert(args.end(), {"--curve-server-key", broker_key.pub_file, "--curve-key-file", key.key_file});
    return args;
  };
  const std::vector<std::string> live{"auth.User/post_save", "--live", broker.live()};
  const std::vector<std::string> member{"auth.User/post_save", "--group", "profile-creator", "--groups",
                                        broker.groups(), "--join-timeout", "5s"};

  Process first_listener("signalbus-listen", as(accounts, live));
  ASSERT_TRUE(broker.WaitForMetric("signalbus_live_listeners", 1, 20s)) << first_listener.Stderr();
  std::vector<std::string> one = live;
  one.insert(one.end(), {"--count", "1"});
  RunResult second_listener = RunToCompletion("signalbus-listen", as(accounts, one), 30s);
  EXPECT_NE(second_listener.exit_code, 0);
  EXPECT_NE(second_listener.err.find("principal 'accounts' holds 1 live listeners"), std::string::npos)
      << second_listener.err;
  Process other_listener("signalbus-listen", as(ops, live));
  EXPECT_TRUE(broker.WaitForMetric("signalbus_live_listeners", 2, 20s)) << other_listener.Stderr();

  Process first_member("signalbus-listen", as(accounts, member));
  ASSERT_TRUE(broker.WaitForMetric("signalbus_group_members{group=\"profile-creator\"}", 1, 20s))
      << first_member.Stderr();
  std::vector<std::string> once = member;
  once.insert(once.end(), {"--count", "1"});
  RunResult second_member = RunToCompletion("signalbus-listen", as(accounts, once), 30s);
  EXPECT_NE(second_member.exit_code, 0);
  EXPECT_NE(second_member.err.find("principal 'accounts' has 1 members"), std::string::npos) << second_member.err;
  Process other_member("signalbus-listen", as(ops, member));
  EXPECT_TRUE(broker.WaitForMetric("signalbus_group_members{group=\"profile-creator\"}", 2, 20s))
      << other_member.Stderr();
}

// Rotating the broker's key: the current and the next key side by side on one broker
// (each endpoint twice), clients moving over one by one, then a restart on the next key
// alone that the old one no longer reaches.
TEST(BrokerKeyRotationTest, CurrentAndNextKeysServeSideBySideAndARestartOnTheNextKeyShutsTheOldOut) {
  const std::string dir = MakeTempDir("sb-auth-rotate");
  const TestKey old_key = MakeTestKey(dir, "broker-old");
  const TestKey next_key = MakeTestKey(dir, "broker-next");
  const TestKey client = MakeTestKey(dir, "accounts");
  const std::string allow = dir + "/allow.toml";
  WriteAllowList(allow, client.public_key, MakeTestKey(dir, "ops").public_key);
  auto as = [&](const TestKey& broker_key, std::vector<std::string> args) {
    args.insert(args.end(), {"--curve-server-key", broker_key.pub_file, "--curve-key-file", client.key_file});
    return args;
  };
  auto publish = [&](const std::string& endpoint, const TestKey& broker_key, const std::string& pk) {
    return RunToCompletion("signalbus-publish", as(broker_key, {"post_save", "auth.User", "--pk", pk, "--created",
                                                                "--broker", endpoint, "--timeout", "3s"}),
                           30s);
  };

  auto broker = std::make_unique<BrokerProcess>(std::vector<std::string>{
      "--curve-key-file", old_key.key_file, "--allow-list", allow, "--curve-next-key-file", next_key.key_file,
      "--ingest-next", "tcp://127.0.0.1:*", "--live-next", "tcp://127.0.0.1:*", "--groups-next", "tcp://127.0.0.1:*"});
  ASSERT_TRUE(broker->ready());
  const std::string ingest_next = broker->ReadyField("ingest_next");
  const std::string live_next = broker->ReadyField("live_next");
  const std::string groups_next = broker->ReadyField("groups_next");
  ASSERT_FALSE(ingest_next.empty() || live_next.empty() || groups_next.empty());
  ASSERT_NE(ingest_next, broker->ingest());

  // Readers that moved already: a group member and a live listener on the next key.
  Process member("signalbus-listen", as(next_key, {"auth.User/post_save", "--group", "profile-creator", "--groups",
                                                   groups_next, "--count", "2"}));
  Process watcher("signalbus-listen", as(next_key, {"auth.User/post_save", "--live", live_next, "--count", "2"}));
  ASSERT_TRUE(broker->WaitForMetric("signalbus_group_members{group=\"profile-creator\"}", 1, 20s)) << member.Stderr();
  ASSERT_TRUE(broker->WaitForMetric("signalbus_live_subscriptions", 1, 20s)) << watcher.Stderr();

  // One publisher still on the current key, one moved to the next.
  RunResult on_current = publish(broker->ingest(), old_key, "1");
  EXPECT_EQ(on_current.exit_code, 0) << on_current.err;
  RunResult on_next = publish(ingest_next, next_key, "2");
  EXPECT_EQ(on_next.exit_code, 0) << on_next.err;
  // Each endpoint speaks with its own key only.
  RunResult crossed = publish(broker->ingest(), next_key, "3");
  EXPECT_NE(crossed.exit_code, 0);
  EXPECT_NE(crossed.err.find("--curve-server-key"), std::string::npos) << crossed.err;
  EXPECT_EQ(member.Wait(20s), 0) << member.Stderr();
  EXPECT_EQ(watcher.Wait(20s), 0) << watcher.Stderr();
  for (const std::string& out : {member.Stdout(), watcher.Stdout()}) {
    EXPECT_NE(out.find("\"pk\":\"1\""), std::string::npos) << out;
    EXPECT_NE(out.find("\"pk\":\"2\""), std::string::npos) << out;
  }

  // Every client moved: the broker restarts on the next key alone.
  const std::string data_dir = broker->data_dir();
  broker.reset();
  BrokerProcess moved({"--curve-key-file", next_key.key_file, "--allow-list", allow, "--data-dir", data_dir});
  ASSERT_TRUE(moved.ready());
  RunResult stale = publish(moved.ingest(), old_key, "4");
  EXPECT_NE(stale.exit_code, 0);
  EXPECT_NE(stale.err.find("--curve-server-key"), std::string::npos) << stale.err;
  RunResult fresh = publish(moved.ingest(), next_key, "5");
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(moved.Metric("signalbus_log_durable_offset"), 3) << "pk 1, 2 and 5, each once";
}

TEST_F(AuthTest, AReloadThatNarrowsAGrantOrRemovesAKeyTakesBackWhatConnectionsHoldAndTellsThem) {
  Process listener("signalbus-listen", As(accounts_, {"auth.User/post_save", "--live", broker_->live()}));
  Process member("signalbus-listen", As(accounts_, {"auth.User/post_save", "--group", "profile-creator", "--groups",
                                                    broker_->groups()}));
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_listeners", 1, 20s)) << listener.Stderr();
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_group_members{group=\"profile-creator\"}", 1, 20s))
      << member.Stderr();

  // accounts may now read post_delete only; its key stays.
  std::ofstream(allow_list_) << "[[principal]]\nname = \"accounts\"\nkeys = [\"" << accounts_.public_key
                             << "\"]\nsubscribe = [\"auth.User/post_delete\"]\njoin = [\"profile-creator\"]\n\n"
                                "[[principal]]\nname = \"ops\"\nkeys = [\""
                             << ops_.public_key << "\"]\nadmin = [\"*\"]\n";
  broker_->process().Signal(SIGHUP);
  EXPECT_EQ(listener.Wait(20s), std::optional<int>(1)) << "it stops, not retries";
  EXPECT_NE(listener.Stderr().find("forbidden"), std::string::npos) << listener.Stderr();
  EXPECT_NE(listener.Stderr().find("may no longer read auth.User/post_save"), std::string::npos) << listener.Stderr();
  EXPECT_EQ(member.Wait(20s), std::optional<int>(1)) << "it stops, not rejoins";
  EXPECT_NE(member.Stderr().find("may no longer read auth.User/post_save"), std::string::npos) << member.Stderr();
  EXPECT_TRUE(Eventually([&] { return Metric("signalbus_live_listeners") == 0; }, 5s));
  EXPECT_TRUE(Eventually([&] { return Metric("signalbus_group_members{group=\"profile-creator\"}") == 0; }, 5s));
  EXPECT_GE(Metric("signalbus_auth_refused_total{op=\"subscribe\"}"), 1);
  EXPECT_GE(Metric("signalbus_auth_refused_total{op=\"join\"}"), 1);

  // A key removed: a listener it still has is told and forgotten at once.
  Process reader("signalbus-listen", As(accounts_, {"auth.User/post_delete", "--live", broker_->live()}));
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_listeners", 1, 20s)) << reader.Stderr();
  std::ofstream(allow_list_) << "[[principal]]\nname = \"ops\"\nkeys = [\"" << ops_.public_key
                             << "\"]\nadmin = [\"*\"]\n";
  broker_->process().Signal(SIGHUP);
  EXPECT_EQ(reader.Wait(20s), std::optional<int>(1)) << "it stops, not retries";
  EXPECT_NE(reader.Stderr().find("its key is no longer allowed"), std::string::npos) << reader.Stderr();
  EXPECT_TRUE(Eventually([&] { return Metric("signalbus_live_listeners") == 0; }, 5s)) << broker_->process().Stderr();
}

TEST(AuthStartTest, ABrokerKeyOthersCanReadOrAMissingHalfStopsTheStartWithOneLine) {
  const std::string dir = MakeTempDir("sb-auth-start");
  TestKey broker = MakeTestKey(dir, "broker");
  TestKey client = MakeTestKey(dir, "client");
  const std::string allow = dir + "/allow.toml";
  WriteAllowList(allow, client.public_key, MakeTestKey(dir, "ops").public_key);
  ASSERT_EQ(::chmod(broker.key_file.c_str(), 0644), 0);
  const std::vector<std::string> base{"--ingest", "tcp://127.0.0.1:*", "--live",      "tcp://127.0.0.1:*",
                                      "--groups", "tcp://127.0.0.1:*", "--data-dir", dir + "/data"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return RunToCompletion("signalbus-broker", args, 30s);
  };
  RunResult readable = run({"--curve-key-file", broker.key_file, "--allow-list", allow});
  EXPECT_NE(readable.exit_code, 0);
  EXPECT_NE(readable.err.find("chmod 600"), std::string::npos) << readable.err;
  EXPECT_EQ(readable.out.find("ready"), std::string::npos);

  ASSERT_EQ(::chmod(broker.key_file.c_str(), 0600), 0);
  RunResult no_list = run({"--curve-key-file", broker.key_file});
  EXPECT_NE(no_list.exit_code, 0);
  EXPECT_NE(no_list.err.find("--allow-list"), std::string::npos) << no_list.err;

  // A rotation needs a next endpoint for every endpoint, and the next key for any.
  TestKey next = MakeTestKey(dir, "broker-next");
  RunResult half_rotation = run({"--curve-key-file", broker.key_file, "--allow-list", allow, "--curve-next-key-file",
                                 next.key_file, "--ingest-next", "tcp://127.0.0.1:*"});
  EXPECT_NE(half_rotation.exit_code, 0);
  EXPECT_NE(half_rotation.err.find("--groups-next"), std::string::npos) << half_rotation.err;
  RunResult no_next_key = run({"--curve-key-file", broker.key_file, "--allow-list", allow, "--ingest-next",
                               "tcp://127.0.0.1:*"});
  EXPECT_NE(no_next_key.exit_code, 0);
  EXPECT_NE(no_next_key.err.find("--curve-next-key-file"), std::string::npos) << no_next_key.err;

  std::ofstream(allow) << "[[principal]]\nname = \"x\"\nkeys = [\"short\"]\n";
  RunResult bad_list = run({"--curve-key-file", broker.key_file, "--allow-list", allow});
  EXPECT_NE(bad_list.exit_code, 0);
  EXPECT_NE(bad_list.err.find(allow), std::string::npos) << bad_list.err;
}

}  // namespace
}  // namespace signalbus::testing
