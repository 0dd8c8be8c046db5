// Journal: duplicates by (publisher_id, sequence), gaps dropped and reported with a
// re-send point, what a publisher says was confirmed, rejections settling a sequence,
// and the dedupe table rebuilt after a restart.
#include "signalbus/broker/journal.h"

#include <poll.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"

namespace signalbus::broker {
namespace {

using namespace std::chrono_literals;

class Collect : public EventSink {
 public:
  void Accept(const AcceptedEvent& event) override { sequences.push_back(event.fields.sequence); }
  std::vector<std::uint64_t> sequences;
};

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    journal_ = std::make_unique<Journal>(JournalOptions{.data_dir = dir_}, metrics_, sink_);
    ASSERT_TRUE(journal_->Open().ok());
  }
  void Restart() {
    journal_->Close();
    journal_.reset();
    Open();
  }

  // Sends sequence `sequence` of publisher "p", saying its unconfirmed events start at `from`.
  void Send(std::uint64_t sequence, std::uint64_t from = 0) {
    v1::Event e = testing::UserCreated(std::to_string(sequence));
    e.set_publisher_id("p");
    e.set_sequence(sequence);
    e.set_unconfirmed_from(from);
    std::string topic = TopicOf(e);
    std::string bytes = EncodeEvent(e);
    AcceptedEvent accepted{zmq::message_t(topic.data(), topic.size()), zmq::message_t(bytes.data(), bytes.size()),
                           EventFields{.event_id = e.event_id(), .publisher_id = "p", .sequence = sequence,
                                       .unconfirmed_from = from, .ordering_key = e.ordering_key()}};
    journal_->Accept(accepted);
  }

  // Waits for everything appended to be durable, then takes the confirm for "p".
  v1::PublishConfirm Confirm() {
    pollfd fd{journal_->wake_fd(), POLLIN, 0};
    while (journal_->durable_offset() < journal_->store().next_offset() - 1) (void)::poll(&fd, 1, 100);
    (void)journal_->TakeDurable();
    auto batch = journal_->TakeConfirms();
    if (!batch || batch->confirms_size() != 1) return {};
    return batch->confirms(0);
  }

  std::string dir_ = testing::MakeTempDir("sb-journal");
  Metrics metrics_;
  Collect sink_;
  std::unique_ptr<Journal> journal_;
};

TEST_F(JournalTest, LogsConsecutiveSequencesAndConfirmsThemCumulatively) {
  for (std::uint64_t s = 1; s <= 3; ++s) Send(s, 1);
  v1::PublishConfirm c = Confirm();
  EXPECT_EQ(c.durable_through(), 3u);
  EXPECT_EQ(c.resend_from(), 0u);
  EXPECT_EQ(sink_.sequences, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(JournalTest, DropsAReSendOfALoggedSequenceAndConfirmsAgain) {
  Send(1, 1);
  Send(2, 1);
  Send(2, 1);
  EXPECT_EQ(metrics_.Snapshot().duplicates, 1u);
  EXPECT_EQ(Confirm().durable_through(), 2u);
  EXPECT_EQ(sink_.sequences.size(), 2u);
}

TEST_F(JournalTest, DropsEventsAboveAGapAndAsksForAReSendFromIt) {
  Send(1, 1);
  Send(2, 1);
  Send(5, 1);  // 3 and 4 never arrived
  Send(6, 1);
  v1::PublishConfirm c = Confirm();
  EXPECT_EQ(c.durable_through(), 2u);
  EXPECT_EQ(c.resend_from(), 3u);
  EXPECT_EQ(metrics_.Snapshot().out_of_order, 2u);
  // The re-send, in order, is logged in order.
  for (std::uint64_t s = 3; s <= 6; ++s) Send(s, 3);
  c = Confirm();
  EXPECT_EQ(c.durable_through(), 6u);
  EXPECT_EQ(c.resend_from(), 0u);
  EXPECT_EQ(sink_.sequences, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(JournalTest, AnUnknownPublishersFirstEventIsNotTakenAsItsStartWhenEarlierOnesAreUnconfirmed) {
  // The publisher's events 1..3 were lost with a broker that crashed before logging them.
  Send(4, 1);
  EXPECT_EQ(Confirm().resend_from(), 1u);
  for (std::uint64_t s = 1; s <= 4; ++s) Send(s, 1);
  EXPECT_EQ(Confirm().durable_through(), 4u);
  EXPECT_EQ(sink_.sequences, (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(JournalTest, WhatThePublisherSaysWasConfirmedIsSettled) {
  // Events 1..9 were confirmed by an earlier broker whose log this one does not have.
  Send(10, 10);
  Send(11, 10);
  EXPECT_EQ(Confirm().durable_through(), 11u);
  EXPECT_EQ(sink_.sequences, (std::vector<std::uint64_t>{10, 11}));
}

TEST_F(JournalTest, APublisherThatGivesNoConfirmedPointStartsWhereItIsFirstSeen) {
  Send(7);
  Send(8);
  Send(10);
  v1::PublishConfirm c = Confirm();
  EXPECT_EQ(c.durable_through(), 8u);
  EXPECT_EQ(c.resend_from(), 9u);
}

TEST_F(JournalTest, ARejectedEventSettlesItsSequence) {
  Send(1, 1);
  v1::Event bad = testing::UserCreated("2");
  bad.set_publisher_id("p");
  bad.set_sequence(2);
  journal_->OnRejected(EncodeEvent(bad), "invalid_event");
  Send(3, 1);
  v1::PublishConfirm c = Confirm();
  EXPECT_EQ(c.durable_through(), 3u);
  EXPECT_EQ(c.resend_from(), 0u);
  ASSERT_EQ(c.rejections_size(), 1);
  EXPECT_EQ(c.rejections(0).sequence(), 2u);
}

TEST_F(JournalTest, AfterARestartDuplicatesAndGapsAreStillRecognised) {
  for (std::uint64_t s = 1; s <= 3; ++s) Send(s, 1);
  ASSERT_EQ(Confirm().durable_through(), 3u);
  Restart();
  Send(2, 2);  // a re-send the publisher had no confirm for
  Send(6, 4);  // 4 and 5 were sent to the broker that is gone
  v1::PublishConfirm c = Confirm();
  EXPECT_EQ(c.resend_from(), 4u);
  EXPECT_EQ(metrics_.Snapshot().duplicates, 1u);
  EXPECT_EQ(journal_->store().next_offset(), 4u);
}

}  // namespace
}  // namespace signalbus::broker
