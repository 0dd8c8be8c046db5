// The live fan-out against listeners that are stalled or wrong, with the real broker,
// publisher, group member and signalbus-listen: stalled listeners of ~900 KB events hold
// no more than their windows while everyone else is served; 20,000 subscriptions from
// one client are refused past the cap; unsubscribes from connections that do not hold
// the pattern (a raw DEALER, raw SUB and XSUB sockets) change nothing for a real listener.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "broker_process.h"
#include "line_counter.h"
#include "ndjson_events.h"
#include "proc_stats.h"
#include "process.h"
#include "raw_live_client.h"
#include "sample_events.h"
#include "signalbus/core/sockets.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

v1::Event LargeUserEvent(int pk, std::size_t bytes) {
  v1::Event e = UserCreated(std::to_string(pk));
  (*e.mutable_model_save()->mutable_instance()->mutable_fields()->mutable_fields())["document"].set_string_value(
      std::string(bytes, 'd'));
  return e;
}

class LiveLimitsTest : public ::testing::Test {
 protected:
  void Publish(const std::vector<v1::Event>& events) {
    std::string path = WriteEvents(dir_ + "/batch.ndjson", events);
    RunResult r = RunToCompletion("signalbus-publish", {"--broker", broker_->ingest(), "--ndjson", path, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::uint64_t BrokerRss() { return ResidentBytes(broker_->process().pid()).value_or(0); }
  double Refused(const std::string& reason) {
    return broker_->Metric("signalbus_live_refused_total{reason=\"" + reason + "\"}");
  }

  std::string dir_ = MakeTempDir("sb-live-limits");
  std::unique_ptr<BrokerProcess> broker_;
};

// Three listeners that stop reading (SIGSTOP) at different points of a stream of ~900 KB
// events, each with the largest window it may ask for. Without windows the broker kept
// every event sent to them; now each holds at most its window, and is expired after
// three heartbeat intervals (its record stays while its connection may still hold what
// was sent). Meanwhile a publisher, a consumer group (signalbus-audit) and a real
// signalbus-listen get every event.
TEST_F(LiveLimitsTest, StalledListenersOfLargeEventsHoldAtMostTheirWindowsWhileOthersGetEverything) {
  constexpr std::uint64_t kWindow = 4 << 20;  // --live-max-window-bytes below
  constexpr std::size_t kEventBytes = 900'000;
  constexpr int kBatches = 32;
  // 2.7 MB: within the real listener's window with room for one event of the batch before
  // (whose credit may still be on its way when the next batch arrives).
  constexpr int kPerBatch = 3;
  constexpr int kEvents = kBatches * kPerBatch;
  broker_ = std::make_unique<BrokerProcess>(
      std::vector<std::string>{"--live-max-window-bytes", std::to_string(kWindow), "--fsync", "interval:10ms"});
  ASSERT_TRUE(broker_->ready());

  const std::string audit_file = dir_ + "/audit.ndjson";
  Process audit("signalbus-audit", {"--file", audit_file, "--groups", broker_->groups(), "--start", "earliest",
                                    "--credits", "4"});
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_group_members{group=\"audit\"}", 1, 20s)) << audit.Stderr();
  Process listener("signalbus-listen", {"--live", broker_->live(), "--window", std::to_string(kWindow)});
  std::vector<std::unique_ptr<Process>> stalled;
  for (int i = 0; i < 3; ++i) {
    stalled.push_back(std::make_unique<Process>(
        "signalbus-listen", std::vector<std::string>{"--live", broker_->live(), "--window", "1073741824"}));
  }
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_subscriptions", 4, 20s)) << listener.Stderr();
  // Each asked for 1 GiB and was granted the maximum.
  EXPECT_EQ(broker_->Metric("signalbus_live_reserved_bytes"), 4.0 * kWindow);

  // Warm the paths every event takes (ingest, log, group, the real listener) with one
  // batch before the baseline.
  std::vector<std::string> ids;
  int pk = 0;
  auto publish_batch = [&] {
    std::vector<v1::Event> batch;
    for (int i = 0; i < kPerBatch; ++i) {
      batch.push_back(LargeUserEvent(pk++, kEventBytes));
      ids.push_back(batch.back().event_id());
    }
    Publish(batch);
  };
  LineCounter printed(listener.stdout_path());
  publish_batch();
  ASSERT_TRUE(Eventually([&] { return printed.Count() == ids.size(); }, 30s)) << listener.Stderr();
  const std::uint64_t baseline = BrokerRss();

  std::uint64_t peak = baseline;
  // They stop at different points, so each holds other events (the frames are shared).
  const int stop_before[3] = {1, kBatches / 3, 2 * kBatches / 3};
  for (int b = 1; b < kBatches; ++b) {
    for (int i = 0; i < 3; ++i) {
      if (b == stop_before[i]) stalled[i]->Signal(SIGSTOP);
    }
    publish_batch();
    // The real listener keeps up (its window holds a whole batch); the stalled do not.
    ASSERT_TRUE(Eventually([&] { return printed.Count() == ids.size(); }, 30s))
        << "the real listener printed " << printed.Count() << " of " << ids.size() << "; stderr:\n"
        << listener.Stderr();
    peak = std::max(peak, BrokerRss());
  }
  ASSERT_TRUE(Eventually([&] { return LineCounter(audit_file).Count() == static_cast<std::size_t>(kEvents); }, 60s))
      << audit.Stderr();
  peak = std::max(peak, BrokerRss());

  // Everything, in order, to the real listener and the group.
  EXPECT_EQ(EventIdsInFile(listener.stdout_path()), ids);
  EXPECT_EQ(EventIdsInFile(audit_file), ids);
  EXPECT_EQ(listener.Stderr().find("dropped"), std::string::npos) << listener.Stderr();
  // The stalled listeners' drops are counted, and they are expired once silent.
  EXPECT_GT(broker_->Metric("signalbus_live_dropped_total"), 0);
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_expired_total", 3, 20s));
  EXPECT_LE(broker_->Metric("signalbus_live_unread_bytes"), 3.0 * kWindow + kWindow);

  // The bound: each stalled listener holds at most its window (charged with ZeroMQ's
  // per-message overhead), plus the fixed per-connection bounds (inbound queue, marks,
  // probes: under 4 MiB); the rest is slack for the allocator and the other paths.
  constexpr std::uint64_t kPerListenerFixed = 4 << 20;
  constexpr std::uint64_t kSlack = 32 << 20;
  const std::uint64_t bound = baseline + 3 * (kWindow + kPerListenerFixed) + kSlack;
  std::printf("stalled listeners: %d events of %zu bytes; broker RSS baseline %.1f MiB, peak %.1f MiB, bound %.1f MiB; "
              "dropped %.0f, unread %.1f MiB\n",
              kEvents, kEventBytes, baseline / 1048576.0, peak / 1048576.0, bound / 1048576.0,
              broker_->Metric("signalbus_live_dropped_total"),
              broker_->Metric("signalbus_live_unread_bytes") / 1048576.0);
  EXPECT_LE(peak, bound) << "the broker grew by " << (peak - baseline) / kMiB << " MiB";

  // Gone connections are forgotten, with what they held.
  for (auto& p : stalled) {
    p->Signal(SIGKILL);
    p->Wait(5s);
  }
  EXPECT_TRUE(Eventually([&] { return broker_->Metric("signalbus_live_listeners") == 1; }, 20s));
  EXPECT_EQ(broker_->Metric("signalbus_live_reserved_bytes"), 1.0 * kWindow);
  EXPECT_EQ(listener.Stop(), 0);
  EXPECT_EQ(audit.Stop(), 0);
}

// One raw client asks for 20,000 patterns (in requests under the size limit, and once in
// a single oversized frame): the broker keeps 256 (--live-max-patterns), counts every
// refused one, grows by little, and a real listener is served as before.
TEST_F(LiveLimitsTest, TwentyThousandSubscriptionsFromOneClientAreRefusedPastTheCapAndCostLittle) {
  constexpr int kPatterns = 20'000;
  constexpr int kMaxPatterns = 256;  // the default
  broker_ = std::make_unique<BrokerProcess>();
  ASSERT_TRUE(broker_->ready());
  Process listener("signalbus-listen", {"--live", broker_->live(), "auth.User"});
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_subscriptions", 1, 20s)) << listener.Stderr();
  const std::uint64_t before = BrokerRss();

  std::vector<std::string> patterns;
  for (int i = 0; i < kPatterns; ++i) patterns.push_back("app.Model" + std::to_string(i) + "/post_save");
  // First in one frame of ~560 KB: over the 16 KiB request limit, so ZeroMQ drops that
  // connection before the broker sees it.
  RawLiveClient oversized(broker_->live());
  ASSERT_TRUE(oversized.Subscribe(patterns));
  // Then in requests of 500 patterns (~13 KB each).
  RawLiveClient client(broker_->live());
  for (int i = 0; i < kPatterns; i += 500) {
    ASSERT_TRUE(client.Subscribe(std::vector<std::string>(patterns.begin() + i, patterns.begin() + i + 500)));
  }
  ASSERT_TRUE(Eventually([&] { return Refused("too_many_patterns") == kPatterns - kMaxPatterns; }, 20s))
      << Refused("too_many_patterns");
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_subscriptions", 1 + kMaxPatterns, 20s));
  EXPECT_EQ(broker_->Metric("signalbus_live_subscriptions"), 1 + kMaxPatterns);
  // The client is told, in each answer, how many it holds and what was refused.
  std::optional<v1::LiveReply> answer;
  for (int i = 0; i < kPatterns / 500; ++i) answer = client.NextReplyOfKind(v1::LiveReply::kSubscribed, 5s);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->subscribed().patterns(), static_cast<std::uint32_t>(kMaxPatterns));
  EXPECT_EQ(answer->subscribed().refused(), 500u);
  EXPECT_EQ(answer->subscribed().refused_reason(), "too_many_patterns");

  const std::uint64_t after = BrokerRss();
  std::printf("20k subscriptions: broker RSS %.1f MiB before, %.1f MiB after; %.0f refused, %.0f held\n",
              before / 1048576.0, after / 1048576.0, Refused("too_many_patterns"),
              broker_->Metric("signalbus_live_subscriptions"));
  EXPECT_LE(after, before + 8 * kMiB);

  std::vector<v1::Event> events;
  for (int i = 0; i < 10; ++i) events.push_back(UserCreated(std::to_string(i)));
  Publish(events);
  LineCounter printed(listener.stdout_path());
  EXPECT_TRUE(Eventually([&] { return printed.Count() == events.size(); }, 20s)) << listener.Stdout();
  EXPECT_TRUE(broker_->process().Running());
}

// What switched live delivery off for everyone on XPUB: unsubscribes for topics never
// subscribed. From a raw DEALER speaking the protocol, from one sending the 0x00 frames a
// SUB would, from a listener unsubscribing what another holds, and from raw SUB and XSUB
// sockets (which ZeroMQ does not even let talk to a ROUTER): a real listener gets every
// event, during and after.
TEST_F(LiveLimitsTest, UnbalancedUnsubscribesFromRawSocketsChangeNothingForARealListener) {
  broker_ = std::make_unique<BrokerProcess>();
  ASSERT_TRUE(broker_->ready());
  Process listener("signalbus-listen", {"--live", broker_->live()});
  ASSERT_TRUE(broker_->WaitForMetric("signalbus_live_subscriptions", 1, 20s)) << listener.Stderr();

  RawLiveClient stranger(broker_->live());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(stranger.Unsubscribe({"*", "auth.User/post_save", "never.Subscribed/x"}));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(stranger.SendFrames({std::string("\x00", 1) + "auth.User/"}));
  RawLiveClient other(broker_->live());
  ASSERT_TRUE(other.Subscribe({"shop.Order"}));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(other.Unsubscribe({"*"}));
  zmq::socket_t sub = MakeSocket(SharedContext(), zmq::socket_type::sub);
  zmq::socket_t xsub = MakeSocket(SharedContext(), zmq::socket_type::xsub);
  ASSERT_TRUE(Connect(sub, broker_->live()).ok());
  ASSERT_TRUE(Connect(xsub, broker_->live()).ok());
  for (int i = 0; i < 5; ++i) {
    sub.set(zmq::sockopt::subscribe, "auth.");
    sub.set(zmq::sockopt::unsubscribe, "auth.");
    sub.set(zmq::sockopt::unsubscribe, "never.");
    ASSERT_TRUE(xsub.send(zmq::buffer(std::string("\x00", 1)), zmq::send_flags::none));
    ASSERT_TRUE(xsub.send(zmq::buffer(std::string("\x00auth.User/", 11)), zmq::send_flags::none));
  }
  ASSERT_TRUE(Eventually(
      [&] {
        return Refused("unknown_listener") == 5 && Refused("bad_request") == 5 && Refused("not_subscribed") == 5;
      },
      20s))
      << Refused("unknown_listener") << " " << Refused("bad_request") << " " << Refused("not_subscribed");
  // The listener's and the other's own (the gauge is refreshed every 100 ms).
  EXPECT_TRUE(Eventually([&] { return broker_->Metric("signalbus_live_subscriptions") == 2; }, 20s));

  LineCounter printed(listener.stdout_path());
  std::vector<v1::Event> events;
  for (int i = 0; i < 200; ++i) events.push_back(UserCreated(std::to_string(i)));
  Publish(events);
  ASSERT_TRUE(Eventually([&] { return printed.Count() == 200; }, 20s)) << printed.Count();
  // After the attackers leave too.
  stranger.Close();
  other.Close();
  sub.close();
  xsub.close();
  std::vector<v1::Event> more;
  for (int i = 200; i < 400; ++i) more.push_back(UserCreated(std::to_string(i)));
  Publish(more);
  ASSERT_TRUE(Eventually([&] { return printed.Count() == 400; }, 20s)) << printed.Count();
  std::vector<std::string> want;
  for (const auto* list : {&events, &more}) {
    for (const v1::Event& e : *list) want.push_back(e.event_id());
  }
  EXPECT_EQ(EventIdsInFile(listener.stdout_path()), want);
  EXPECT_EQ(broker_->Metric("signalbus_live_dropped_total"), 0);
  EXPECT_EQ(listener.Stop(), 0) << listener.Stderr();
}

}  // namespace
}  // namespace signalbus::testing
