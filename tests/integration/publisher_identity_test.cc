// Publisher identity against the real broker: the three ways a peer that is allowed in
// but wrong used to get confirms for events that were never stored — two publishers
// sharing one publisher_id, an event forged with an id read off the live feed, and a
// restart that numbers from 1 again under its old id. Each misuse ends in a refusal
// with its reason (to the publisher, on /metrics), and every event the broker confirmed
// is in the log, as a fresh consumer group reading from the earliest offset counts it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "process.h"
#include "raw_publisher.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/event_json.h"
#include "signalbus/publisher/publisher.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

v1::Instance User(int pk) {
  v1::Instance instance;
  instance.set_pk(std::to_string(pk));
  return instance;
}


int Logged(BrokerProcess& broker) { return static_cast<int>(broker.Metric("signalbus_log_appended_total")); }

std::string Refused(const std::string& reason) {
  return "signalbus_ingest_refused_total{reason=\"" + reason + "\"}";
}

TEST(PublisherIdentityTest, TwoPublishersSharingAnIdAreRefusedAndEveryConfirmedEventIsInTheLog) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  // Started side by side, as two workers configured alike: the second takes the session.
  auto first = Publisher::Connect({.endpoint = broker.ingest(), .publisher_id = "accounts-worker"});
  auto second = Publisher::Connect({.endpoint = broker.ingest(), .publisher_id = "accounts-worker"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  Status first_status, second_status;
  for (int pk = 1; pk <= 5000; ++pk) {
    if (first_status.ok()) first_status = (*first)->PostSave("auth.User", User(pk));
    if (second_status.ok()) second_status = (*second)->PostSave("auth.User", User(100'000 + pk));
  }
  if (first_status.ok()) first_status = (*first)->Flush(20s);
  if (second_status.ok()) second_status = (*second)->Flush(20s);
  EXPECT_EQ(first_status.code(), StatusCode::kFailedPrecondition) << first_status.ToString();
  EXPECT_NE(first_status.message().find("taken_over"), std::string::npos) << first_status.message();
  EXPECT_TRUE(second_status.ok()) << second_status.ToString();
  EXPECT_EQ(broker.Metric("signalbus_publisher_sessions_taken_over_total"), 1);

  // A third, started once the others have published, is behind them: refused at once.
  auto third = Publisher::Connect({.endpoint = broker.ingest(), .publisher_id = "accounts-worker"});
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(third.status().message().find("id_in_use"), std::string::npos) << third.status().message();
  EXPECT_EQ(broker.Metric(Refused("id_in_use")), 1);

  // The first publisher's events that it still holds are exactly those not logged: what
  // it was confirmed is stored, and nothing of it is stored twice.
  const std::size_t first_unconfirmed = (*first)->unconfirmed();
  std::vector<v1::Event> log = ReadLog(broker, Logged(broker));
  std::set<int> first_logged, second_logged;
  for (const v1::Event& e : log) {
    int pk = std::stoi(e.model_save().instance().pk());
    bool fresh = pk < 100'000 ? first_logged.insert(pk).second : second_logged.insert(pk).second;
    EXPECT_TRUE(fresh) << "pk " << pk << " is in the log twice";
  }
  EXPECT_EQ(second_logged.size(), 5000u) << "the second publisher was confirmed everything";
  EXPECT_EQ(first_logged.size() + first_unconfirmed, static_cast<std::size_t>((*first)->published()));
}

// Writes NDJSON lines to a running signalbus-publish through a FIFO, so that the test
// decides when it publishes.
class FifoFeed {
 public:
  explicit FifoFeed(const std::string& path) : path_(path) { EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0); }
  // After the reader has been started: blocks until it opens its end.
  void Open() { fd_ = ::open(path_.c_str(), O_WRONLY); }
  void WriteUsers(int first_pk, int count) {
    std::string lines;
    for (int pk = first_pk; pk < first_pk + count; ++pk) {
      lines += R"({"signal":"post_save","sender":"auth.User","model_save":{"instance":{"pk":")" +
               std::to_string(pk) + R"("},"created":true}})" + "\n";
    }
    ASSERT_EQ(::write(fd_, lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
  }
  void Close() { ::close(fd_); }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(PublisherIdentityTest, AnEventForgedWithAnIdReadOffTheFeedIsRefusedAndThePublisherLosesNothing) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  std::string dir = MakeTempDir("sb-forge");
  FifoFeed feed(dir + "/events.fifo");
  Process publish("signalbus-publish", {"--broker", broker.ingest(), "--ndjson", "-", "--timeout", "20s"},
                  {.stdin_file = dir + "/events.fifo"});
  feed.Open();
  feed.WriteUsers(1, 1000);
  ASSERT_TRUE(broker.WaitForMetric("signalbus_log_appended_total", 1000, 20s));

  // The forger reads an event off the bus and copies its publisher id.
  std::vector<v1::Event> seen = ReadLog(broker, 1);
  ASSERT_EQ(seen.size(), 1u);
  v1::Event forged = seen[0];
  forged.set_event_id(NewEventId());
  forged.set_sequence(2000);
  forged.set_unconfirmed_from(2000);
  forged.mutable_model_save()->mutable_instance()->set_pk("forged");
  // Sent on its own connection without a session: refused.
  RawPublisher forger(broker.ingest());
  forger.Send(forged);
  ASSERT_TRUE(broker.WaitForMetric(Refused("no_session"), 1, 20s));
  // With a hello claiming the id: it takes the session over, and its event is logged as
  // its own; the real publisher is told, and carries on under a fresh id.
  std::optional<v1::SessionReply> opened = forger.Hello(forged.publisher_id(), 2000, 2001);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->state(), v1::SessionReply::OPEN);
  forger.Send(forged);
  ASSERT_TRUE(forger.WaitConfirmed(2000));

  feed.WriteUsers(1001, 1000);
  feed.Close();
  ASSERT_EQ(publish.Wait(30s), 0) << publish.Stderr();
  EXPECT_NE(publish.Stdout().find("published 2000 events"), std::string::npos) << publish.Stdout();
  EXPECT_NE(publish.Stderr().find("continuing as"), std::string::npos) << publish.Stderr();

  // Every one of the 2000 events it was confirmed is in the log, once; and the forgery.
  std::vector<v1::Event> log = ReadLog(broker, Logged(broker));
  std::map<std::string, int> times_logged;
  for (const v1::Event& e : log) ++times_logged[e.model_save().instance().pk()];
  for (int pk = 1; pk <= 2000; ++pk) EXPECT_EQ(times_logged[std::to_string(pk)], 1) << "pk " << pk;
  EXPECT_EQ(times_logged["forged"], 1);
  EXPECT_EQ(log.size(), 2001u);
  EXPECT_EQ(broker.Metric("signalbus_publisher_sessions_taken_over_total"), 1);
}

TEST(PublisherIdentityTest, APublisherRestartedUnderItsOldIdIsRefusedAndItsConfirmedEventsStay) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  {
    auto before = Publisher::Connect({.endpoint = broker.ingest(), .publisher_id = "accounts-relay"});
    ASSERT_TRUE(before.ok());
    for (int pk = 1; pk <= 51; ++pk) ASSERT_TRUE((*before)->PostSave("auth.User", User(pk)).ok());
    ASSERT_TRUE((*before)->Flush(10s).ok());
  }
  // The restarted process numbers from 1 again: its events would be taken for re-sends.
  auto after = Publisher::Connect({.endpoint = broker.ingest(), .publisher_id = "accounts-relay"});
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(after.status().message().find("id_in_use"), std::string::npos) << after.status().message();
  EXPECT_NE(after.status().message().find("restarted and numbered from 1 again"), std::string::npos)
      << after.status().message();
  EXPECT_EQ(broker.Metric(Refused("id_in_use")), 1);
  // A raw client that skips the hello's check and sends sequence 1 with a new event is
  // refused too: a duplicate must be the same event.
  RawPublisher raw(broker.ingest());
  std::optional<v1::SessionReply> opened = raw.Hello("accounts-relay", 1, 52);
  ASSERT_TRUE(opened);
  ASSERT_EQ(opened->state(), v1::SessionReply::OPEN);
  v1::Event reused;
  reused.set_schema_version(1);
  reused.set_event_id(NewEventId());
  reused.set_signal("post_save");
  reused.set_sender("auth.User");
  reused.set_publisher_id("accounts-relay");
  reused.set_sequence(1);
  reused.set_unconfirmed_from(1);
  *reused.mutable_model_save()->mutable_instance() = User(999);
  raw.Send(reused);
  std::optional<v1::PublishConfirm> confirm = raw.WaitConfirmed(1);
  ASSERT_TRUE(confirm);
  ASSERT_EQ(confirm->rejections_size(), 1);
  EXPECT_EQ(confirm->rejections(0).reason(), "sequence_reused");
  EXPECT_EQ(broker.Metric(Refused("sequence_reused")), 1);

  std::vector<v1::Event> log = ReadLog(broker, Logged(broker));
  EXPECT_EQ(log.size(), 51u);
  for (std::size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].model_save().instance().pk(), std::to_string(i + 1));
}

}  // namespace
}  // namespace signalbus::testing
