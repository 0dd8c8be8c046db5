// signalbus-listen against a real broker: it prints exactly the events its topic
// patterns match (at segment boundaries), one NDJSON line each, and exits 0 after
// --count events or on SIGTERM; when it falls behind its window it says on stderr how
// many events the broker dropped for it; a bad pattern is one line on stderr and exit 2.
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_process.h"
#include "ndjson_events.h"
#include "process.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/event_json.h"
#include "signalbus/core/sockets.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

v1::Event UserProfileCreated(const std::string& pk) {
  v1::Event e = UserCreated(pk);
  e.set_sender("auth.UserProfile");
  e.set_ordering_key("auth.UserProfile:" + pk);
  e.mutable_model_save()->mutable_instance()->set_model("auth.UserProfile");
  return e;
}

v1::Event UserArchived(const std::string& pk) {
  v1::Event e = UserCreated(pk);
  e.set_signal("post_save_archived");
  e.clear_model_save();
  e.mutable_custom()->set_pk(pk);
  (*e.mutable_custom()->mutable_kwargs()->mutable_fields())["reason"].set_string_value("inactive");
  return e;
}

class ListenTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.ready()); }

  // Publishes the events, in order, with signalbus-publish; all confirmed.
  void Publish(const std::vector<v1::Event>& events) {
    std::string path = WriteEvents(MakeTempDir("sb-listen-test") + "/events.ndjson", events);
    RunResult r = RunToCompletion("signalbus-publish", {"--broker", broker_.ingest(), "--ndjson", path, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Waits until the broker has seen `n` live subscription prefixes.
  void WaitForSubscriptions(double n, Process& listener) {
    ASSERT_TRUE(broker_.WaitForMetric("signalbus_live_subscriptions", n, 20s))
        << "signalbus-listen never subscribed; stderr:\n"
        << listener.Stderr();
  }

  BrokerProcess broker_;
};

TEST_F(ListenTest, PrintsExactlyTheMatchingEventsAsNdjsonAndExitsAfterCount) {
  Process listen("signalbus-listen", {"auth.User/post_save", "--count", "2", "--live", broker_.live()});
  WaitForSubscriptions(1, listen);

  v1::Event first = UserCreated("41");
  v1::Event second = UserCreated("42");
  Publish({UserArchived("40"),         // same prefix, other signal: not a match
           UserProfileCreated("40"),   // same prefix, other sender: not a match
           first, second});

  std::optional<int> status = listen.Wait(30s);
  ASSERT_TRUE(status.has_value()) << "signalbus-listen did not exit; stdout:\n" << listen.Stdout();
  EXPECT_EQ(*status, 0) << listen.Stderr();
  std::vector<std::string> lines = Lines(listen.Stdout());
  ASSERT_EQ(lines.size(), 2u) << listen.Stdout();
  std::vector<std::string> ids;
  for (const std::string& line : lines) {
    Result<v1::Event> event = EventFromJson(line);
    ASSERT_TRUE(event.ok()) << event.status().ToString() << "\n" << line;
    EXPECT_EQ(TopicOf(*event), "auth.User/post_save");
    EXPECT_TRUE(event->model_save().created());
    ids.push_back(event->event_id());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{first.event_id(), second.event_id()}));
  // snake_case field names, as in the .proto.
  EXPECT_NE(lines[0].find("\"event_id\""), std::string::npos) << lines[0];
}

TEST_F(ListenTest, WithoutTopicsPrintsEverythingUntilSigterm) {
  Process listen("signalbus-listen", {"--live", broker_.live()});
  WaitForSubscriptions(1, listen);

  Publish({UserArchived("1"), UserProfileCreated("2"), UserCreated("3")});
  ASSERT_TRUE(Eventually([&] { return Lines(listen.Stdout()).size() == 3; }, 20s)) << listen.Stdout();

  std::vector<std::string> topics;
  for (const std::string& line : Lines(listen.Stdout())) {
    Result<v1::Event> event = EventFromJson(line);
    ASSERT_TRUE(event.ok()) << event.status().ToString();
    topics.push_back(TopicOf(*event));
  }
  EXPECT_EQ(topics, (std::vector<std::string>{"auth.User/post_save_archived", "auth.UserProfile/post_save",
                                              "auth.User/post_save"}));
  EXPECT_EQ(listen.Stop(), 0) << listen.Stderr();
}

TEST_F(ListenTest, SaysOnStderrHowManyEventsTheBrokerDroppedWhenItFellBehind) {
  // The smallest window holds three of these events; a long heartbeat keeps the listener
  // from being expired while it is stopped.
  Process listen("signalbus-listen", {"--live", broker_.live(), "--window", "65536", "--heartbeat", "20s"});
  WaitForSubscriptions(1, listen);
  std::vector<v1::Event> burst;
  for (int i = 0; i < 20; ++i) {
    v1::Event e = UserCreated(std::to_string(i));
    (*e.mutable_headers())["padding"] = std::string(20'000, 'p');
    burst.push_back(e);
  }
  listen.Signal(SIGSTOP);
  Publish(burst);
  ASSERT_TRUE(broker_.WaitForMetric("signalbus_live_dropped_total", 17, 20s));
  EXPECT_EQ(broker_.Metric("signalbus_live_forwarded_total"), 3);
  listen.Signal(SIGCONT);
  ASSERT_TRUE(Eventually([&] { return Lines(listen.Stdout()).size() == 3; }, 20s)) << listen.Stdout();
  // The next event comes after the broker's report of the gap.
  Publish({UserCreated("100")});
  ASSERT_TRUE(Eventually([&] { return Lines(listen.Stdout()).size() == 4; }, 20s)) << listen.Stdout();
  EXPECT_EQ(listen.Stop(), 0) << listen.Stderr();
  EXPECT_NE(listen.Stderr().find("the broker dropped 17 events for this listener"), std::string::npos)
      << listen.Stderr();
}

TEST(ListenRestart, SubscribesAgainWhenTheBrokerRestartsAndPrintsWhatIsPublishedThen) {
  // ipc:// endpoints, so the restarted broker binds the same ones.
  const std::string dir = MakeTempDir("sb-listen-restart");
  const std::vector<std::string> args = {"--ingest", "ipc://" + dir + "/ingest", "--live", "ipc://" + dir + "/live",
                                         "--groups", "ipc://" + dir + "/groups", "--data-dir", dir + "/data"};
  auto broker = std::make_unique<BrokerProcess>(args);
  ASSERT_TRUE(broker->ready());
  Process listen("signalbus-listen", {"--live", broker->live(), "--heartbeat", "200ms"});
  ASSERT_TRUE(broker->WaitForMetric("signalbus_live_subscriptions", 1, 20s)) << listen.Stderr();
  EXPECT_EQ(broker->process().Stop(), 0);
  broker = std::make_unique<BrokerProcess>(args);
  ASSERT_TRUE(broker->ready());
  // The new broker has never heard of it: it subscribes again on its own.
  ASSERT_TRUE(broker->WaitForMetric("signalbus_live_subscriptions", 1, 20s)) << listen.Stderr();
  v1::Event event = UserCreated("1");
  RunResult r = RunToCompletion("signalbus-publish", {"--broker", broker->ingest(), "--ndjson",
                                                      WriteEvents(dir + "/one.ndjson", {event}), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(Eventually([&] { return Lines(listen.Stdout()).size() == 1; }, 20s)) << listen.Stderr();
  EXPECT_EQ(EventFromJson(Lines(listen.Stdout())[0])->event_id(), event.event_id());
  EXPECT_EQ(listen.Stop(), 0) << listen.Stderr();
}

TEST(ListenRefused, ExitsOneWithTheBrokersReasonWhenTheBrokerHoldsAllTheListenersItAllows) {
  BrokerProcess broker({"--live-max-listeners", "1"});
  ASSERT_TRUE(broker.ready());
  Process first("signalbus-listen", {"--live", broker.live()});
  ASSERT_TRUE(broker.WaitForMetric("signalbus_live_listeners", 1, 20s)) << first.Stderr();
  RunResult second = RunToCompletion("signalbus-listen", {"--live", broker.live()}, 20s);
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("--live-max-listeners"), std::string::npos) << second.err;
  EXPECT_EQ(broker.Metric("signalbus_live_refused_total{reason=\"too_many_listeners\"}"), 1);
  EXPECT_TRUE(first.Running());
}

TEST(ListenUsage, BadPatternIsOneLineOnStderrAndExitTwo) {
  RunResult r = RunToCompletion("signalbus-listen", {"bad/pattern/x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("signalbus-listen"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad/pattern/x"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(ListenUsage, BadCountOrEndpointIsExitTwo) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{{"--count", "0"},
                                                                             {"--count", "-1"},
                                                                             {"--count", "many"},
                                                                             {"--live", "localhost:5556"},
                                                                             {"--window", "0"},
                                                                             {"--log-level", "loud"}}) {
    RunResult r = RunToCompletion("signalbus-listen", args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  }
}

}  // namespace
}  // namespace signalbus::testing
