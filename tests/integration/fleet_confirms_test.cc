// Confirms reach only their publisher: 200 publishers connected at once, each a raw
// DEALER speaking the session protocol, each publishing its own events. Every message
// a publisher's connection receives is about its own publisher id — its session reply
// and confirms of its own sequences — never another's.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker_process.h"
#include "raw_publisher.h"
#include "sample_events.h"
#include "signalbus/core/ingest_protocol.h"

namespace signalbus::testing {
namespace {

using namespace std::chrono_literals;

TEST(FleetConfirmsTest, WithTwoHundredPublishersConnectedEachReceivesOnlyItsOwnConfirms) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.ready());
  constexpr int kPublishers = 200;
  constexpr int kEvents = 5;
  std::vector<std::unique_ptr<RawPublisher>> fleet;
  for (int i = 0; i < kPublishers; ++i) {
    fleet.push_back(std::make_unique<RawPublisher>(broker.ingest()));
    ASSERT_TRUE(fleet.back()->connected()) << i;
    std::optional<v1::SessionReply> opened = fleet.back()->Hello("fleet-" + std::to_string(i), 1, 1);
    ASSERT_TRUE(opened && opened->state() == v1::SessionReply::OPEN) << i;
  }
  // Every publisher's events interleaved: one each, round after round.
  for (int sequence = 1; sequence <= kEvents; ++sequence) {
    for (int i = 0; i < kPublishers; ++i) {
      v1::Event event = UserCreated(std::to_string(i * 100 + sequence));
      event.set_publisher_id("fleet-" + std::to_string(i));
      event.set_sequence(sequence);
      event.set_unconfirmed_from(1);
      fleet[i]->Send(event);
    }
  }
  int foreign = 0;
  for (int i = 0; i < kPublishers; ++i) {
    const std::string own = "fleet-" + std::to_string(i);
    std::uint64_t through = 0;
    int messages = 0;
    // Everything this connection receives until its last event is confirmed, and for a
    // moment after.
    for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
      auto message = fleet[i]->Receive(through >= kEvents ? 5ms : 1s);
      if (!message) {
        if (through >= kEvents) break;
        continue;
      }
      ++messages;
      if (message->first == kConfirmKind) {
        v1::PublishConfirm confirm;
        ASSERT_TRUE(confirm.ParseFromString(message->second));
        if (confirm.publisher_id() != own) ++foreign;
        EXPECT_EQ(confirm.rejections_size(), 0) << confirm.ShortDebugString();
        EXPECT_LE(confirm.durable_through(), static_cast<std::uint64_t>(kEvents));
        through = std::max(through, confirm.durable_through());
      } else if (message->first == kSessionKind) {
        v1::SessionReply reply;
        ASSERT_TRUE(reply.ParseFromString(message->second));
        if (reply.publisher_id() != own) ++foreign;
      } else {
        ADD_FAILURE() << own << " received a '" << message->first << "' message";
      }
    }
    EXPECT_EQ(through, static_cast<std::uint64_t>(kEvents)) << own << " after " << messages << " messages";
  }
  EXPECT_EQ(foreign, 0) << "messages about other publishers";
  EXPECT_TRUE(broker.WaitForMetric("signalbus_log_durable_offset", kPublishers * kEvents, 10s));
  EXPECT_EQ(broker.Metric("signalbus_publishers"), kPublishers);
}

}  // namespace
}  // namespace signalbus::testing
