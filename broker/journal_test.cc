// Journal: appends get consecutive offsets and become durable; after a restart the
// recovery scan hands over the publisher fields of the recent records, in log order.
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

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    recovered_.clear();
    journal_ = std::make_unique<Journal>(JournalOptions{.data_dir = dir_}, metrics_);
    ASSERT_TRUE(journal_
                    ->Open([this](const PublisherFields& f) {
                      recovered_.push_back(std::string(f.publisher_id) + "#" + std::to_string(f.sequence) + "<" +
                                           std::to_string(f.unconfirmed_from));
                    })
                    .ok());
  }
  void Restart() {
    journal_->Close();
    journal_.reset();
    Open();
  }
  std::uint64_t Append(const std::string& publisher, std::uint64_t sequence) {
    v1::Event e = testing::UserCreated(std::to_string(sequence));
    e.set_publisher_id(publisher);
    e.set_sequence(sequence);
    e.set_unconfirmed_from(1);
    Result<std::uint64_t> offset = journal_->Append(TopicOf(e), EncodeEvent(e));
    EXPECT_TRUE(offset.ok());
    return offset.ok() ? *offset : 0;
  }
  // Waits until everything appended is durable; returns what TakeDurable said.
  std::optional<std::uint64_t> WaitDurable() {
    pollfd fd{journal_->wake_fd(), POLLIN, 0};
    while (journal_->durable_offset() < journal_->store().next_offset() - 1) (void)::poll(&fd, 1, 100);
    return journal_->TakeDurable();
  }

  std::string dir_ = testing::MakeTempDir("sb-journal");
  Metrics metrics_;
  std::vector<std::string> recovered_;
  std::unique_ptr<Journal> journal_;
};

TEST_F(JournalTest, AppendsGetConsecutiveOffsetsAndBecomeDurable) {
  EXPECT_EQ(Append("p", 1), 1u);
  EXPECT_EQ(Append("p", 2), 2u);
  EXPECT_EQ(Append("q", 1), 3u);
  EXPECT_EQ(WaitDurable(), std::optional<std::uint64_t>(3));
  EXPECT_EQ(journal_->TakeDurable(), std::nullopt) << "reported once";
  EXPECT_EQ(metrics_.Snapshot().logged, 3u);
  EXPECT_EQ(metrics_.Snapshot().durable_offset, 3u);
}

TEST_F(JournalTest, AfterARestartTheRecentRecordsPublisherFieldsAreHandedOverInLogOrder) {
  EXPECT_TRUE(recovered_.empty());
  Append("p", 1);
  Append("q", 7);
  Append("p", 2);
  (void)WaitDurable();
  Restart();
  EXPECT_EQ(recovered_, (std::vector<std::string>{"p#1<1", "q#7<1", "p#2<1"}));
  EXPECT_EQ(journal_->durable_offset(), 3u);
  EXPECT_EQ(Append("p", 3), 4u);
}

}  // namespace
}  // namespace signalbus::broker
