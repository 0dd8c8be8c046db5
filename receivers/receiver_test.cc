// Receiver: registration rules, the run loop's counters, settling, and stopping, over a
// scripted in-memory EventSource (no sockets).
#include "signalbus/receivers/receiver.h"

#include <chrono>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "testing/scripted_source.h"

namespace signalbus {
namespace {

using std::chrono::milliseconds;

using testing::EventReceived;
using testing::MalformedReceived;
using testing::ScriptedSource;
using testing::Settled;
using testing::SourceLog;

v1::Event WithSignal(v1::Event event, const std::string& signal) {
  event.set_signal(signal);
  return event;
}

std::unique_ptr<Receiver> MakeReceiver(std::deque<Received> script, std::shared_ptr<SourceLog> log,
                                       std::size_t in_hand_at_drain = 0) {
  ReceiverOptions options;
  options.name = "test";
  options.poll_interval = milliseconds(20);
  return std::make_unique<Receiver>(
      options, std::make_unique<ScriptedSource>(std::move(script), std::move(log), in_hand_at_drain));
}

void Ignore(const v1::Event&) {}

TEST(ReceiverTest, RegistrationRejectsBadSendersAndSignals) {
  auto receiver = MakeReceiver({}, std::make_shared<SourceLog>());
  EXPECT_THROW(receiver->on("post_save", "auth.User/x", Ignore), std::invalid_argument);
  EXPECT_THROW(receiver->on("post_save", "", Ignore), std::invalid_argument);
  EXPECT_THROW(receiver->on("post-save", "auth.User", Ignore), std::invalid_argument);
  EXPECT_THROW(receiver->on("", "auth.User", Ignore), std::invalid_argument);
  EXPECT_THROW(receiver->on({"post_save", "bad/signal"}, "auth.User", Ignore), std::invalid_argument);
  EXPECT_THROW(receiver->on(std::initializer_list<std::string_view>{}, "auth.User", Ignore), std::invalid_argument);
  EXPECT_THROW(receiver->on("post_save", "auth.User", Handler()), std::invalid_argument);
  EXPECT_NO_THROW(receiver->on("*", "*", Ignore).on("post_save", "*", Ignore).on("*", "auth.User", Ignore));
}

TEST(ReceiverTest, SubscribesToEveryRegisteredPattern) {
  auto log = std::make_shared<SourceLog>();
  auto receiver = MakeReceiver({}, log);
  receiver->on("post_save", "auth.User", Ignore)
      .on({"post_delete", "pre_delete"}, "auth.User", Ignore)
      .on("order_paid", "*", Ignore)
      .on({*TopicPattern::Parse("shop.Order")}, Ignore);
  ASSERT_TRUE(receiver->Connect().ok());
  EXPECT_EQ(log->subscribed, (std::vector<std::string>{"auth.User/post_save", "auth.User/post_delete",
                                                       "auth.User/pre_delete", "*/order_paid", "shop.Order/*"}));
}

TEST(ReceiverTest, ConnectWithoutHandlersFails) {
  auto receiver = MakeReceiver({}, std::make_shared<SourceLog>());
  Status s = receiver->Connect();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

TEST(ReceiverTest, RegistrationAfterConnectIsALogicError) {
  auto receiver = MakeReceiver({}, std::make_shared<SourceLog>());
  receiver->on("post_save", "auth.User", Ignore);
  ASSERT_TRUE(receiver->Connect().ok());
  EXPECT_THROW(receiver->on("post_delete", "auth.User", Ignore), std::logic_error);
}

TEST(ReceiverTest, RunDispatchesCountsAndSettlesEachEvent) {
  v1::Event created = testing::UserCreated("1");
  v1::Event failing = testing::UserCreated("2");
  v1::Event archived = WithSignal(testing::UserCreated("3"), "post_save_archived");
  v1::Event last = testing::UserCreated("4");
  auto log = std::make_shared<SourceLog>();
  auto receiver = MakeReceiver({EventReceived(created), MalformedReceived(), EventReceived(failing),
                                EventReceived(archived), EventReceived(last)},
                               log);
  std::vector<std::string> seen;
  receiver->on("post_save", "auth.User", [&](const v1::Event& e) {
    seen.push_back(e.model_save().instance().pk());
    if (e.event_id() == failing.event_id()) throw std::runtime_error("boom");
    if (e.event_id() == last.event_id()) receiver->Stop();
  });
  receiver->on("*", "auth.User", Ignore);

  ASSERT_TRUE(receiver->Run().ok());

  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "4"}));
  ReceiverStats stats = receiver->stats();
  EXPECT_EQ(stats.received, 4u);
  EXPECT_EQ(stats.unmatched, 0u);  // post_save_archived matched auth.User/*
  EXPECT_EQ(stats.handled, 6u);    // 3 events x 2 handlers + archived x 1, minus the failure
  EXPECT_EQ(stats.handler_failures, 1u);
  EXPECT_EQ(stats.malformed, 1u);
  EXPECT_EQ(log->settled, (std::vector<Settled>{{created.event_id(), true, ""},
                                                 {failing.event_id(), false, "boom"},
                                                 {archived.event_id(), true, ""},
                                                 {last.event_id(), true, ""}}));
  EXPECT_TRUE(log->drained);
  EXPECT_TRUE(log->closed);
}

TEST(ReceiverTest, CountsEventsTheBrokerReportsDroppedAndKeepsGoing) {
  v1::Event event = testing::UserCreated("1");
  Received missed;
  missed.kind = Received::Kind::kMissed;
  missed.missed = 7;
  Received more = missed;
  more.missed = 3;
  auto log = std::make_shared<SourceLog>();
  auto receiver = MakeReceiver({missed, more, EventReceived(event)}, log);
  receiver->on("*", "*", [&](const v1::Event&) { receiver->Stop(); });
  ASSERT_TRUE(receiver->Run().ok());
  ReceiverStats stats = receiver->stats();
  EXPECT_EQ(stats.missed, 10u);
  EXPECT_EQ(stats.received, 1u);
  EXPECT_EQ(stats.malformed, 0u);
}

TEST(ReceiverTest, SettlesWithTheFirstFailureTextWhenSeveralHandlersThrow) {
  v1::Event event = testing::UserCreated("1");
  auto log = std::make_shared<SourceLog>();
  auto receiver = MakeReceiver({EventReceived(event)}, log);
  int calls = 0;
  receiver->on("post_save", "auth.User", [&](const v1::Event&) {
    ++calls;
    throw std::runtime_error("database is locked");
  });
  receiver->on("*", "auth.User", [&](const v1::Event&) { ++calls; });
  receiver->on("*", "*", [&](const v1::Event&) {
    ++calls;
    receiver->Stop();
    throw std::invalid_argument("bad pk");
  });
  ASSERT_TRUE(receiver->Run().ok());
  EXPECT_EQ(calls, 3);  // a failure never keeps the other handlers from running
  ASSERT_EQ(log->settled.size(), 1u);
  EXPECT_EQ(log->settled[0], (Settled{event.event_id(), false, "database is locked (and 1 more failed handlers)"}));
}

TEST(ReceiverTest, StopDrainsTheDeliveriesInHandThenCloses) {
  v1::Event first = testing::UserCreated("1");
  v1::Event second = testing::UserCreated("2");
  v1::Event third = testing::UserCreated("3");
  v1::Event never = testing::UserCreated("4");
  auto log = std::make_shared<SourceLog>();
  auto receiver = MakeReceiver(
      {EventReceived(first), EventReceived(second), EventReceived(third), EventReceived(never)}, log,
      /*in_hand_at_drain=*/2);
  std::vector<std::string> seen;
  receiver->on("*", "*", [&](const v1::Event& e) {
    seen.push_back(e.model_save().instance().pk());
    if (seen.size() == 1) receiver->Stop();
  });
  ASSERT_TRUE(receiver->Run().ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(log->settled.size(), 3u);
  EXPECT_TRUE(log->drained);
  EXPECT_TRUE(log->closed);
}

TEST(ReceiverTest, CountsEventsNoHandlerMatched) {
  auto receiver = MakeReceiver({EventReceived(WithSignal(testing::UserCreated("1"), "post_save_archived"))},
                               std::make_shared<SourceLog>());
  receiver->on("post_save", "auth.User", Ignore);
  std::thread stopper([&] {
    while (receiver->stats().received == 0) std::this_thread::yield();
    receiver->Stop();
  });
  ASSERT_TRUE(receiver->Run().ok());
  stopper.join();
  EXPECT_EQ(receiver->stats().unmatched, 1u);
  EXPECT_EQ(receiver->stats().handled, 0u);
}

TEST(ReceiverTest, StopFromAnotherThreadEndsAnIdleRunPromptly) {
  auto receiver = MakeReceiver({}, std::make_shared<SourceLog>());
  receiver->on("*", "*", Ignore);
  ASSERT_TRUE(receiver->Connect().ok());
  auto stopped_at = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(50));  // let Run() start waiting; not a synchronisation
    stopped_at = std::chrono::steady_clock::now();
    receiver->Stop();
  });
  ASSERT_TRUE(receiver->Run().ok());
  auto returned_at = std::chrono::steady_clock::now();
  stopper.join();
  EXPECT_LT(returned_at - stopped_at, milliseconds(1000));
}

TEST(ReceiverTest, StopBeforeRunIsSticky) {
  auto receiver = MakeReceiver({EventReceived(testing::UserCreated("1"))}, std::make_shared<SourceLog>());
  int calls = 0;
  receiver->on("*", "*", [&](const v1::Event&) { ++calls; });
  receiver->Stop();
  ASSERT_TRUE(receiver->Run().ok());
  EXPECT_EQ(calls, 0);
}

TEST(ReceiverTest, ClosesItsSourceOnDestruction) {
  auto log = std::make_shared<SourceLog>();
  MakeReceiver({}, log).reset();
  EXPECT_TRUE(log->closed);
}

TEST(ReceiverTest, LiveReceiverTakesTheEndpointFromOptions) {
  Receiver receiver({.name = "x", .mode = ReceiveMode::kLive, .live_endpoint = "tcp://127.0.0.1:1"});
  EXPECT_EQ(receiver.options().live_endpoint, "tcp://127.0.0.1:1");
}

TEST(ReceiverTest, ReceiversAreGroupMembersByDefault) {
  Receiver receiver({.name = "x", .groups_endpoint = "tcp://127.0.0.1:1"});
  EXPECT_EQ(receiver.options().mode, ReceiveMode::kGroup);
  EXPECT_EQ(receiver.options().groups_endpoint, "tcp://127.0.0.1:1");
}

}  // namespace
}  // namespace signalbus
