// GroupSource, alone and under a Receiver, against a scripted ROUTER standing in for the
// broker's groups endpoint: the Join, batched acks naming (offset, attempt), nacks with
// the handler's error, re-joining after a fatal error or a silent broker, draining on
// Stop, and a clear error when nobody answers the Join.
#include "signalbus/receivers/group_source.h"

#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "sample_events.h"
#include "signalbus/receivers/receiver.h"
#include "testing/fake_group_broker.h"

namespace signalbus {
namespace {

using std::chrono::milliseconds;
using testing::DeliveryOf;
using testing::FakeGroupBroker;
using testing::Refs;
using Kind = FakeGroupBroker::Kind;
using RefList = std::vector<std::pair<std::uint64_t, std::uint32_t>>;

std::vector<TopicPattern> Patterns(std::initializer_list<std::string_view> texts) {
  std::vector<TopicPattern> out;
  for (std::string_view t : texts) out.push_back(*TopicPattern::Parse(t));
  return out;
}

GroupOptions FastOptions() {
  GroupOptions options;
  options.member_name = "test-member";
  options.leave_timeout = milliseconds(200);
  options.join_timeout = milliseconds(5000);
  return options;
}

// A group Receiver running on its own thread against the fake broker, which the test
// thread drives.
class GroupReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(broker_.endpoint().empty()); }

  void TearDown() override {
    if (receiver_) receiver_->Stop();
    if (runner_.joinable()) runner_.join();
  }

  void MakeReceiver(GroupOptions group = FastOptions()) {
    ReceiverOptions options;
    options.name = "profile-creator";
    options.groups_endpoint = broker_.endpoint();
    options.group = std::move(group);
    options.poll_interval = milliseconds(20);
    receiver_ = std::make_unique<Receiver>(options);
  }

  // Starts Run() and answers the Join.
  void StartAndJoin() {
    runner_ = std::thread([this] { run_status_ = receiver_->Run(); });
    ASSERT_TRUE(broker_.AcceptJoin().has_value());
  }

  // Stops the receiver and expects it to send its last acks, leave, and return OK.
  void StopAndExpectLeave() {
    receiver_->Stop();
    ASSERT_TRUE(broker_.ConfirmLeave());
    runner_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
  }

  FakeGroupBroker broker_;
  std::unique_ptr<Receiver> receiver_;
  std::thread runner_;
  Status run_status_;
};

TEST(GroupSourceJoinTest, JoinCarriesTheUnionOfPatternsCreditsAndConfig) {
  GroupOptions options = FastOptions();
  options.credits = 16;
  options.heartbeat = milliseconds(500);
  options.ack_timeout = milliseconds(5000);
  options.max_deliver = 3;
  options.backoff_initial = milliseconds(50);
  options.backoff_max = milliseconds(2000);
  options.start.set_earliest(true);
  GroupSource source("tcp://127.0.0.1:1", "profile-creator", options);

  v1::Join join =
      source.MakeJoin(Patterns({"auth.User/post_save", "auth.User/post_delete", "auth.User/post_save", "*/order_paid"}));
  EXPECT_EQ(join.group(), "profile-creator");
  EXPECT_EQ(join.member_name(), "test-member");
  EXPECT_EQ(join.credits(), 16u);
  EXPECT_EQ(join.heartbeat_ms(), 500u);
  EXPECT_EQ(std::vector<std::string>(join.config().subscriptions().begin(), join.config().subscriptions().end()),
            (std::vector<std::string>{"auth.User/post_save", "auth.User/post_delete", "*/order_paid"}));
  EXPECT_TRUE(join.config().start().earliest());
  EXPECT_EQ(join.config().ack_timeout_ms(), 5000u);
  EXPECT_EQ(join.config().max_deliver(), 3u);
  EXPECT_EQ(join.config().backoff_initial_ms(), 50u);
  EXPECT_EQ(join.config().backoff_max_ms(), 2000u);
}

TEST(GroupSourceJoinTest, DefaultMemberNameIsHostAndPid) {
  GroupSource source("tcp://127.0.0.1:1", "g");
  std::string name = source.MakeJoin(Patterns({"*"})).member_name();
  EXPECT_NE(name.find(":" + std::to_string(getpid())), std::string::npos) << name;
  EXPECT_FALSE(source.MakeJoin(Patterns({"*"})).config().has_start());  // the broker's default
}

TEST(GroupSourceJoinTest, NoAnswerToTheJoinIsAClearErrorAfterTheTimeout) {
  FakeGroupBroker silent;  // reads nothing, answers nothing
  GroupOptions options = FastOptions();
  options.join_timeout = milliseconds(300);
  GroupSource source(silent.endpoint(), "g", options);
  auto started = std::chrono::steady_clock::now();
  Status s = source.Open(Patterns({"*"}));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "no broker answered at " + silent.endpoint() + " within 300ms");
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(3000));
  EXPECT_FALSE(source.joined());
}

TEST(GroupSourceJoinTest, NoListenerAtAllIsTheSameClearError) {
  std::string dir = testing::MakeTempDir("sb-group");
  GroupOptions options = FastOptions();
  options.join_timeout = milliseconds(200);
  GroupSource source("ipc://" + dir + "/no-broker", "g", options);
  Status s = source.Open(Patterns({"*"}));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("no broker answered at ipc://"), std::string::npos) << s.message();
}

TEST(GroupSourceJoinTest, ARefusedJoinFailsAtOnceWithTheBrokersReason) {
  FakeGroupBroker broker;
  GroupSource source(broker.endpoint(), "g", FastOptions());  // join_timeout 5s
  auto started = std::chrono::steady_clock::now();
  auto open = std::async(std::launch::async, [&] { return source.Open(Patterns({"*"})); });
  ASSERT_TRUE(broker.NextOf(Kind::kJoin).has_value());
  broker.ReplyError("group g subscribes to [auth.User/*], not [*/*]", /*fatal=*/true);
  Status s = open.get();
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(4000));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "the broker at " + broker.endpoint() +
                             " refused to join group g: group g subscribes to [auth.User/*], not [*/*]");
}

TEST(GroupSourceJoinTest, BadSettingsAreRejectedBeforeConnecting) {
  GroupOptions options = FastOptions();
  EXPECT_EQ(GroupSource("tcp://127.0.0.1:1", "", options).Open(Patterns({"*"})).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GroupSource("tcp://127.0.0.1:1", "a/b", options).Open(Patterns({"*"})).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(GroupSource("127.0.0.1:1", "g", options).Open(Patterns({"*"})).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GroupSource("tcp://127.0.0.1:1", "g", options).Open({}).code(), StatusCode::kInvalidArgument);
  options.credits = 0;
  EXPECT_EQ(GroupSource("tcp://127.0.0.1:1", "g", options).Open(Patterns({"*"})).code(), StatusCode::kInvalidArgument);
}

TEST(GroupSourceJoinTest, DrainedSourceHandsOutWhatIsInHandThenReportsDrained) {
  FakeGroupBroker broker;
  GroupSource source(broker.endpoint(), "g", FastOptions());
  auto open = std::async(std::launch::async, [&] { return source.Open(Patterns({"*"})); });
  ASSERT_TRUE(broker.NextOf(Kind::kJoin).has_value());
  broker.ReplyJoined();
  broker.Deliver({DeliveryOf(1, 1, testing::UserCreated("1")), DeliveryOf(2, 1, testing::UserCreated("2"))});
  ASSERT_TRUE(open.get().ok());

  Result<Received> first = source.Receive(FakeGroupBroker::kWait);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->kind, Received::Kind::kEvent);
  EXPECT_EQ(first->delivery.offset, 1u);
  EXPECT_EQ(first->delivery.attempt, 1u);
  source.Settle(first->delivery, true, "");
  source.Drain();
  Result<Received> second = source.Receive(FakeGroupBroker::kWait);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->kind, Received::Kind::kEvent);
  source.Settle(second->delivery, true, "");
  Result<Received> last = source.Receive(FakeGroupBroker::kWait);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->kind, Received::Kind::kDrained);

  auto close = std::async(std::launch::async, [&] { source.Close(); });
  std::optional<v1::GroupRequest> ack = broker.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{1, 1}, {2, 1}}));
  ASSERT_TRUE(broker.ConfirmLeave());
  close.get();
  EXPECT_EQ(source.stats().acked, 2u);
}

TEST_F(GroupReceiverTest, JoinsTheGroupNamedAfterTheReceiverWithTheUnionOfItsPatterns) {
  GroupOptions options = FastOptions();
  options.credits = 32;
  MakeReceiver(options);
  receiver_->on("post_save", "auth.User", [](const v1::Event&) {})
      .on({"post_delete", "pre_delete"}, "auth.User", [](const v1::Event&) {})
      .on("order_paid", "*", [](const v1::Event&) {});
  auto connect = std::async(std::launch::async, [&] { return receiver_->Connect(); });
  std::optional<v1::Join> join = broker_.AcceptJoin();
  ASSERT_TRUE(join.has_value());
  EXPECT_EQ(join->group(), "profile-creator");
  EXPECT_EQ(join->credits(), 32u);
  EXPECT_EQ(join->heartbeat_ms(), 1000u);
  EXPECT_EQ(std::vector<std::string>(join->config().subscriptions().begin(), join->config().subscriptions().end()),
            (std::vector<std::string>{"auth.User/post_save", "auth.User/post_delete", "auth.User/pre_delete",
                                      "*/order_paid"}));
  Status s = connect.get();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(GroupReceiverTest, HandlersThatWouldShareAGroupAndOneEventAreRefusedAndAUidGivesAGroupOfItsOwn) {
  MakeReceiver();
  receiver_->on("post_save", "auth.User", [](const v1::Event&) {});
  // Both would match auth.User/post_save: a failure of one would run the other again.
  EXPECT_THROW(receiver_->on("*", "auth.User", [](const v1::Event&) {}), std::invalid_argument);
  EXPECT_THROW(receiver_->on({"post_save"}, "*", [](const v1::Event&) {}), std::invalid_argument);
  receiver_->on("post_delete", "auth.User", [](const v1::Event&) {});  // no overlap: shares the group
  receiver_->on("post_save", "auth.User", [](const v1::Event&) {}, {.uid = "welcome-mail"});
  EXPECT_THROW(receiver_->on("*", "*", [](const v1::Event&) {}, {.uid = "welcome-mail"}), std::invalid_argument);
  EXPECT_THROW(receiver_->on("*", "*", [](const v1::Event&) {}, {.uid = "no spaces"}), std::invalid_argument);
  EXPECT_EQ(receiver_->groups(), (std::vector<std::string>{"profile-creator", "profile-creator.welcome-mail"}));
}

TEST_F(GroupReceiverTest, AcksAreBatchedAndNameOffsetAndAttempt) {
  MakeReceiver();
  std::atomic<int> handled{0};
  receiver_->on("post_save", "auth.User", [&](const v1::Event&) { ++handled; });
  StartAndJoin();
  broker_.Deliver({DeliveryOf(10, 1, testing::UserCreated("1")), DeliveryOf(11, 3, testing::UserCreated("2")),
                   DeliveryOf(12, 1, testing::UserCreated("3"))});
  // One batch in, one Ack out, once nothing more is waiting.
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{10, 1}, {11, 3}, {12, 1}}));
  EXPECT_EQ(handled.load(), 3);
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, ToABrokerThatTakesRangesAcksGoAsRangesOfConsecutiveOffsets) {
  broker_.set_ack_ranges(true);
  MakeReceiver();
  receiver_->on("post_save", "auth.User", [](const v1::Event&) {});
  StartAndJoin();
  broker_.Deliver({DeliveryOf(10, 1, testing::UserCreated("1")), DeliveryOf(11, 1, testing::UserCreated("2")),
                   DeliveryOf(12, 1, testing::UserCreated("3")), DeliveryOf(13, 2, testing::UserCreated("4")),
                   DeliveryOf(20, 1, testing::UserCreated("5"))});
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->ack().deliveries_size(), 0);
  std::vector<std::vector<std::uint64_t>> ranges;
  for (const v1::AckRange& r : ack->ack().ranges()) ranges.push_back({r.first(), r.count(), r.attempt()});
  EXPECT_EQ(ranges, (std::vector<std::vector<std::uint64_t>>{{10, 3, 1}, {13, 1, 2}, {20, 1, 1}}));
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, FullAckBatchesGoOutBeforeTheRestIsHandled) {
  GroupOptions options = FastOptions();
  options.credits = 8;  // acks are sent by 4, half the window
  MakeReceiver(options);
  receiver_->on("*", "*", [](const v1::Event&) {});
  StartAndJoin();
  std::vector<v1::Delivery> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(DeliveryOf(100 + i, 1, testing::UserCreated(std::to_string(i))));
  broker_.Deliver(batch);
  std::vector<std::size_t> sizes;
  RefList all;
  while (all.size() < 10) {
    std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
    ASSERT_TRUE(ack.has_value());
    sizes.push_back(static_cast<std::size_t>(ack->ack().deliveries_size()));
    for (auto ref : Refs(ack->ack())) all.push_back(ref);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 2}));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(all[i], (std::pair<std::uint64_t, std::uint32_t>(100 + i, 1)));
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, AThrowingHandlerNacksWithItsMessage) {
  MakeReceiver();
  v1::Event bad = testing::UserCreated("2");
  receiver_->on("post_save", "auth.User", [&](const v1::Event& e) {
    if (e.event_id() == bad.event_id()) throw std::runtime_error("profile table is locked");
  });
  StartAndJoin();
  broker_.Deliver({DeliveryOf(1, 1, testing::UserCreated("1")), DeliveryOf(2, 4, bad),
                   DeliveryOf(3, 1, testing::UserCreated("3"))});
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{1, 1}, {3, 1}}));
  std::optional<v1::GroupRequest> nack = broker_.NextOf(Kind::kNack);
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->nack().delivery().offset(), 2u);
  EXPECT_EQ(nack->nack().delivery().attempt(), 4u);
  EXPECT_EQ(nack->nack().error(), "profile table is locked");
  StopAndExpectLeave();
  EXPECT_EQ(receiver_->stats().handler_failures, 1u);
}

// An atomic batch delivered as a unit: one ack (or nack) naming its first offset, once
// every event of it is handled.
v1::Delivery UnitDeliveryOf(std::uint64_t offset, std::uint64_t unit_offset, std::uint32_t unit_size,
                            const v1::Event& event) {
  v1::Delivery d = DeliveryOf(offset, 1, event);
  d.set_unit_offset(unit_offset);
  d.set_unit_size(unit_size);
  return d;
}

TEST_F(GroupReceiverTest, AUnitIsAckedOnceByItsFirstOffsetWhenAllOfItIsHandled) {
  MakeReceiver();
  int handled = 0;
  receiver_->on("post_save", "auth.User", [&](const v1::Event&) { ++handled; });
  StartAndJoin();
  broker_.Deliver({UnitDeliveryOf(10, 10, 3, testing::UserCreated("1")),
                   UnitDeliveryOf(11, 10, 3, testing::UserCreated("2")),
                   UnitDeliveryOf(12, 10, 3, testing::UserCreated("3")), DeliveryOf(13, 1, testing::UserCreated("4"))});
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{10, 1}, {13, 1}}));
  StopAndExpectLeave();
  EXPECT_EQ(handled, 4);
}

TEST_F(GroupReceiverTest, AUnitWithOneFailedEventIsNackedWholeWithThatError) {
  MakeReceiver();
  v1::Event bad = testing::UserCreated("2");
  receiver_->on("post_save", "auth.User", [&](const v1::Event& e) {
    if (e.event_id() == bad.event_id()) throw std::runtime_error("line 2 refused");
  });
  StartAndJoin();
  broker_.Deliver({UnitDeliveryOf(10, 10, 3, testing::UserCreated("1")), UnitDeliveryOf(11, 10, 3, bad),
                   UnitDeliveryOf(12, 10, 3, testing::UserCreated("3"))});
  std::optional<v1::GroupRequest> nack = broker_.NextOf(Kind::kNack);
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->nack().delivery().offset(), 10u);
  EXPECT_EQ(nack->nack().error(), "line 2 refused");
  StopAndExpectLeave();  // and no ack for any of it before
}

TEST_F(GroupReceiverTest, ABatchHandlerGetsAUnitInOneCallAndSinglesAsListsOfOne) {
  MakeReceiver();
  std::vector<std::size_t> calls;
  receiver_->on_batch({*TopicPattern::Parse("auth.User/post_save")},
                      [&](const std::vector<v1::Event>& events) { calls.push_back(events.size()); });
  StartAndJoin();
  broker_.Deliver({UnitDeliveryOf(10, 10, 3, testing::UserCreated("1")),
                   UnitDeliveryOf(11, 10, 3, testing::UserCreated("2")),
                   UnitDeliveryOf(12, 10, 3, testing::UserCreated("3")), DeliveryOf(13, 1, testing::UserCreated("4"))});
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{10, 1}, {13, 1}}));
  StopAndExpectLeave();
  EXPECT_EQ(calls, (std::vector<std::size_t>{3, 1}));
}

TEST_F(GroupReceiverTest, ABatchHandlerThatThrowsNacksItsWholeUnitOnce) {
  MakeReceiver();
  int calls = 0;
  receiver_->on_batch({*TopicPattern::Parse("auth.User/post_save")}, [&](const std::vector<v1::Event>&) {
    ++calls;
    throw std::runtime_error("invoice table is locked");
  });
  StartAndJoin();
  broker_.Deliver({UnitDeliveryOf(20, 20, 2, testing::UserCreated("1")),
                   UnitDeliveryOf(21, 20, 2, testing::UserCreated("2"))});
  std::optional<v1::GroupRequest> nack = broker_.NextOf(Kind::kNack);
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->nack().delivery().offset(), 20u);
  EXPECT_EQ(nack->nack().error(), "invoice table is locked");
  StopAndExpectLeave();
  EXPECT_EQ(calls, 1);
}

TEST_F(GroupReceiverTest, NackErrorsStayReadableAndBecomeValidUtf8) {
  MakeReceiver();
  receiver_->on("*", "*", [](const v1::Event&) { throw std::runtime_error("café \xff\\ done"); });
  StartAndJoin();
  broker_.Deliver({DeliveryOf(8, 1, testing::UserCreated("8"))});
  std::optional<v1::GroupRequest> nack = broker_.NextOf(Kind::kNack);
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->nack().error(), "café \xEF\xBF\xBD\\ done");
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, MalformedDeliveriesAreNackedWithTheReason) {
  MakeReceiver();
  receiver_->on("*", "*", [](const v1::Event&) {});
  StartAndJoin();
  v1::Delivery garbage;
  garbage.set_offset(5);
  garbage.set_attempt(1);
  garbage.set_topic("auth.User/post_save");
  garbage.set_event("\xff\xfe not protobuf");
  v1::Delivery mislabelled = DeliveryOf(6, 2, testing::UserCreated("6"));
  mislabelled.set_topic("auth.User/post_delete");
  broker_.Deliver({garbage, mislabelled});

  std::optional<v1::GroupRequest> first = broker_.NextOf(Kind::kNack);
  std::optional<v1::GroupRequest> second = broker_.NextOf(Kind::kNack);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->nack().delivery().offset(), 5u);
  EXPECT_NE(first->nack().error().find("undecodable event at offset 5"), std::string::npos) << first->nack().error();
  EXPECT_EQ(second->nack().delivery().offset(), 6u);
  EXPECT_EQ(second->nack().delivery().attempt(), 2u);
  EXPECT_NE(second->nack().error().find("does not match"), std::string::npos) << second->nack().error();
  StopAndExpectLeave();
  EXPECT_EQ(receiver_->stats().malformed, 2u);
  EXPECT_EQ(receiver_->stats().received, 0u);
}

TEST_F(GroupReceiverTest, AFailedBeforeAckHookTurnsTheBatchIntoNacks) {
  GroupOptions options = FastOptions();
  std::atomic<int> hook_calls{0};
  options.before_ack = [&] {
    ++hook_calls;
    return Status(StatusCode::kInternal, "fdatasync: No space left on device");
  };
  MakeReceiver(options);
  receiver_->on("*", "*", [](const v1::Event&) {});
  StartAndJoin();
  broker_.Deliver({DeliveryOf(7, 1, testing::UserCreated("7"))});
  std::optional<v1::GroupRequest> nack = broker_.NextOf(Kind::kNack);
  ASSERT_TRUE(nack.has_value());
  EXPECT_EQ(nack->nack().delivery().offset(), 7u);
  EXPECT_EQ(nack->nack().error(), "fdatasync: No space left on device");
  EXPECT_EQ(hook_calls.load(), 1);
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, AFatalErrorMakesTheMemberJoinAgainAndKeepHandling) {
  MakeReceiver();
  std::atomic<int> handled{0};
  receiver_->on("*", "*", [&](const v1::Event&) { ++handled; });
  StartAndJoin();
  broker_.ReplyError("unknown member; join again", /*fatal=*/true);
  std::optional<v1::Join> again = broker_.AcceptJoin();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->group(), "profile-creator");
  broker_.Deliver({DeliveryOf(20, 1, testing::UserCreated("20"))});
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{20, 1}}));
  EXPECT_EQ(handled.load(), 1);
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, DeliveriesInHandWhenTheMembershipIsLostAreHandledButNotAcked) {
  MakeReceiver();
  std::promise<void> first_started;
  std::promise<void> error_sent;
  std::future<void> sent = error_sent.get_future();
  std::atomic<int> handled{0};
  receiver_->on("*", "*", [&](const v1::Event&) {
    if (++handled == 1) {
      first_started.set_value();
      sent.wait();  // the broker forgets this member meanwhile
    }
  });
  StartAndJoin();
  broker_.Deliver({DeliveryOf(1, 1, testing::UserCreated("1")), DeliveryOf(2, 1, testing::UserCreated("2"))});
  first_started.get_future().wait();
  broker_.ReplyError("unknown member; join again", /*fatal=*/true);
  error_sent.set_value();
  // Until the member has read the error it may still ack as the old member; after its
  // Join nothing of the old membership may be acked.
  bool joined_again = false;
  RefList acked_after_join;
  while (acked_after_join.empty()) {
    std::optional<v1::GroupRequest> request = broker_.Next();
    ASSERT_TRUE(request.has_value());
    switch (request->kind_case()) {
      case Kind::kJoin:
        ASSERT_FALSE(joined_again);
        joined_again = true;
        broker_.ReplyJoined("m-2");
        broker_.Deliver({DeliveryOf(1, 2, testing::UserCreated("1"))});
        break;
      case Kind::kAck:
        if (joined_again) acked_after_join = Refs(request->ack());
        break;
      case Kind::kHeartbeat: {
        v1::GroupReply reply;
        reply.mutable_heartbeat();
        broker_.Reply(reply);
        break;
      }
      default: FAIL() << request->ShortDebugString();
    }
  }
  EXPECT_EQ(acked_after_join, (RefList{{1, 2}}));
  EXPECT_EQ(handled.load(), 3);  // both old deliveries were handled all the same
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, ASilentBrokerIsPresumedGoneAndJoinedAgain) {
  GroupOptions options = FastOptions();
  options.heartbeat = milliseconds(40);
  MakeReceiver(options);
  receiver_->on("*", "*", [](const v1::Event&) {});
  StartAndJoin();
  // Heartbeats go unanswered: after 3 intervals the member joins again.
  std::optional<v1::GroupRequest> join = broker_.NextOf(Kind::kJoin, /*answer_heartbeats=*/false);
  ASSERT_TRUE(join.has_value());
  EXPECT_GE(broker_.heartbeats(), 1);
  broker_.ReplyJoined("m-2");
  broker_.Deliver({DeliveryOf(30, 2, testing::UserCreated("30"))});
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{30, 2}}));
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, AnsweredHeartbeatsKeepTheMembership) {
  GroupOptions options = FastOptions();
  options.heartbeat = milliseconds(20);
  MakeReceiver(options);
  receiver_->on("*", "*", [](const v1::Event&) {});
  StartAndJoin();
  // Ten answered heartbeats span more than three intervals: no Join among them.
  for (int heartbeats = 0; heartbeats < 10; ++heartbeats) {
    std::optional<v1::GroupRequest> request = broker_.Next();
    ASSERT_TRUE(request.has_value());
    ASSERT_EQ(request->kind_case(), Kind::kHeartbeat) << request->ShortDebugString();
    v1::GroupReply reply;
    reply.mutable_heartbeat();
    broker_.Reply(reply);
  }
  StopAndExpectLeave();
}

TEST_F(GroupReceiverTest, StopFinishesAndAcksWhatIsInHandThenLeaves) {
  MakeReceiver();
  std::vector<std::string> seen;  // written by the Run() thread, read after join
  receiver_->on("*", "*", [&](const v1::Event& e) {
    seen.push_back(e.model_save().instance().pk());
    if (seen.size() == 1) receiver_->Stop();
  });
  StartAndJoin();
  std::vector<v1::Delivery> batch;
  for (int i = 1; i <= 5; ++i) batch.push_back(DeliveryOf(40 + i, 1, testing::UserCreated(std::to_string(i))));
  broker_.Deliver(batch);
  // Stopped after the first event: the other four in hand are still handled, all five
  // acked, then Leave, then the request whose answer proves the broker read them.
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{41, 1}, {42, 1}, {43, 1}, {44, 1}, {45, 1}}));
  ASSERT_TRUE(broker_.ConfirmLeave());
  runner_.join();
  EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

TEST_F(GroupReceiverTest, DeliveriesArrivingWhileDrainingAreNotHandled) {
  MakeReceiver();
  std::promise<void> first_started;
  std::promise<void> second_batch_sent;
  std::future<void> sent = second_batch_sent.get_future();
  std::set<std::uint64_t> seen;
  receiver_->on("*", "*", [&](const v1::Event& e) {
    seen.insert(std::stoull(e.model_save().instance().pk()));
    if (seen.size() == 1) {
      receiver_->Stop();
      first_started.set_value();
      sent.wait();  // more is on its way now; it must not be handled
    }
  });
  StartAndJoin();
  broker_.Deliver({DeliveryOf(1, 1, testing::UserCreated("1"))});
  first_started.get_future().wait();
  broker_.Deliver({DeliveryOf(2, 1, testing::UserCreated("2"))});
  second_batch_sent.set_value();
  std::optional<v1::GroupRequest> ack = broker_.NextOf(Kind::kAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Refs(ack->ack()), (RefList{{1, 1}}));
  ASSERT_TRUE(broker_.ConfirmLeave());
  runner_.join();
  EXPECT_EQ(seen, (std::set<std::uint64_t>{1}));
}

TEST_F(GroupReceiverTest, CloseDoesNotHangWhenTheBrokerNeverConfirmsTheLeave) {
  MakeReceiver();
  receiver_->on("*", "*", [](const v1::Event&) {});
  StartAndJoin();
  receiver_->Stop();
  ASSERT_TRUE(broker_.NextOf(Kind::kLeave).has_value());
  // No answer to the barrier: Run() still returns after leave_timeout.
  runner_.join();
  EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
}

}  // namespace
}  // namespace signalbus
