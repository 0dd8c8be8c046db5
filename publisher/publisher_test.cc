// Publisher against a scripted broker ingest on a real ZeroMQ ROUTER socket: sessions
// (hello, a new connection, takeover, refusal), nothing lost to a broker that does not
// read, an absent broker is a clear error, confirms, re-sends, and events arrive complete.
#include "signalbus/publisher/publisher.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "process.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/event_scan.h"
#include "signalbus/core/ingest_protocol.h"
#include "signalbus/core/sockets.h"
#include "signalbus/v1/publish.pb.h"

#include <zmq_addon.hpp>

namespace signalbus {
namespace {

using namespace std::chrono_literals;

// An ingest socket like the broker's: a ROUTER on an ephemeral port, served by a
// thread. It opens a session for every hello (or refuses it, when told to), answers a
// new connection's probe with NO_SESSION, and confirms events one by one. While
// `reading` is false the thread keeps the socket alive but reads nothing.
class FakeIngest {
 public:
  explicit FakeIngest(int recv_hwm = 100'000) {
    SocketOptions options;
    options.recv_hwm = recv_hwm;
    socket_ = MakeSocket(context_, zmq::socket_type::router, options);
    auto bound = Bind(socket_, "tcp://127.0.0.1:*");
    EXPECT_TRUE(bound.ok());
    endpoint = *bound;
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
  // The hellos received so far.
  std::vector<v1::PublisherHello> Hellos() {
    std::lock_guard lock(mu_);
    return hellos_;
  }
  // Tells the connection of the last session what the broker says when another
  // connection took its publisher id over.
  void TakeOver() { pending_takeover_ = true; }
  // Forgets every session, as a restarted broker would: the next event is answered
  // NO_SESSION.
  void ForgetSessions() { forget_ = true; }

  std::atomic<bool> reading{true};
  // Confirms what it receives, as the broker does once events are durable.
  std::atomic<bool> confirming{true};
  // Rejects this sequence number instead of confirming it (0: none).
  std::atomic<std::uint64_t> reject_sequence{0};
  // Behaves as if this sequence never arrived the first time (a broker restarting).
  std::atomic<std::uint64_t> lose_once{0};
  // Nonempty: every hello is refused with this reason.
  std::string refuse_hellos;
  std::atomic<int> received_total{0};
  std::string endpoint;

 private:
  void Serve() {
    while (!stop_) {
      zmq::pollitem_t item{socket_.handle(), 0, static_cast<short>(reading ? ZMQ_POLLIN : 0), 0};
      zmq::poll(&item, 1, 10ms);
      if (pending_takeover_.exchange(false)) Reply(session_peer_, v1::SessionReply::TAKEN_OVER, "taken_over");
      if (forget_.exchange(false)) sessions_.clear();
      if (!reading || (item.revents & ZMQ_POLLIN) == 0) continue;
      std::vector<zmq::message_t> frames;
      (void)zmq::recv_multipart(socket_, std::back_inserter(frames));
      std::string peer = frames.at(0).to_string();
      frames.erase(frames.begin());
      if (frames.size() == 1 && frames[0].size() == 0) {
        Reply(peer, v1::SessionReply::NO_SESSION);
        continue;
      }
      if (frames.size() == 2 && frames[0].to_string_view() == kHelloKind) {
        OnHello(peer, frames[1]);
        continue;
      }
      ++received_total;
      if (frames.size() == 2) {
        if (!sessions_.count(peer)) {
          Reply(peer, v1::SessionReply::NO_SESSION);
          continue;
        }
        Confirm(peer, frames[1].to_string_view());
      }
      std::lock_guard lock(mu_);
      received_.push_back(std::move(frames));
      cv_.notify_all();
    }
  }
  void OnHello(const std::string& peer, const zmq::message_t& frame) {
    v1::PublisherHello hello;
    EXPECT_TRUE(hello.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
    {
      std::lock_guard lock(mu_);
      hellos_.push_back(hello);
    }
    publisher_id_ = hello.publisher_id();
    if (!refuse_hellos.empty()) {
      Reply(peer, v1::SessionReply::REFUSED, refuse_hellos);
      return;
    }
    sessions_.insert(peer);
    session_peer_ = peer;
    Reply(peer, v1::SessionReply::OPEN);
  }
  void Reply(const std::string& peer, v1::SessionReply::State state, const std::string& reason = "") {
    v1::SessionReply reply;
    reply.set_state(state);
    reply.set_publisher_id(publisher_id_);
    reply.set_reason(reason);
    reply.set_message("scripted");
    Send(peer, kSessionKind, reply.SerializeAsString());
  }
  void Send(const std::string& peer, std::string_view kind, const std::string& bytes) {
    (void)socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore);
    (void)socket_.send(zmq::buffer(kind), zmq::send_flags::sndmore);
    (void)socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
  }
  void Confirm(const std::string& peer, std::string_view event) {
    auto fields = ScanPublisherFields(event);
    if (!confirming || !fields) return;
    v1::PublishConfirm confirm;
    confirm.set_publisher_id(std::string(fields->publisher_id));
    if (fields->sequence == lose_once && missing_ == 0) {
      lose_once = 0;
      missing_ = fields->sequence;
      return;
    }
    if (missing_ != 0 && fields->sequence == missing_) {
      missing_ = 0;
    } else if (missing_ != 0 && fields->sequence > missing_) {
      confirm.set_durable_through(missing_ - 1);  // as the broker answers events above a gap
      confirm.set_resend_from(missing_);
      Send(peer, kConfirmKind, confirm.SerializeAsString());
      return;
    }
    if (fields->sequence == reject_sequence) {
      v1::PublishRejection* r = confirm.add_rejections();
      r->set_sequence(fields->sequence);
      r->set_reason("oversized");
    } else {
      confirm.set_durable_through(fields->sequence);
    }
    Send(peer, kConfirmKind, confirm.SerializeAsString());
  }
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> pending_takeover_{false};
  std::atomic<bool> forget_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<zmq::message_t>> received_;
  std::vector<v1::PublisherHello> hellos_;
  std::set<std::string> sessions_;  // routing ids with an open session
  std::string session_peer_;
  std::string publisher_id_;
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

TEST(Publisher, ABrokerThatStopsReadingLosesNothingAndAFullWindowFailsPublishClearly) {
  FakeIngest ingest(/*recv_hwm=*/10);
  auto publisher = Publisher::Connect(
      {.endpoint = ingest.endpoint, .send_timeout = 300ms, .send_hwm = 10, .max_unconfirmed = 200});
  ASSERT_TRUE(publisher.ok());
  ingest.reading = false;
  v1::Instance big = User("1");
  (*big.mutable_fields()->mutable_fields())["blob"].set_string_value(std::string(200'000, 'x'));
  int accepted = 0;
  Status last;
  for (int i = 0; i < 10000; ++i) {
    last = (*publisher)->PostSave("auth.User", big);
    if (!last.ok()) break;
    ++accepted;
  }
  ASSERT_FALSE(last.ok()) << "the ingest never reads, so the window must fill";
  EXPECT_EQ(last.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(accepted, 200);
  // Everything the publisher accepted is delivered once the broker reads again.
  ingest.reading = true;
  ASSERT_TRUE((*publisher)->Flush(10s).ok());
  std::set<std::uint64_t> sequences;
  while (auto e = ingest.Receive(200ms)) sequences.insert(e->sequence());
  EXPECT_EQ(sequences.size(), 200u);
  EXPECT_EQ(*sequences.begin(), 1u);
  EXPECT_EQ(*sequences.rbegin(), 200u);
}

TEST(Publisher, AfterTheBrokerForgetsItsSessionThePublisherSaysHelloAgainAndReSends) {
  FakeIngest ingest;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint, .resend_interval = 60s});
  ASSERT_TRUE(publisher.ok());
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("1")).ok());
  ASSERT_TRUE((*publisher)->Flush(5s).ok());
  ingest.confirming = false;
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("2")).ok());
  ASSERT_FALSE((*publisher)->Flush(100ms).ok());
  ingest.ForgetSessions();
  ingest.confirming = true;
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("3")).ok());  // answered NO_SESSION
  ASSERT_TRUE((*publisher)->Flush(5s).ok());
  std::vector<v1::PublisherHello> hellos = ingest.Hellos();
  ASSERT_EQ(hellos.size(), 2u);
  EXPECT_EQ(hellos[1].publisher_id(), hellos[0].publisher_id());
  EXPECT_EQ(hellos[1].unconfirmed_from(), 2u);
  EXPECT_EQ(hellos[1].next_sequence(), 4u);
}

TEST(Publisher, AFixedPublisherIdTakenOverByAnotherConnectionFailsEveryLaterCall) {
  FakeIngest ingest;
  ingest.confirming = false;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint, .publisher_id = "accounts-relay"});
  ASSERT_TRUE(publisher.ok());
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("1")).ok());
  ingest.TakeOver();
  Status s = (*publisher)->Flush(5s);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("publisher id 'accounts-relay'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("taken_over"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("1 events unconfirmed"), std::string::npos) << s.message();
  EXPECT_EQ((*publisher)->PostSave("auth.User", User("2")).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*publisher)->unconfirmed(), 1u);
}

TEST(Publisher, AGeneratedIdTakenOverIsReplacedAndTheUnconfirmedEventsRenumberedUnderTheNewOne) {
  FakeIngest ingest;
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint});
  ASSERT_TRUE(publisher.ok());
  const std::string first_id = (*publisher)->publisher_id();
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("1")).ok());
  ASSERT_TRUE((*publisher)->Flush(5s).ok());
  ingest.confirming = false;
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("2")).ok());
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("3")).ok());
  ingest.TakeOver();
  ASSERT_FALSE((*publisher)->Flush(300ms).ok());
  EXPECT_NE((*publisher)->publisher_id(), first_id);
  ingest.confirming = true;
  ASSERT_TRUE((*publisher)->PostSave("auth.User", User("4")).ok());
  ASSERT_TRUE((*publisher)->Flush(5s).ok());
  std::vector<std::pair<std::string, std::string>> under_new;  // (pk, sequence) under the new id
  while (auto e = ingest.Receive(200ms)) {
    if (e->publisher_id() == (*publisher)->publisher_id()) {
      under_new.emplace_back(e->model_save().instance().pk(), std::to_string(e->sequence()));
    }
  }
  EXPECT_NE(std::find(under_new.begin(), under_new.end(), std::make_pair(std::string("2"), std::string("1"))),
            under_new.end());
  EXPECT_NE(std::find(under_new.begin(), under_new.end(), std::make_pair(std::string("4"), std::string("3"))),
            under_new.end());
}

TEST(Publisher, AFixedIdTheBrokerRefusesAtHelloFailsConnectWithItsReason) {
  FakeIngest ingest;
  ingest.refuse_hellos = "id_in_use";
  auto publisher = Publisher::Connect({.endpoint = ingest.endpoint, .publisher_id = "accounts-1"});
  ASSERT_FALSE(publisher.ok());
  EXPECT_EQ(publisher.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(publisher.status().message().find("refused it (id_in_use)"), std::string::npos)
      << publisher.status().message();
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
