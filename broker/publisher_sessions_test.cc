// PublisherSessions: hellos, takeovers, the sequence rules with event-id verification,
// per-connection confirms, recovery, limits; and, under random interleavings of several
// connections sharing one publisher id plus a forger, the promise itself: no connection
// is ever confirmed an event that is not in the log.
#include "signalbus/broker/publisher_sessions.h"

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "signalbus/core/event_id.h"

namespace signalbus::broker {
namespace {

using namespace std::chrono_literals;
using Clock = PublisherSessions::Clock;

struct Sent {
  std::string peer;
  std::string kind;
  std::string bytes;
};

// What a logged event was: who sent it under which sequence.
struct LogEntry {
  std::string publisher_id;
  std::uint64_t sequence;
  std::string event_id;
};

class SessionsTest : public ::testing::Test {
 protected:
  SessionsTest() { Make({}); }

  void Make(PublisherSessionsOptions options) {
    sessions_ = std::make_unique<PublisherSessions>(
        options, metrics_,
        [this](std::string_view peer, std::string_view kind, const std::string& bytes) {
          sent_.push_back({std::string(peer), std::string(kind), bytes});
        });
  }

  void Hello(const std::string& peer, const std::string& id, std::uint64_t from, std::uint64_t next,
             const std::string& principal = "everyone", bool may_publish = true,
             const auth::AllowList* reservations = nullptr) {
    v1::PublisherHello hello;
    hello.set_publisher_id(id);
    hello.set_unconfirmed_from(from);
    hello.set_next_sequence(next);
    sessions_->OnHello(peer, hello.SerializeAsString(), now_, principal, may_publish, reservations);
  }

  // Sends an event; returns whether it was logged (and logs it).
  bool Send(const std::string& peer, const std::string& id, std::uint64_t sequence, const std::string& event_id,
            std::uint64_t from = 0) {
    EventFields fields{.event_id = event_id, .publisher_id = id, .sequence = sequence, .unconfirmed_from = from};
    std::optional<PublisherSessions::Ticket> ticket = sessions_->Admit(peer, fields, now_);
    if (!ticket) return false;
    log_.push_back({id, sequence, event_id});
    sessions_->Logged(*ticket, log_.size());
    return true;
  }

  // Makes the whole log durable and sends what is owed.
  void Sync() {
    sessions_->OnDurable(log_.size());
    sessions_->SendConfirms();
  }

  // The last message of `kind` sent to `peer`, parsed; nullopt if none since the last Clear.
  template <typename M>
  std::optional<M> Last(const std::string& peer, std::string_view kind) const {
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (it->peer != peer || it->kind != kind) continue;
      M m;
      if (!m.ParseFromString(it->bytes)) return std::nullopt;
      return m;
    }
    return std::nullopt;
  }
  std::optional<v1::SessionReply> Reply(const std::string& peer) const {
    return Last<v1::SessionReply>(peer, kSessionKind);
  }
  std::optional<v1::PublishConfirm> Confirm(const std::string& peer) const {
    return Last<v1::PublishConfirm>(peer, kConfirmKind);
  }
  std::uint64_t Refused(Refusal r) const { return metrics_.Snapshot().refused[RefusalIndex(r)]; }

  Metrics metrics_;
  std::vector<Sent> sent_;
  std::vector<LogEntry> log_;
  Clock::time_point now_ = Clock::now();
  std::unique_ptr<PublisherSessions> sessions_;
};

TEST_F(SessionsTest, AHelloOpensASessionAndEachConfirmGoesOnlyToItsOwnConnection) {
  Hello("A", "pa", 1, 1);
  Hello("B", "pb", 1, 1);
  ASSERT_EQ(Reply("A")->state(), v1::SessionReply::OPEN);
  ASSERT_EQ(Reply("B")->state(), v1::SessionReply::OPEN);
  for (std::uint64_t s = 1; s <= 3; ++s) EXPECT_TRUE(Send("A", "pa", s, NewEventId(), 1));
  EXPECT_TRUE(Send("B", "pb", 1, NewEventId(), 1));
  sent_.clear();
  Sync();
  EXPECT_EQ(Confirm("A")->publisher_id(), "pa");
  EXPECT_EQ(Confirm("A")->durable_through(), 3u);
  EXPECT_EQ(Confirm("B")->publisher_id(), "pb");
  EXPECT_EQ(Confirm("B")->durable_through(), 1u);
  for (const Sent& s : sent_) {
    v1::PublishConfirm c;
    ASSERT_TRUE(c.ParseFromString(s.bytes));
    EXPECT_EQ(c.publisher_id(), s.peer == "A" ? "pa" : "pb") << "a confirm reached another publisher";
  }
  EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(SessionsTest, ANewConnectionsProbeAndAnEventWithoutASessionAreAnsweredWithNoSession) {
  sessions_->OnProbe("A");
  EXPECT_EQ(Reply("A")->state(), v1::SessionReply::NO_SESSION);
  sent_.clear();
  EXPECT_FALSE(Send("A", "pa", 1, NewEventId(), 1));
  EXPECT_EQ(Reply("A")->state(), v1::SessionReply::NO_SESSION);
  EXPECT_EQ(Refused(Refusal::kNoSession), 1u);
  EXPECT_TRUE(log_.empty());
}

TEST_F(SessionsTest, AFireAndForgetEventNeedsNoSessionAndIsNeverConfirmed) {
  EventFields fields{.event_id = NewEventId()};
  std::optional<PublisherSessions::Ticket> ticket = sessions_->Admit("A", fields, now_);
  ASSERT_TRUE(ticket.has_value());
  EXPECT_TRUE(ticket->anonymous());
  sessions_->Logged(*ticket, 1);
  sessions_->OnDurable(1);
  sessions_->SendConfirms();
  EXPECT_TRUE(sent_.empty());
}

TEST_F(SessionsTest, AReSendOfTheSameEventIsConfirmedAndNotLoggedAgain) {
  Hello("A", "p", 1, 1);
  std::string id1 = NewEventId(), id2 = NewEventId();
  ASSERT_TRUE(Send("A", "p", 1, id1, 1));
  ASSERT_TRUE(Send("A", "p", 2, id2, 1));
  EXPECT_FALSE(Send("A", "p", 2, id2, 1));
  EXPECT_FALSE(Send("A", "p", 1, id1, 1));
  Sync();
  EXPECT_EQ(Confirm("A")->durable_through(), 2u);
  EXPECT_EQ(Confirm("A")->rejections_size(), 0);
  EXPECT_EQ(metrics_.Snapshot().duplicates, 2u);
  EXPECT_EQ(log_.size(), 2u);
}

TEST_F(SessionsTest, ASettledSequenceSentAgainWithAnotherEventIdIsRefusedNotConfirmedAsADuplicate) {
  Hello("A", "p", 1, 1);
  ASSERT_TRUE(Send("A", "p", 1, NewEventId(), 1));
  ASSERT_TRUE(Send("A", "p", 2, NewEventId(), 1));
  std::string other = NewEventId();
  EXPECT_FALSE(Send("A", "p", 2, other, 1));
  Sync();
  v1::PublishConfirm c = *Confirm("A");
  ASSERT_EQ(c.rejections_size(), 1);
  EXPECT_EQ(c.rejections(0).sequence(), 2u);
  EXPECT_EQ(c.rejections(0).reason(), "sequence_reused");
  EXPECT_EQ(Refused(Refusal::kSequenceReused), 1u);
  EXPECT_EQ(metrics_.Snapshot().duplicates, 0u);
}

TEST_F(SessionsTest, EventsAboveAGapAreDroppedAndAReSendIsAskedForFromTheGap) {
  Hello("A", "p", 1, 1);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(NewEventId());
  ASSERT_TRUE(Send("A", "p", 1, ids[0], 1));
  ASSERT_TRUE(Send("A", "p", 2, ids[1], 1));
  EXPECT_FALSE(Send("A", "p", 5, ids[4], 1));  // 3 and 4 never arrived
  EXPECT_FALSE(Send("A", "p", 6, ids[5], 1));
  Sync();
  EXPECT_EQ(Confirm("A")->durable_through(), 2u);
  EXPECT_EQ(Confirm("A")->resend_from(), 3u);
  EXPECT_EQ(metrics_.Snapshot().out_of_order, 2u);
  for (std::uint64_t s = 3; s <= 6; ++s) EXPECT_TRUE(Send("A", "p", s, ids[s - 1], 3));
  Sync();
  EXPECT_EQ(Confirm("A")->durable_through(), 6u);
  EXPECT_EQ(Confirm("A")->resend_from(), 0u);
}

TEST_F(SessionsTest, APublisherThatRestartsAndNumbersFromOneAgainIsRefusedAtHello) {
  Hello("A", "fixed", 1, 1);
  for (std::uint64_t s = 1; s <= 51; ++s) ASSERT_TRUE(Send("A", "fixed", s, NewEventId(), 1));
  Sync();
  Hello("A2", "fixed", 1, 1);  // the restarted process, new connection
  v1::SessionReply r = *Reply("A2");
  EXPECT_EQ(r.state(), v1::SessionReply::REFUSED);
  EXPECT_EQ(r.reason(), "id_in_use");
  EXPECT_EQ(r.logged_through(), 51u);
  EXPECT_NE(r.message().find("another publisher uses this id"), std::string::npos) << r.message();
  EXPECT_EQ(Refused(Refusal::kIdInUse), 1u);
  // Its events are refused too: no session.
  EXPECT_FALSE(Send("A2", "fixed", 1, NewEventId(), 1));
  EXPECT_EQ(log_.size(), 51u);
}

TEST_F(SessionsTest, ANewerConnectionTakesTheSessionOverAndTheOlderGetsItsLastConfirmThenTakenOver) {
  Hello("A", "p", 1, 1);
  std::vector<std::string> ids = {NewEventId(), NewEventId(), NewEventId()};
  ASSERT_TRUE(Send("A", "p", 1, ids[0], 1));
  ASSERT_TRUE(Send("A", "p", 2, ids[1], 1));
  sent_.clear();
  // The same publisher on a new connection (its old one broke): it re-sends from 1.
  Hello("A2", "p", 1, 3);
  EXPECT_EQ(Reply("A2")->state(), v1::SessionReply::OPEN);
  EXPECT_FALSE(Reply("A").has_value()) << "TAKEN_OVER must wait for the last confirm";
  EXPECT_FALSE(Send("A", "p", 3, ids[2], 1)) << "the old session accepts nothing more";
  EXPECT_EQ(Refused(Refusal::kTakenOver), 1u);
  Sync();
  EXPECT_EQ(Confirm("A")->durable_through(), 2u);
  EXPECT_EQ(Reply("A")->state(), v1::SessionReply::TAKEN_OVER);
  EXPECT_EQ(Reply("A")->reason(), "taken_over");
  EXPECT_EQ(metrics_.Snapshot().sessions_taken_over, 1u);
  // The new session: duplicates of 1 and 2, then 3.
  EXPECT_FALSE(Send("A2", "p", 1, ids[0], 1));
  EXPECT_FALSE(Send("A2", "p", 2, ids[1], 1));
  EXPECT_TRUE(Send("A2", "p", 3, ids[2], 1));
  Sync();
  EXPECT_EQ(Confirm("A2")->durable_through(), 3u);
  EXPECT_EQ(sessions_->sessions(), 1u);
}

TEST_F(SessionsTest, AConfirmNeverCoversASequenceThisConnectionDidNotSettleItself) {
  // A logged 1..100; B shares the id, its 2 is lost on the way and 3 arrives.
  Hello("A", "p", 1, 1);
  for (std::uint64_t s = 1; s <= 100; ++s) ASSERT_TRUE(Send("A", "p", s, NewEventId(), 1));
  Sync();
  Hello("B", "p", 1, 101);  // a liar about its next sequence, or a twin: it takes over
  EXPECT_FALSE(Send("B", "p", 1, NewEventId(), 1));
  EXPECT_FALSE(Send("B", "p", 3, NewEventId(), 1));
  Sync();
  v1::PublishConfirm c = *Confirm("B");
  EXPECT_EQ(c.durable_through(), 1u) << "a confirm through 3 would tell B its lost event 2 is stored";
  ASSERT_EQ(c.rejections_size(), 1);
  EXPECT_EQ(c.rejections(0).sequence(), 1u);
  EXPECT_EQ(c.rejections(0).reason(), "sequence_reused");
  EXPECT_EQ(c.resend_from(), 2u);
}

TEST_F(SessionsTest, AnEventNamingAnotherPublisherThanItsSessionIsRefused) {
  Hello("A", "pa", 1, 1);
  EXPECT_FALSE(Send("A", "pb", 1, NewEventId(), 1));
  Sync();
  ASSERT_EQ(Confirm("A")->rejections_size(), 1);
  EXPECT_EQ(Confirm("A")->rejections(0).reason(), "wrong_publisher");
  EXPECT_TRUE(log_.empty());
}

TEST_F(SessionsTest, ARejectedEventSettlesItsSequenceAndItsReSendIsRefused) {
  Hello("A", "p", 1, 1);
  ASSERT_TRUE(Send("A", "p", 1, NewEventId(), 1));
  v1::Event bad;
  bad.set_event_id(NewEventId());
  bad.set_publisher_id("p");
  bad.set_sequence(2);
  sessions_->OnRejected("A", bad.SerializeAsString(), "invalid_event");
  ASSERT_TRUE(Send("A", "p", 3, NewEventId(), 1));
  Sync();
  v1::PublishConfirm c = *Confirm("A");
  EXPECT_EQ(c.durable_through(), 3u);
  ASSERT_EQ(c.rejections_size(), 1);
  EXPECT_EQ(c.rejections(0).sequence(), 2u);
  EXPECT_EQ(c.rejections(0).reason(), "invalid_event");
  // Every confirm lists it until the publisher's floor passes it (the one that first
  // carried it may have been lost).
  ASSERT_TRUE(Send("A", "p", 4, NewEventId(), 1));
  Sync();
  ASSERT_EQ(Confirm("A")->rejections_size(), 1);
  EXPECT_EQ(Confirm("A")->rejections(0).sequence(), 2u);
  ASSERT_TRUE(Send("A", "p", 5, NewEventId(), 5));  // the publisher has heard of it
  Sync();
  EXPECT_EQ(Confirm("A")->rejections_size(), 0);
  // On a new connection the publisher, which never heard, sends it again: never a
  // duplicate.
  Hello("A2", "p", 2, 6);
  EXPECT_FALSE(Send("A2", "p", 2, bad.event_id(), 2));
  Sync();
  ASSERT_EQ(Confirm("A2")->rejections_size(), 1);
  EXPECT_EQ(Confirm("A2")->rejections(0).reason(), "previously_rejected");
  EXPECT_EQ(metrics_.Snapshot().duplicates, 0u);
}

TEST_F(SessionsTest, AConfirmThatCannotListEveryRejectionStopsShortOfTheFirstLeftOut) {
  Hello("A", "p", 1, 1);
  for (std::uint64_t s = 1; s <= 2000; ++s) {
    v1::Event bad;
    bad.set_event_id(NewEventId());
    bad.set_publisher_id("p");
    bad.set_sequence(s);
    sessions_->OnRejected("A", bad.SerializeAsString(), "invalid_event");
  }
  ASSERT_TRUE(Send("A", "p", 2001, NewEventId(), 1));
  Sync();
  v1::PublishConfirm c = *Confirm("A");
  ASSERT_EQ(c.rejections_size(), 1024);
  EXPECT_EQ(c.rejections(1023).sequence(), 1024u);
  EXPECT_EQ(c.durable_through(), 1024u);
}

TEST_F(SessionsTest, AfterARestartReSendsAreRecognisedFromTheRecoveredLog) {
  std::vector<std::string> ids = {NewEventId(), NewEventId(), NewEventId()};
  for (std::uint64_t s = 1; s <= 3; ++s) {
    sessions_->Recover(PublisherFields{.event_id = ids[s - 1], .publisher_id = "p", .sequence = s,
                                       .unconfirmed_from = 1},
                       now_);
  }
  Hello("A", "p", 2, 4);  // 2 and 3 were never confirmed to it
  ASSERT_EQ(Reply("A")->state(), v1::SessionReply::OPEN);
  EXPECT_EQ(Reply("A")->logged_through(), 3u);
  EXPECT_FALSE(Send("A", "p", 2, ids[1], 2));
  EXPECT_FALSE(Send("A", "p", 3, ids[2], 2));
  EXPECT_TRUE(Send("A", "p", 4, NewEventId(), 2));
  Sync();
  EXPECT_EQ(Confirm("A")->durable_through(), 4u);
  EXPECT_EQ(metrics_.Snapshot().duplicates, 2u);
}

TEST_F(SessionsTest, AHelloThatSaysMoreWasConfirmedThanTheBrokerHoldsStartsThere) {
  // 1..3 logged; the publisher had confirms through 9 (from a broker whose log is gone).
  Hello("A", "p", 1, 1);
  for (std::uint64_t s = 1; s <= 3; ++s) ASSERT_TRUE(Send("A", "p", s, NewEventId(), 1));
  Sync();
  Hello("A2", "p", 10, 12);
  ASSERT_EQ(Reply("A2")->state(), v1::SessionReply::OPEN);
  EXPECT_TRUE(Send("A2", "p", 10, NewEventId(), 10));
  EXPECT_TRUE(Send("A2", "p", 11, NewEventId(), 10));
  Sync();
  EXPECT_EQ(Confirm("A2")->durable_through(), 11u);
  // A sequence in the hole can never be confirmed as a duplicate.
  EXPECT_FALSE(Send("A2", "p", 5, NewEventId(), 10));
  EXPECT_EQ(Refused(Refusal::kDuplicateUnverifiable), 1u);
  EXPECT_EQ(log_.size(), 5u);
}

TEST_F(SessionsTest, BadHellosAreRefusedWithAReason) {
  sessions_->OnHello("A", "\xff\xff not a hello", now_, "everyone");
  EXPECT_EQ(Reply("A")->reason(), "bad_hello");
  Hello("B", std::string(129, 'x'), 1, 1);
  EXPECT_EQ(Reply("B")->reason(), "bad_hello");
  Hello("C", "bad id with spaces", 1, 1);
  EXPECT_EQ(Reply("C")->reason(), "bad_hello");
  Hello("D", "p", 5, 3);  // unconfirmed_from above next_sequence
  EXPECT_EQ(Reply("D")->reason(), "bad_hello");
  Hello("E", "p", 0, 0);
  EXPECT_EQ(Reply("E")->reason(), "bad_hello");
  Hello("F", "p", 1, 1);
  Hello("F", "q", 1, 1);  // a second id on one connection
  EXPECT_EQ(Reply("F")->reason(), "bad_hello");
  EXPECT_EQ(Refused(Refusal::kBadHello), 6u);
  EXPECT_EQ(sessions_->sessions(), 1u);
}

TEST_F(SessionsTest, PublisherIdsAreCappedAndIdleOnesForgotten) {
  Make({.max_publishers = 2, .forget_after = 1min});
  Hello("A", "p1", 1, 1);
  Hello("B", "p2", 1, 1);
  Hello("C", "p3", 1, 1);
  EXPECT_EQ(Reply("C")->state(), v1::SessionReply::REFUSED);
  EXPECT_EQ(Reply("C")->reason(), "too_many_publishers");
  EXPECT_EQ(sessions_->publishers(), 2u);
  now_ += 2min;
  sessions_->Maintain(now_);
  EXPECT_EQ(sessions_->publishers(), 0u);
  EXPECT_EQ(sessions_->sessions(), 0u);
  Hello("C", "p3", 1, 1);
  EXPECT_EQ(Reply("C")->state(), v1::SessionReply::OPEN);
  // A forgotten publisher's connection has no session any more: it is told so.
  EXPECT_FALSE(Send("A", "p1", 1, NewEventId(), 1));
  EXPECT_EQ(Reply("A")->state(), v1::SessionReply::NO_SESSION);
}

TEST_F(SessionsTest, OnePrincipalHoldsAtMostItsShareOfPublisherIdsAndTheOthersStillGetNewOnes) {
  Make({.max_publishers = 10, .max_publishers_per_principal = 2, .forget_after = 1min});
  Hello("A", "a1", 1, 1, "accounts");
  Hello("B", "a2", 1, 1, "accounts");
  Hello("C", "a3", 1, 1, "accounts");
  EXPECT_EQ(Reply("C")->state(), v1::SessionReply::REFUSED);
  EXPECT_EQ(Reply("C")->reason(), "too_many_publishers");
  EXPECT_NE(Reply("C")->message().find("principal 'accounts' holds 2"), std::string::npos) << Reply("C")->message();
  Hello("D", "b1", 1, 1, "billing");
  EXPECT_EQ(Reply("D")->state(), v1::SessionReply::OPEN);
  // A known id comes back on a new connection: not a new one, not refused.
  Hello("E", "a1", 1, 1, "accounts");
  EXPECT_EQ(Reply("E")->state(), v1::SessionReply::OPEN);
  // Forgotten ids free the principal's share.
  Sync();  // the taken-over session is told, and closed
  now_ += 2min;
  sessions_->Maintain(now_);
  Hello("F", "a3", 1, 1, "accounts");
  EXPECT_EQ(Reply("F")->state(), v1::SessionReply::OPEN) << Reply("F")->message();
}

TEST_F(SessionsTest, APrincipalThatMayPublishNothingCannotClaimAPublisherId) {
  Make({});
  Hello("A", "accounts-relay-1", 1, 1, "reader", /*may_publish=*/false);
  EXPECT_EQ(Reply("A")->state(), v1::SessionReply::REFUSED);
  EXPECT_EQ(Reply("A")->reason(), "forbidden");
  EXPECT_EQ(sessions_->publishers(), 0u);
  Hello("B", "accounts-relay-1", 1, 1, "accounts");
  EXPECT_EQ(Reply("B")->state(), v1::SessionReply::OPEN);
}

TEST_F(SessionsTest, AReservedPublisherIdIsRefusedToOtherPrincipalsAfterARestartAndTakenBackAtAReload) {
  auto parse = [](const std::string& text) { return auth::AllowList::Parse(text, "allow.toml").value(); };
  const auth::AllowList none = parse("[[principal]]\nname = \"accounts\"\n[[principal]]\nname = \"billing\"\n");
  const auth::AllowList reserved = parse(
      "[[principal]]\nname = \"accounts\"\npublisher_ids = [\"accounts-outbox*\"]\n"
      "[[principal]]\nname = \"billing\"\n");
  // A restarted broker knows the id from its log, with no owner: the reservation holds.
  const std::string event_id = NewEventId();
  sessions_->Recover(PublisherFields{.event_id = event_id, .publisher_id = "accounts-outbox-1", .sequence = 5}, now_);
  Hello("B", "accounts-outbox-1", 6, 6, "billing", true, &reserved);
  EXPECT_EQ(Reply("B")->state(), v1::SessionReply::REFUSED);
  EXPECT_EQ(Reply("B")->reason(), "forbidden");
  EXPECT_NE(Reply("B")->message().find("reserved for principal 'accounts'"), std::string::npos)
      << Reply("B")->message();
  Hello("B2", "accounts-outbox-2", 1, 1, "billing", true, &reserved);  // never seen: reserved all the same
  EXPECT_EQ(Reply("B2")->reason(), "forbidden");
  Hello("A", "accounts-outbox-1", 6, 6, "accounts", true, &reserved);
  EXPECT_EQ(Reply("A")->state(), v1::SessionReply::OPEN) << Reply("A")->message();
  Hello("C", "billing-1", 1, 1, "billing", true, &reserved);  // ids nobody reserved stay free
  EXPECT_EQ(Reply("C")->state(), v1::SessionReply::OPEN);

  // Held by billing before a reload reserves it for accounts: billing's session is taken
  // over once its last confirm is out, and accounts may claim it.
  Hello("D", "accounts-outbox-9", 1, 1, "billing", true, &none);
  ASSERT_EQ(Reply("D")->state(), v1::SessionReply::OPEN);
  ASSERT_TRUE(Send("D", "accounts-outbox-9", 1, NewEventId(), 1));
  sessions_->Reauthorize(reserved);
  Sync();
  EXPECT_EQ(Confirm("D")->durable_through(), 1u);
  EXPECT_EQ(Reply("D")->state(), v1::SessionReply::TAKEN_OVER);
  Hello("D2", "accounts-outbox-9", 2, 2, "billing", true, &reserved);
  EXPECT_EQ(Reply("D2")->reason(), "forbidden");
  Hello("E", "accounts-outbox-9", 2, 2, "accounts", true, &reserved);
  EXPECT_EQ(Reply("E")->state(), v1::SessionReply::OPEN) << Reply("E")->message();
  EXPECT_TRUE(Send("E", "accounts-outbox-9", 2, NewEventId(), 2));
}

TEST_F(SessionsTest, OnlyTheVerifyWindowOfEventIdsIsRemembered) {
  Make({.verify_window = 8});
  Hello("A", "p", 1, 1);
  std::vector<std::string> ids;
  for (std::uint64_t s = 1; s <= 20; ++s) {
    ids.push_back(NewEventId());
    ASSERT_TRUE(Send("A", "p", s, ids.back(), 1));
  }
  EXPECT_FALSE(Send("A", "p", 13, ids[12], 1));  // within the last 8: a duplicate
  EXPECT_EQ(metrics_.Snapshot().duplicates, 1u);
  EXPECT_FALSE(Send("A", "p", 12, ids[11], 1));  // older: cannot be told apart from a reuse
  Sync();
  ASSERT_EQ(Confirm("A")->rejections_size(), 1);
  EXPECT_EQ(Confirm("A")->rejections(0).reason(), "duplicate_unverifiable");
}

// A model publisher with its own window, as signalbus's clients keep one.
struct ModelPublisher {
  std::string peer;
  std::uint64_t next = 1;  // next sequence to publish
  std::map<std::uint64_t, std::string> unconfirmed;  // sequence -> event id
  std::set<std::string> confirmed;                    // event ids it was told are stored
  std::set<std::string> rejected;
  std::size_t replies_seen = 0;
};

// Several connections share one publisher id (two processes configured alike, a
// restart, reconnects), plus a forger that copies ids and sequences it saw and lies in
// its hellos; the wire may lose any confirm. Whatever happens, every event id a
// connection was told is stored is in the durable log.
TEST_F(SessionsTest, UnderRandomInterleavingsNoConnectionIsEverConfirmedAnEventThatIsNotInTheLog) {
  const std::uint32_t seeds =
      std::getenv("SIGNALBUS_SESSION_SEEDS") ? std::atoi(std::getenv("SIGNALBUS_SESSION_SEEDS")) : 300;
  std::size_t confirmed_total = 0, rejected_total = 0;
  for (std::uint32_t seed = 1; seed <= seeds; ++seed) {
    std::mt19937 rng(seed);
    auto chance = [&](int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; };
    auto pick = [&](std::uint64_t lo, std::uint64_t hi) {
      return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
    };
    Make({.verify_window = 16});
    sent_.clear();
    log_.clear();
    std::vector<ModelPublisher> pubs(3);
    int connection = 0;
    std::vector<std::string> seen_ids;  // what the forger read off the live feed
    std::size_t durable = 0;
    auto hello = [&](ModelPublisher& p) {
      std::uint64_t from = p.unconfirmed.empty() ? p.next : p.unconfirmed.begin()->first;
      Hello(p.peer, "shared", from, p.next);
    };
    auto send = [&](ModelPublisher& p, std::uint64_t sequence, const std::string& id) {
      std::uint64_t from = p.unconfirmed.begin()->first;
      if (!chance(5) && Send(p.peer, "shared", sequence, id, from)) seen_ids.push_back(id);
    };
    auto reconnect = [&](ModelPublisher& p) {
      p.peer = "c" + std::to_string(connection++);
      hello(p);
    };
    for (auto& p : pubs) reconnect(p);
    for (int step = 0; step < 400; ++step) {
      ModelPublisher& p = pubs[pick(0, pubs.size() - 1)];
      const int op = static_cast<int>(pick(0, 19));
      if (op == 0) {
        reconnect(p);
      } else if (op <= 9) {
        std::string id = NewEventId();
        p.unconfirmed[p.next] = id;
        send(p, p.next++, id);
      } else if (op <= 11) {
        // A re-send of everything unconfirmed, in order (the silent-interval timer).
        for (const auto& [sequence, id] : std::map(p.unconfirmed)) send(p, sequence, id);
      } else if (op == 12) {
        // The forger: a hello with made-up numbers, then an event with a copied or fresh id.
        std::string forger = "f" + std::to_string(connection++);
        Hello(forger, "shared", pick(1, 40), pick(1, 80));
        std::string id = !seen_ids.empty() && chance(50) ? seen_ids[pick(0, seen_ids.size() - 1)] : NewEventId();
        if (Send(forger, "shared", pick(1, 60), id, pick(0, 60))) seen_ids.push_back(id);
      } else if (op <= 15) {
        durable = pick(durable, log_.size());
        sessions_->OnDurable(durable);
        sessions_->SendConfirms();
      } else if (op == 16) {
        sessions_->Maintain(now_);
      } else {
        // An event the validator rejects (a bad payload).
        v1::Event bad;
        bad.set_event_id(NewEventId());
        bad.set_publisher_id("shared");
        bad.set_sequence(p.next);
        p.unconfirmed[p.next++] = bad.event_id();
        sessions_->OnRejected(p.peer, bad.SerializeAsString(), "invalid_event");
      }
      // Each publisher reads what was sent to its current connection, losing some
      // confirms, and acts as signalbus's clients do.
      for (ModelPublisher& q : pubs) {
        for (; q.replies_seen < sent_.size(); ++q.replies_seen) {
          const Sent m = sent_[q.replies_seen];
          if (m.peer != q.peer) continue;
          if (m.kind == kSessionKind) {
            v1::SessionReply r;
            ASSERT_TRUE(r.ParseFromString(m.bytes));
            if (r.state() == v1::SessionReply::NO_SESSION) hello(q);
            if (r.state() == v1::SessionReply::TAKEN_OVER) reconnect(q);
            if (r.state() == v1::SessionReply::OPEN) {
              for (const auto& [sequence, id] : std::map(q.unconfirmed)) send(q, sequence, id);
            }
            continue;
          }
          if (chance(10)) continue;  // a lost confirm
          v1::PublishConfirm c;
          ASSERT_TRUE(c.ParseFromString(m.bytes));
          for (const v1::PublishRejection& r : c.rejections()) {
            if (auto it = q.unconfirmed.find(r.sequence()); it != q.unconfirmed.end()) {
              q.rejected.insert(it->second);
              q.unconfirmed.erase(it);
            }
          }
          while (!q.unconfirmed.empty() && q.unconfirmed.begin()->first <= c.durable_through()) {
            q.confirmed.insert(q.unconfirmed.begin()->second);
            q.unconfirmed.erase(q.unconfirmed.begin());
          }
        }
      }
    }
    std::set<std::string> stored;
    for (std::size_t i = 0; i < durable; ++i) stored.insert(log_[i].event_id);
    for (const ModelPublisher& p : pubs) {
      confirmed_total += p.confirmed.size();
      rejected_total += p.rejected.size();
      for (const std::string& id : p.confirmed) {
        ASSERT_TRUE(stored.count(id)) << "seed " << seed << ": connection " << p.peer << " was confirmed event "
                                      << id << ", which is not in the durable log";
      }
    }
  }
  // The publishers really were confirmed and refused, not merely silent.
  std::fprintf(stderr, "confirmed %zu rejected %zu\n", confirmed_total, rejected_total);
  EXPECT_GT(confirmed_total, seeds * 20u) << "confirmed " << confirmed_total << ", rejected " << rejected_total;
  EXPECT_GT(rejected_total, seeds * 5u) << "confirmed " << confirmed_total << ", rejected " << rejected_total;
}

}  // namespace
}  // namespace signalbus::broker
