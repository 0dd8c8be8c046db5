// Publish batches through the real broker, from raw DEALERs speaking the wire protocol:
// batched and single events interleaved are each logged once, in sequence per
// publisher; an atomic batch with one invalid event logs nothing of it and tells its
// publisher why, event by event; a re-sent batch is dropped as duplicates.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "process.h"
#include "raw_publisher.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/event_json.h"
#include "signalbus/core/ingest_protocol.h"
#include "signalbus/publisher/publisher.h"
#include "signalbus/receivers/group_source.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

v1::Event Numbered(const std::string& publisher, std::uint64_t sequence) {
  v1::Event event = UserCreated(std::to_string(sequence));
  event.set_publisher_id(publisher);
  event.set_sequence(sequence);
  event.set_unconfirmed_from(1);
  return event;
}

std::vector<std::string> BatchOf(const std::vector<v1::Event>& events, bool atomic,
                                 const std::vector<std::string>& topics = {}) {
  v1::BatchHeader header;
  header.set_count(static_cast<std::uint32_t>(events.size()));
  header.set_atomic(atomic);
  std::vector<std::string> frames{std::string(kBatchKind), header.SerializeAsString()};
  for (std::size_t i = 0; i < events.size(); ++i) {
    frames.push_back(i < topics.size() && !topics[i].empty() ? topics[i] : TopicOf(events[i]));
    frames.push_back(EncodeEvent(events[i]));
  }
  return frames;
}


TEST(PublishBatchesTest, BatchedAndSingleEventsInterleavedAreLoggedOnceInSequencePerPublisher) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  RawPublisher single(broker.ingest()), batched(broker.ingest()), atomic(broker.ingest());
  std::optional<v1::SessionReply> opened = batched.Hello("batched", 1, 1);
  ASSERT_TRUE(opened && opened->state() == v1::SessionReply::OPEN);
  EXPECT_EQ(opened->max_batch_events(), kDefaultMaxBatchEvents);
  EXPECT_EQ(opened->max_batch_bytes(), kDefaultMaxBatchBytes);
  ASSERT_TRUE(single.Hello("single", 1, 1));
  ASSERT_TRUE(atomic.Hello("atomic", 1, 1));
  constexpr std::uint64_t kRounds = 30;
  std::uint64_t batched_next = 1, atomic_next = 1;
  for (std::uint64_t round = 1; round <= kRounds; ++round) {
    single.Send(Numbered("single", round));
    std::vector<v1::Event> b;
    for (std::uint64_t i = 0; i < round % 7 + 1; ++i) b.push_back(Numbered("batched", batched_next++));
    batched.SendFrames(BatchOf(b, false));
    if (round % 10 == 0) batched.SendFrames(BatchOf(b, false));  // a re-send: duplicates
    std::vector<v1::Event> a;
    for (int i = 0; i < 4; ++i) a.push_back(Numbered("atomic", atomic_next++));
    atomic.SendFrames(BatchOf(a, true));
  }
  ASSERT_TRUE(single.WaitConfirmed(kRounds));
  std::optional<v1::PublishConfirm> b = batched.WaitConfirmed(batched_next - 1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->rejections_size(), 0);
  std::optional<v1::PublishConfirm> a = atomic.WaitConfirmed(atomic_next - 1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->rejections_size(), 0);

  const int total = static_cast<int>(kRounds + (batched_next - 1) + (atomic_next - 1));
  EXPECT_EQ(broker.Metric("signalbus_log_appended_total"), total);
  EXPECT_GE(broker.Metric("signalbus_ingest_duplicates_total"), 1);
  std::map<std::string, std::vector<std::uint64_t>> sequences;
  for (const v1::Event& e : ReadLog(broker, total)) sequences[e.publisher_id()].push_back(e.sequence());
  auto expected = [](std::uint64_t n) {
    std::vector<std::uint64_t> v;
    for (std::uint64_t i = 1; i <= n; ++i) v.push_back(i);
    return v;
  };
  EXPECT_EQ(sequences["single"], expected(kRounds));
  EXPECT_EQ(sequences["batched"], expected(batched_next - 1));
  EXPECT_EQ(sequences["atomic"], expected(atomic_next - 1));
}

TEST(PublishBatchesTest, AnAtomicBatchWithOneInvalidEventLogsNothingOfItAndTellsItsPublisherWhy) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  RawPublisher publisher(broker.ingest());
  ASSERT_TRUE(publisher.Hello("orders", 1, 1));
  std::vector<v1::Event> order;
  for (std::uint64_t s = 1; s <= 4; ++s) order.push_back(Numbered("orders", s));
  // The third event's topic frame names another signal than the event itself.
  publisher.SendFrames(BatchOf(order, true, {"", "", "auth.User/post_delete", ""}));
  std::optional<v1::PublishConfirm> refused = publisher.WaitConfirmed(4);
  ASSERT_TRUE(refused);
  std::map<std::uint64_t, std::string> reasons;
  for (const auto& r : refused->rejections()) reasons[r.sequence()] = r.reason();
  EXPECT_EQ(reasons, (std::map<std::uint64_t, std::string>{
                         {1, "atomic_batch"}, {2, "atomic_batch"}, {3, "topic_mismatch"}, {4, "atomic_batch"}}));
  // The next batch is logged, and only it.
  std::vector<v1::Event> next{Numbered("orders", 5), Numbered("orders", 6)};
  publisher.SendFrames(BatchOf(next, true));
  ASSERT_TRUE(publisher.WaitConfirmed(6));
  std::vector<v1::Event> logged = ReadLog(broker, 2);
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[0].sequence(), 5u);
  EXPECT_EQ(logged[1].sequence(), 6u);
  EXPECT_EQ(broker.Metric("signalbus_log_appended_total"), 2);
  EXPECT_EQ(broker.Metric("signalbus_ingest_rejected_total{reason=\"atomic_batch\"}"), 3);
}

TEST(PublishBatchesTest, ACppPublishersAtomicBatchesReachAGroupMemberAsUnitsAndAreAckedOnce) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  GroupOptions group;
  group.start.set_earliest(true);
  group.heartbeat = std::chrono::milliseconds(200);
  GroupSource member(broker.groups(), "units", group);
  ASSERT_TRUE(member.Open({*TopicPattern::Parse("*/post_save")}).ok());
  PublisherOptions options;
  options.endpoint = broker.ingest();
  options.source = "shop";
  Result<std::unique_ptr<Publisher>> publisher = Publisher::Connect(options);
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  constexpr int kUnits = 40;
  for (int u = 0; u < kUnits; ++u) {
    std::vector<v1::Event> unit;
    for (int i = 0; i < 4; ++i) unit.push_back(UserCreated(std::to_string(u * 10 + i)));
    ASSERT_TRUE((*publisher)->PublishBatch(std::move(unit)).ok());
    ASSERT_TRUE((*publisher)->Publish(UserCreated(std::to_string(u * 10 + 9))).ok());
  }
  ASSERT_TRUE((*publisher)->Flush(10s).ok());

  std::vector<Delivery> got;
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       got.size() < kUnits * 5u && std::chrono::steady_clock::now() < deadline;) {
    Result<Received> r = member.Receive(100ms);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->kind != Received::Kind::kEvent) continue;
    member.Settle(r->delivery, true, "");
    got.push_back(r->delivery);
  }
  ASSERT_EQ(got.size(), kUnits * 5u);
  for (std::size_t i = 0; i < got.size(); i += 5) {
    for (std::size_t j = 0; j < 4; ++j) {
      EXPECT_EQ(got[i + j].unit_size, 4u) << got[i + j].offset;
      EXPECT_EQ(got[i + j].unit_offset, got[i].offset);
      EXPECT_EQ(got[i + j].offset, got[i].offset + j);
    }
    EXPECT_EQ(got[i + 4].unit_size, 0u);
  }
  // One ack per unit and per single event (Close sends the last), none refused.
  member.Close();
  EXPECT_TRUE(broker.WaitForMetric("signalbus_group_acked_total", kUnits * 2, 10s));
  EXPECT_EQ(broker.Metric("signalbus_group_acked_total"), kUnits * 2);
  EXPECT_EQ(broker.Metric("signalbus_group_stale_acks_total"), 0);
  EXPECT_EQ(broker.Metric("signalbus_log_appended_total"), kUnits * 5);
}

}  // namespace
}  // namespace signalbus::testing
