// Publisher against a real ZeroMQ XSUB socket standing in for the broker's ingest:
// nothing lost to the slow joiner, a full queue blocks and fails instead of dropping,
// an absent broker is a clear error, and events arrive complete.
#include "signalbus/publisher/publisher.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "process.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/event_scan.h"
#include "signalbus/v1/publish.pb.h"
#include "signalbus/core/sockets.h"

#include <zmq_addon.hpp>

namespace signalbus {
namespace {

using namespace std::chrono_literals;

// An ingest socket like the broker's: XSUB, bound on an ephemeral port, subscribed to
// all, served by a thread as the broker's poll loop does (ZeroMQ attaches a new peer,
// and replays the subscription to it, only when the owning thread uses the socket).
// While `reading` is false the thread keeps the socket alive but reads nothing.
class FakeIngest {
 public:
  explicit FakeIngest(int recv_hwm = 100'000) {
    SocketOptions options;
    options.recv_hwm = recv_hwm;
    socket_ = MakeSocket(context_, zmq::socket_type::xsub, options);
    auto bound = Bind(socket_, "tcp://127.0.0.1:*");
    EXPECT_TRUE(bound.ok());
    endpoint = *bound;
    const char subscribe_all = 1;
    (void)socket_.send(zmq::buffer(&subscribe_all, 1), zmq::send_flags::none);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeIngest() {
    stop_ = true;
    thread_.join();
  }
  // Receives one [topic, event] message within the timeout.
  std::optional<v1::Event> Receive(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !received_.empty(); })) return std::nullopt;
    std::vector<zmq::message_t> frames = std::move(received_.front());
    received_.pop_front();
    lock.unlock();
    EXPECT_EQ(frames.size(), 2u);
    if (frames.size() != 2) return std::nullopt;
    auto event = DecodeEvent(frames.at(1).to_string_view());
    EXPECT_TRUE(event.ok()) << event.status().ToString();
    if (!event.ok()) return std::nullopt;
    EXPECT_EQ(frames.at(0).to_string(), TopicOf(*event));
    return *event;
  }
  std::atomic<bool> reading{true};
  // Confirms what it receives, as the broker does once events are durable.
  std::atomic<bool> confirming{true};
  // Rejects this sequence number instead of confirming it (0: none).
  std::atomic<std::uint64_t> reject_sequence{0};
  // Behaves as if this sequence never arrived the first time (a broker restarting).
  std::atomic<std::uint64_t> lose_once{0};
  std::atomic<int> received_total{0};
  std::string endpoint;

 private:
  void Serve() {
    while (!stop_) {
      zmq::pollitem_t item{socket_.handle(), 0, static_cast<short>(reading ? ZMQ_POLLIN : 0), 0};
      zmq::poll(&item, 1, 10ms);
      if (!reading || (item.revents & ZMQ_POLLIN) == 0) continue;
      std::vector<zmq::message_t> frames;
      (void)zmq::recv_multipart(socket_, std::back_inserter(frames));
      ++received_total;
      if (frames.size() == 2) Confirm(frames[1].to_string_view());
      std::lock_guard lock(mu_);
      received_.push_back(std::move(frames));
      cv_.notify_all();
    }
  }
  void Confirm(std::string_view event) {
    auto fields = ScanPublisherFields(event);
    if (!confirming || !fields) return;
    v1::ConfirmBatch batch;
    v1::PublishConfirm* confirm = batch.add_confirms();
    confirm->set_publisher_id(std::string(fields->publisher_id));
    if (fields->sequence == lose_once && missing_ == 0) {
      lose_once = 0;
      missing_ = fields->sequence;
      return;
    }
    if (missing_ != 0 && fields->sequence == missing_) {
      missing_ = 0;
    } else if (missing_ != 0 && fields->sequence > missing_) {
      confirm->set_durable_through(missing_ - 1);  // as the broker answers events above a gap
      confirm->set_resend_from(missing_);
      (void)socket_.send(zmq::buffer(kConfirmTopic), zmq::send_flags::sndmore);
      (void)socket_.send(zmq::buffer(batch.SerializeAsString()), zmq::send_flags::none);
      return;
    }
    if (fields->sequence == reject_sequence) {
      v1::PublishRejection* r = confirm->add_rejections();
      r->set_sequence(fields->sequence);
      r->set_reason("oversized");
    } else {
      confirm->set_durable_through(fields->sequence);
    }
    (void)socket_.send(zmq::buffer(kConfirmTopic), zmq::send_flags::sndmore);
    (void)socket_.send(zmq::buffer(batch.SerializeAsString()), zmq::send_flags::none);
  }
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<zmq::message_t>> received_;
  std::uint64_t missing_ = 0;  // the sequence treated as lost until it comes again
};

v1::Instance User(const std::string& pk) {
  v1::Instance instance;
  instance.set_pk(pk);
  (*instance.mutable_fields()->mutable_fields())["username"].set_string_value("user" + pk);
  return instance;
}

TEST(Publisher, EventsPublishedRightAfterConnectAreNotLostToTheSlowJoiner) {
  FakeIngest ingest;
  for (int round = 0; round < 5; ++round) {
    auto publisher = Publisher::Connect({.endpoint = ingest.endpoint, .source = "accounts"});
    ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
    ASSERT_TRUE((*publisher)->PostSave("auth.User", User(std::to_string(round)), {.created = true}).ok());
    ASSERT_TRUE((*publisher)->Flush(5s).ok());
    auto event = ingest.Receive();
    ASSERT_TRUE(event.has_value()) << "round " << round;
    EXPECT_EQ(event->model_save().instance().pk(), std::to_string(round));
  }
}

TEST(Publisher, FillsIdentityOrderingAndTime) {
  FakeIngest ingest;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint, .source = "accounts"});
  ASSERT_TRUE(publisher.ok());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE((*publisher)->PostSave("auth.User", User("42"), {.created = i == 1}).ok());
  ASSERT_TRUE((*publisher)->Flush(5s).ok());
  std::string last_id;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    auto e = ingest.Receive();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->sequence(), i);
    EXPECT_EQ(e->publisher_id(), (*publisher)->publisher_id());
    EXPECT_EQ(e->source(), "accounts");
    EXPECT_EQ(e->ordering_key(), "auth.User:42");
    EXPECT_EQ(e->model_save().instance().model(), "auth.User");
    EXPECT_GT(e->occurred_at().seconds(), 1'700'000'000);
    EXPECT_LT(last_id, e->event_id());
    last_id = e->event_id();
  }
}

TEST(Publisher, ManyEventsArriveAllAndInOrder) {
  FakeIngest ingest;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint});
  ASSERT_TRUE(publisher.ok());
  constexpr int kCount = 20000;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE((*publisher)->PostSave("auth.User", User(std::to_string(i))).ok());
  ASSERT_TRUE((*publisher)->Flush(10s).ok());
  for (std::uint64_t i = 1; i <= kCount; ++i) {
    auto e = ingest.Receive();
    ASSERT_TRUE(e.has_value()) << "missing event " << i;
    ASSERT_EQ(e->sequence(), i);
  }
}

TEST(Publisher, UnreachableBrokerIsAClearErrorAfterTheTimeout) {
  std::string dir = testing::MakeTempDir("sbpub");
  auto started = std::chrono::steady_clock::now();
  auto publisher = Publisher::Connect({.endpoint = "ipc://" + dir + "/nobody", .connect_timeout = 300ms});
  ASSERT_FALSE(publisher.ok());
  EXPECT_EQ(publisher.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(publisher.status().message().find("no broker answered"), std::string::npos);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);  // poll rounds to milliseconds
}

TEST(Publisher, FullQueueBlocksThenFailsInsteadOfDropping) {
  FakeIngest ingest(/*recv_hwm=*/10);
  ingest.reading = false;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint, .send_timeout = 300ms, .send_hwm = 10});
  ASSERT_TRUE(publisher.ok());
  v1::Instance big = User("1");
  (*big.mutable_fields()->mutable_fields())["blob"].set_string_value(std::string(200'000, 'x'));
  int accepted = 0;
  Status last;
  for (int i = 0; i < 10000; ++i) {
    last = (*publisher)->PostSave("auth.User", big);
    if (!last.ok()) break;
    ++accepted;
  }
  ASSERT_FALSE(last.ok()) << "the ingest never reads, so the queue must fill";
  EXPECT_EQ(last.code(), StatusCode::kDeadlineExceeded);
  // Everything the publisher accepted is delivered once the reader catches up.
  ingest.reading = true;
  for (int i = 1; i <= accepted; ++i) {
    auto e = ingest.Receive();
    ASSERT_TRUE(e.has_value()) << "event " << i << " of " << accepted << " was dropped";
    EXPECT_EQ(e->sequence(), static_cast<std::uint64_t>(i));
  }
}

TEST(Publisher, FlushFailsClearlyWhenTheBrokerNeverConfirms) {
  FakeIngest ingest;
  ingest.confirming = false;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint});
  ASSERT_TRUE(publisher.ok());
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("1")).ok());
  Status s = (*publisher)->Flush(300ms);
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("1 events not confirmed"), std::string::npos) << s.message();
  EXPECT_EQ((*publisher)->unconfirmed(), 1u);
  ingest.confirming = true;  // the destructor's flush succeeds once confirms come
}

TEST(Publisher, UnconfirmedEventsAreSentAgainUntilConfirmed) {
  FakeIngest ingest;
  ingest.confirming = false;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint, .resend_interval = 100ms});
  ASSERT_TRUE(publisher.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*publisher)->PostSave("auth.User", User(std::to_string(i))).ok());
  ASSERT_FALSE((*publisher)->Flush(350ms).ok());  // at least two resend intervals pass
  EXPECT_GE((*publisher)->resends(), 1u);
  EXPECT_GE(ingest.received_total.load(), 6);  // the 3 events, then again
  ingest.confirming = true;
  EXPECT_TRUE((*publisher)->Flush(5s).ok());
  EXPECT_EQ((*publisher)->unconfirmed(), 0u);
}

TEST(Publisher, ReSendsFromTheGapABrokerReportsSayingWhatWasConfirmedBefore) {
  FakeIngest ingest;
  ingest.lose_once = 2;
  // Only the broker's gap report can cause a re-send within this test.
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint, .resend_interval = 60s});
  ASSERT_TRUE(publisher.ok());
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE((*publisher)->PostSave("auth.User", User(std::to_string(i))).ok());
  ASSERT_TRUE((*publisher)->Flush(10s).ok());
  EXPECT_GE((*publisher)->resends(), 1u);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> sent;  // (sequence, unconfirmed_from)
  while (auto e = ingest.Receive(100ms)) sent.emplace_back(e->sequence(), e->unconfirmed_from());
  ASSERT_GE(sent.size(), 6u);
  EXPECT_EQ(sent[0], std::make_pair(std::uint64_t{1}, std::uint64_t{1}));
  // The re-send starts at the gap and says that everything before it was confirmed.
  auto is_second = [](auto& s) { return s.first == 2; };
  auto first = std::find_if(sent.begin(), sent.end(), is_second);
  ASSERT_NE(first, sent.end());
  auto again = std::find_if(first + 1, sent.end(), is_second);
  ASSERT_NE(again, sent.end());
  EXPECT_EQ(again->second, 2u);
}

TEST(Publisher, EventTheBrokerRejectsIsReportedByFlush) {
  FakeIngest ingest;
  ingest.reject_sequence = 2;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint});
  ASSERT_TRUE(publisher.ok());
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("1")).ok());
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("2")).ok());
  Status s = (*publisher)->Flush(5s);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("rejected event 2 (oversized)"), std::string::npos) << s.message();
  EXPECT_EQ((*publisher)->unconfirmed(), 0u);
}

TEST(Publisher, LoginFailedCredentialsLeaveMasked) {
  FakeIngest ingest;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint});
  ASSERT_TRUE(publisher.ok());
  v1::LoginFailed failure;
  (*failure.mutable_credentials())["username"] = "alice";
  (*failure.mutable_credentials())["password"] = "hunter2";
  ASSERT_TRUE((*publisher)->UserLoginFailed("django.contrib.auth", failure).ok());
  ASSERT_TRUE((*publisher)->Flush(5s).ok());
  auto e = ingest.Receive();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->login_failed().credentials().at("password"), kMaskedValue);
}

TEST(Publisher, InvalidEventIsRejectedBeforeSending) {
  FakeIngest ingest;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint});
  ASSERT_TRUE(publisher.ok());
  EXPECT_FALSE((*publisher)->PostSave("auth/User", User("1")).ok());
  EXPECT_FALSE((*publisher)->Custom("shop.Order", "post_save", {}).ok());
  EXPECT_EQ((*publisher)->published(), 0u);
}

}  // namespace
}  // namespace signalbus
