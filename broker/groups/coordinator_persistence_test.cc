// Coordinator across restarts: group positions, acked offsets above the floor, dead
// letters, damaged files, persistence timing, the background writer and write failures.
#include <gtest/gtest.h>

#include <poll.h>

#include <filesystem>
#include <fstream>

#include "fault_injection_file_io.h"
#include "gated_file_io.h"
#include "state_file.h"
#include "test_harness.h"

namespace signalbus::groups::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class PersistenceTest : public ::testing::Test {
 protected:
  CoordinatorOptions Options() {
    CoordinatorOptions o;
    o.state_dir = dir_.path();
    return o;
  }
  std::string StatePath(const std::string& group) { return dir_.path() + "/" + StateFileName(group); }
  std::string DeadLetterPath(const std::string& group) { return dir_.path() + "/" + DeadLetterFileName(group); }

  TempDir dir_;
  eventlog::MemoryStore store_;  // the log, shared by a "broker" and its restarts
};

TEST_F(PersistenceTest, GroupResumesFromPersistedPositionAfterReopen) {
  Harness h(Options());
  h.Join("a", "g", 100);
  for (int i = 0; i < 10; ++i) h.PublishUser(std::to_string(i));
  std::vector<v1::Delivery> d = h.Take("a");
  ASSERT_EQ(d.size(), 10u);
  d.resize(5);
  h.AckAll("a", d);
  ASSERT_TRUE(h.coord().Persist().ok());

  ASSERT_TRUE(h.Reopen().ok());
  ASSERT_EQ(h.coord().ListGroups().size(), 1u);
  EXPECT_EQ(h.Info("g").ack_floor(), 5u);
  EXPECT_EQ(h.Info("g").acked(), 5u);
  h.Durable();
  h.Join("a", "g", 100);
  EXPECT_EQ(Offsets(h.Take("a")), (std::vector<std::uint64_t>{6, 7, 8, 9, 10}));
}

TEST_F(PersistenceTest, AckedAboveFloorNotRedeliveredAfterReopen) {
  Harness h(Options());
  h.Join("a", "g", 100);
  for (int i = 0; i < 8; ++i) h.PublishUser(std::to_string(i));
  h.Publish("shop.Order/order_paid", "");  // 9: not subscribed
  h.Take("a");
  for (std::uint64_t o : {1, 2, 4, 6, 7}) h.Ack("a", o, 1);
  EXPECT_EQ(h.Info("g").ack_floor(), 2u);
  ASSERT_TRUE(h.coord().Persist().ok());

  ASSERT_TRUE(h.Reopen().ok());
  h.Durable();
  h.Join("a", "g", 100);
  std::vector<v1::Delivery> again = h.Take("a");
  EXPECT_EQ(Offsets(again), (std::vector<std::uint64_t>{3, 5, 8}));
  h.AckAll("a", again);
  EXPECT_EQ(h.Info("g").ack_floor(), 9u);
  EXPECT_EQ(h.Info("g").lag(), 0u);
}

TEST_F(PersistenceTest, StateIsWrittenAtMostEveryPersistInterval) {
  CoordinatorOptions o = Options();
  o.persist_interval = std::chrono::milliseconds(100);
  Harness h(o);
  h.Join("a", "g", 100);
  std::uint64_t one = h.PublishUser("1");
  std::uint64_t two = h.PublishUser("2");
  h.Ack("a", one, 1);  // the first change after a quiet spell is written at once
  std::string first = ReadFile(StatePath("g"));
  EXPECT_EQ(DecodeGroupState(first, StatePath("g"))->ack_floor, one);
  h.Advance(50ms);
  h.Ack("a", two, 1);
  EXPECT_EQ(ReadFile(StatePath("g")), first);  // not yet: one write per interval
  EXPECT_LE(h.coord().NextDeadline(), h.now() + 50ms);
  h.Advance(50ms);
  Result<GroupStateData> state = DecodeGroupState(ReadFile(StatePath("g")), StatePath("g"));
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->ack_floor, two);
}

std::uint64_t FloorIn(const std::string& path) {
  Result<GroupStateData> state = DecodeGroupState(ReadFile(path), path);
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  return state.ok() ? state->ack_floor : ~std::uint64_t{0};
}

TEST_F(PersistenceTest, TickHandsStateToTheWriterWithoutWaitingForTheDisk) {
  GatedFileIo io;
  CoordinatorOptions o = Options();
  o.file_io = &io;
  Harness h(o);
  h.Join("a", "g", 100);
  std::uint64_t one = h.PublishUser("1");
  io.Shut();
  v1::GroupRequest ack;
  ack.mutable_ack()->add_deliveries()->set_offset(one);
  ack.mutable_ack()->mutable_deliveries(0)->set_attempt(1);
  h.coord().HandleRequest("a", ack, h.now());
  h.coord().Tick(h.now());  // returns while the write is held at the gate
  io.WaitUntilHeld();
  // The poll thread goes on meanwhile (not through the harness, which would wait).
  std::uint64_t two = *h.store().Append(kUserSaved, MakeEvent(kUserSaved, ""), 0);
  h.coord().OnDurable(*h.store().Sync(), h.now());
  EXPECT_EQ(Offsets(h.Take("a")), (std::vector<std::uint64_t>{one, two}));
  EXPECT_EQ(FloorIn(StatePath("g")), 0u);
  io.Open();
  h.coord().WaitForStateWrites();
  EXPECT_EQ(FloorIn(StatePath("g")), one);
}

v1::GroupRequest JoinRequest(const std::string& group, std::uint32_t credits) {
  v1::GroupRequest join;
  join.mutable_join()->set_group(group);
  *join.mutable_join()->mutable_config() = Harness::Config({std::string(kUserSaved)});
  join.mutable_join()->set_credits(credits);
  return join;
}

// Group creation is the writer's job: the Join is answered at once, and the group
// delivers once its file is on disk.
TEST_F(PersistenceTest, ANewGroupIsAnsweredAtOnceAndDeliversOnlyOnceItsStateFileIsOnDisk) {
  GatedFileIo io;
  CoordinatorOptions o = Options();
  o.file_io = &io;
  Harness h(o);
  io.Shut();
  h.coord().HandleRequest("a", JoinRequest("g", 10), h.now());  // returns while the write is held
  io.WaitUntilHeld();
  ASSERT_EQ(h.Replies("a").at(0).has_joined(), true);
  std::uint64_t one = *h.store().Append(kUserSaved, MakeEvent(kUserSaved, ""), 0);
  h.coord().OnDurable(*h.store().Sync(), h.now());
  h.coord().Tick(h.now());
  EXPECT_TRUE(h.Take("a").empty());
  EXPECT_GT(h.coord().NextDeadline(), h.now());  // no spinning while it waits: the wake fd brings the outcome
  EXPECT_FALSE(std::filesystem::exists(StatePath("g")));
  io.Open();
  h.coord().WaitForStateWrites();  // the outcome taken in, as the poll thread's next Tick would
  EXPECT_TRUE(std::filesystem::exists(StatePath("g")));
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{one});
}

TEST_F(PersistenceTest, TheWriterSignalsItsWakeFdWhenAStateFileIsWritten) {
  Harness h(Options());
  int fd = h.coord().wake_fd();
  ASSERT_GE(fd, 0);
  h.coord().HandleRequest("a", JoinRequest("g", 10), h.now());
  pollfd item{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&item, 1, 10'000), 1);
  h.coord().Tick(h.now());  // takes the outcome in and resets the fd
  EXPECT_EQ(::poll(&item, 1, 0), 0);
}

TEST_F(PersistenceTest, ACrashBeforeANewGroupsFileIsOnDiskForgetsAGroupThatDeliveredNothing) {
  eventlog::testing::FaultInjectionFileIo disk;
  {
    GatedFileIo io(&disk);
    CoordinatorOptions o = Options();
    o.file_io = &io;
    Harness h(o, &store_);
    io.Shut();
    h.coord().HandleRequest("a", JoinRequest("g", 10), h.now());
    io.WaitUntilHeld();
    (void)*store_.Append(kUserSaved, MakeEvent(kUserSaved, ""), 0);
    h.coord().OnDurable(*store_.Sync(), h.now());
    EXPECT_TRUE(h.Take("a").empty());
    disk.Crash();
    io.Open();  // the held write fails: the machine is down
  }
  ASSERT_TRUE(disk.DropUnsyncedData().ok());
  CoordinatorOptions o = Options();
  Harness restarted(o, &store_);
  ASSERT_TRUE(restarted.open_status().ok()) << restarted.open_status().ToString();
  EXPECT_TRUE(restarted.coord().ListGroups().empty());
}

TEST_F(PersistenceTest, ANewGroupWhoseFirstStateFileFailedDeliversOnlyOnceARetryIsOnDisk) {
  eventlog::testing::FaultInjectionFileIo io;
  CoordinatorOptions o = Options();
  o.file_io = &io;
  o.persist_interval = std::chrono::milliseconds(100);
  Harness h(o);
  // Another group's progress is written now: the next round is an interval away.
  h.Join("w", "warm", 10);
  h.Ack("w", h.PublishUser("1"), 1);
  io.FailNthSync(1);  // the fdatasync of the new group's g.state.tmp
  h.Join("a", "g", 10);
  EXPECT_TRUE(h.Replies("a").at(0).has_joined());
  std::uint64_t two = h.PublishUser("2");
  EXPECT_TRUE(h.Take("a").empty());
  EXPECT_FALSE(std::filesystem::exists(StatePath("g")));
  h.Advance(100ms);  // the periodic write retries
  EXPECT_TRUE(std::filesystem::exists(StatePath("g")));
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{two});
}

TEST_F(PersistenceTest, FailedStateFileWriteKeepsTheGroupDirtyAndIsRetried) {
  eventlog::testing::FaultInjectionFileIo io;
  CoordinatorOptions o = Options();
  o.file_io = &io;
  o.persist_interval = std::chrono::milliseconds(100);
  Harness h(o);
  h.Join("a", "g", 100);
  std::uint64_t one = h.PublishUser("1");
  io.FailNthSync(1);  // the fdatasync of the writer's g.state.tmp
  h.Ack("a", one, 1);
  EXPECT_EQ(FloorIn(StatePath("g")), 0u);  // as created
  EXPECT_LE(h.coord().NextDeadline(), h.now() + 100ms);
  h.Advance(100ms);
  EXPECT_EQ(FloorIn(StatePath("g")), one);
}

TEST_F(PersistenceTest, PersistWritesWhatTheIntervalHeldBack) {
  CoordinatorOptions o = Options();
  o.persist_interval = std::chrono::hours(24);
  Harness h(o);
  h.Join("a", "g", 100);
  std::uint64_t one = h.PublishUser("1");
  h.Ack("a", one, 1);
  EXPECT_EQ(FloorIn(StatePath("g")), 0u);
  ASSERT_TRUE(h.coord().Persist().ok());  // shutdown
  EXPECT_EQ(FloorIn(StatePath("g")), one);
}

TEST_F(PersistenceTest, DeadLettersSurviveReopenAndCanBeReplayedOrPurged) {
  eventlog::MemoryStore::Options store_options;
  store_options.segment_bytes = 1;
  store_options.retention.max_bytes = 1;
  eventlog::MemoryStore store(store_options);
  Harness h(Options(), &store);
  v1::GroupConfig config = Harness::Config({std::string(kUserSaved)});
  config.set_max_deliver(1);
  h.Join("a", "g", 100, config);
  std::uint64_t one = h.PublishUser("1");
  std::uint64_t two = h.PublishUser("2");
  std::string event_two = store.Read(two, 1, 1 << 20)->at(0).event;
  h.PublishUser("3");
  h.Take("a");
  h.Nack("a", one, 1, "first failed");
  h.Nack("a", two, 1, "second failed");
  h.Ack("a", 3, 1);
  ASSERT_TRUE(h.coord().Persist().ok());
  // The log no longer has them: the dead letters carry their own copies.
  ASSERT_TRUE(store.ApplyRetention(0).ok());
  ASSERT_GT(store.first_offset(), two);

  ASSERT_TRUE(h.Reopen().ok());
  v1::GroupRequest list;
  list.mutable_list_dead_letters()->set_group("g");
  v1::AdminReply listed = h.Admin(list);
  ASSERT_EQ(listed.dead_letters_size(), 2);
  EXPECT_EQ(listed.dead_letters(0).offset(), one);
  EXPECT_EQ(listed.dead_letters(0).error(), "first failed");
  EXPECT_EQ(listed.dead_letters(1).event(), event_two);

  h.Durable();
  h.Join("a", "g", 100, config);
  h.Replies("a");
  v1::GroupRequest replay;
  replay.mutable_replay_dead_letters()->set_group("g");
  replay.mutable_replay_dead_letters()->add_offsets(two);
  EXPECT_EQ(h.Admin(replay).affected(), 1u);
  std::vector<v1::Delivery> d = h.Take("a");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].offset(), two);
  EXPECT_EQ(d[0].attempt(), 1u);
  EXPECT_EQ(d[0].event(), event_two);
  h.Ack("a", two, 1);

  v1::GroupRequest purge;
  purge.mutable_purge_dead_letters()->set_group("g");
  purge.mutable_purge_dead_letters()->add_offsets(one);
  EXPECT_EQ(h.Admin(purge).affected(), 1u);
  ASSERT_TRUE(h.coord().Persist().ok());

  ASSERT_TRUE(h.Reopen().ok());
  EXPECT_EQ(h.Admin(list).dead_letters_size(), 0);
  EXPECT_EQ(h.Info("g").dead_lettered(), 0u);
}

v1::GroupRequest DeleteRequest(const std::string& group) {
  v1::GroupRequest r;
  r.mutable_delete_group()->set_group(group);
  return r;
}

TEST_F(PersistenceTest, AGroupWithMembersConnectedIsNotDeleted) {
  Harness h(Options());
  h.Join("a", "g", 100);
  v1::AdminReply reply = h.Admin(DeleteRequest("g"));
  EXPECT_EQ(reply.error(), "group \"g\" has 1 member connected; stop them first");
  EXPECT_EQ(reply.affected(), 0u);
  EXPECT_EQ(h.coord().ListGroups().size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(StatePath("g")));
  EXPECT_EQ(h.Admin(DeleteRequest("nope")).error(), "no group named \"nope\"");
}

TEST_F(PersistenceTest, ADeletedGroupIsGoneAfterARestartAndItsNameStartsAfresh) {
  Harness h(Options());
  v1::GroupConfig config = Harness::Config({std::string(kUserSaved)});
  config.set_max_deliver(1);
  h.Join("a", "g", 100, config);
  h.Join("b", "other", 100);
  for (int i = 1; i <= 3; ++i) h.PublishUser(std::to_string(i));
  h.Take("a");
  h.Nack("a", 1, 1, "failed");  // dead-lettered
  h.Ack("a", 2, 1);             // 3 stays in flight
  h.Advance(1s);                // a state file write or two on the writer's queue
  ASSERT_TRUE(std::filesystem::exists(DeadLetterPath("g")));
  h.Leave("a");

  v1::AdminReply reply = h.Admin(DeleteRequest("g"));
  EXPECT_EQ(reply.error(), "");
  EXPECT_EQ(reply.affected(), 1u);
  ASSERT_EQ(h.coord().ListGroups().size(), 1u);
  EXPECT_EQ(h.coord().ListGroups()[0].name(), "other");
  EXPECT_FALSE(std::filesystem::exists(StatePath("g")));
  EXPECT_FALSE(std::filesystem::exists(DeadLetterPath("g")));

  ASSERT_TRUE(h.Reopen().ok());
  ASSERT_EQ(h.coord().ListGroups().size(), 1u);
  h.Durable();
  // The same name again: a new group, from its start position, with no dead letters,
  // whose state files are written from version 1 again.
  config.mutable_start()->set_earliest(true);
  h.Join("a", "g", 100, config);
  std::vector<v1::Delivery> fresh = h.Take("a");
  EXPECT_EQ(Offsets(fresh), (std::vector<std::uint64_t>{1, 2, 3}));
  for (const v1::Delivery& d : fresh) EXPECT_EQ(d.attempt(), 1u);
  EXPECT_EQ(h.Info("g").dead_lettered(), 0u);
  h.AckAll("a", fresh);
  h.Advance(1s);
  ASSERT_TRUE(h.coord().Persist().ok());
  ASSERT_TRUE(h.Reopen().ok());
  EXPECT_EQ(h.Info("g").ack_floor(), 3u);
}

TEST_F(PersistenceTest, ADeletedGroupCanBeCreatedAgainWithoutARestart) {
  Harness h(Options());
  h.Join("a", "g", 100);
  h.PublishUser("1");
  h.AckAll("a", h.Take("a"));
  h.Advance(1s);
  ASSERT_TRUE(h.coord().Persist().ok());
  h.Leave("a");
  ASSERT_EQ(h.Admin(DeleteRequest("g")).error(), "");

  v1::GroupConfig config = Harness::Config({std::string(kUserSaved)});
  config.mutable_start()->set_earliest(true);
  h.Join("a", "g", 100, config);
  std::vector<v1::Delivery> again = h.Take("a");
  EXPECT_EQ(Offsets(again), std::vector<std::uint64_t>{1});
  h.AckAll("a", again);
  h.Advance(1s);  // the new group's state goes through the writer again, from version 1
  ASSERT_TRUE(h.coord().Persist().ok());
  ASSERT_TRUE(h.Reopen().ok());
  EXPECT_EQ(h.Info("g").ack_floor(), 1u);
}

TEST_F(PersistenceTest, ReplayedButUnackedDeadLetterReturnsAfterRestart) {
  Harness h(Options());
  v1::GroupConfig config = Harness::Config({std::string(kUserSaved)});
  config.set_max_deliver(1);
  h.Join("a", "g", 100, config);
  std::uint64_t one = h.PublishUser("1");
  h.Take("a");
  h.Nack("a", one, 1, "failed");
  v1::GroupRequest replay;
  replay.mutable_replay_dead_letters()->set_group("g");
  EXPECT_EQ(h.Admin(replay).affected(), 1u);
  EXPECT_EQ(h.Take("a").size(), 1u);
  EXPECT_EQ(h.Info("g").dead_lettered(), 0u);
  ASSERT_TRUE(h.coord().Persist().ok());
  ASSERT_TRUE(h.Reopen().ok());  // the broker died before the replay was acked
  EXPECT_EQ(h.Info("g").dead_lettered(), 1u);
}

TEST_F(PersistenceTest, DamagedStateFileIsReportedNotReset) {
  {
    Harness h(Options(), &store_);
    h.Join("a", "g", 100);
    h.PublishUser("1");
    h.Ack("a", 1, 1);
    ASSERT_TRUE(h.coord().Persist().ok());
  }
  const std::string path = StatePath("g");
  const std::string good = ReadFile(path);
  // Every single-byte change is caught.
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x20;
    WriteFile(path, bad);
    Harness h(Options(), &store_);
    Status s = h.Reopen();
    ASSERT_FALSE(s.ok()) << "byte " << i;
    EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
    EXPECT_EQ(ReadFile(path), bad) << "the damaged file must be left as it is";
  }
  WriteFile(path, good.substr(0, good.size() - 1));
  Harness truncated(Options(), &store_);
  EXPECT_EQ(truncated.Reopen().code(), StatusCode::kDataLoss);
  WriteFile(path, good);
  Harness fine(Options(), &store_);
  EXPECT_TRUE(fine.Reopen().ok());
  EXPECT_EQ(fine.Info("g").ack_floor(), 1u);
}

TEST_F(PersistenceTest, DamagedDeadLetterFileIsReportedButATornTailIsCut) {
  {
    Harness h(Options(), &store_);
    v1::GroupConfig config = Harness::Config({std::string(kUserSaved)});
    config.set_max_deliver(1);
    h.Join("a", "g", 100, config);
    for (int i = 0; i < 3; ++i) h.PublishUser(std::to_string(i));
    for (std::uint64_t o = 1; o <= 3; ++o) h.Nack("a", o, 1, "x");
    ASSERT_TRUE(h.coord().Persist().ok());
  }
  const std::string path = DeadLetterPath("g");
  const std::string good = ReadFile(path);
  // A byte flipped in the first record, with records after it: damage.
  std::string bad = good;
  bad[20] ^= 1;
  WriteFile(path, bad);
  {
    Harness h(Options(), &store_);
    Status s = h.Reopen();
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_NE(s.message().find(path), std::string::npos);
  }
  // The last record cut short: the writer died mid-append. Two letters remain.
  WriteFile(path, good.substr(0, good.size() - 5));
  Harness h(Options(), &store_);
  ASSERT_TRUE(h.Reopen().ok());
  EXPECT_EQ(h.Info("g").dead_lettered(), 2u);
  EXPECT_LT(ReadFile(path).size(), good.size() - 5);
}

TEST_F(PersistenceTest, FailedWritesAreRetriedAndNothingIsLost) {
  eventlog::testing::FaultInjectionFileIo io;
  CoordinatorOptions o = Options();
  o.file_io = &io;
  o.persist_interval = std::chrono::milliseconds(100);
  Harness h(o);
  v1::GroupConfig config = Harness::Config({std::string(kUserSaved)});
  config.set_max_deliver(1);
  h.Join("a", "g", 100, config);
  std::uint64_t one = h.PublishUser("1");
  std::uint64_t two = h.PublishUser("2");
  h.Nack("a", one, 1, "dead");
  h.Ack("a", two, 1);
  io.FailNthSync(1);
  EXPECT_FALSE(h.coord().Persist().ok());
  h.Advance(100ms);  // the periodic write retries
  ASSERT_TRUE(h.Reopen().ok());
  EXPECT_EQ(h.Info("g").ack_floor(), two);
  EXPECT_EQ(h.Info("g").dead_lettered(), 1u);
}

TEST_F(PersistenceTest, CrashKeepsDeadLettersThatTheFloorPassed) {
  eventlog::testing::FaultInjectionFileIo io;
  CoordinatorOptions o = Options();
  o.file_io = &io;
  {
    Harness h(o, &store_);
    v1::GroupConfig config = Harness::Config({std::string(kUserSaved)});
    config.set_max_deliver(1);
    h.Join("a", "g", 100, config);
    std::uint64_t one = h.PublishUser("1");
    h.Nack("a", one, 1, "dead");
    ASSERT_TRUE(h.coord().Persist().ok());
    std::uint64_t two = h.PublishUser("2");
    h.Nack("a", two, 1, "dead too");  // never persisted: the crash takes it
    io.Crash();
  }
  ASSERT_TRUE(io.DropUnsyncedData().ok());
  Harness h(o, &store_);
  ASSERT_TRUE(h.Reopen().ok());
  v1::GroupInfo info = h.Info("g");
  EXPECT_EQ(info.ack_floor(), 1u);
  EXPECT_EQ(info.dead_lettered(), 1u);  // offset 2 is above the floor: delivered again
}

TEST_F(PersistenceTest, UnknownMemberAfterRestartIsToldToRejoin) {
  Harness h(Options());
  h.Join("a", "g", 100);
  h.PublishUser("1");
  ASSERT_TRUE(h.Reopen().ok());
  h.Replies("a");
  h.Ack("a", 1, 1);
  std::vector<v1::GroupReply> replies = h.Replies("a");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].error().message(), "unknown member; join again");
  EXPECT_TRUE(replies[0].error().fatal());
}

TEST_F(PersistenceTest, ChangedSubscriptionsArePersistedAndTheLastUnionStaysWithNoMember) {
  {
    Harness h(Options(), &store_);
    h.Join("a", "g", 1);
    h.Join("b", "g", 1, Harness::Config({"auth.User/post_save", "shop.Order/*"}));
    h.Leave("a");
    h.Leave("b");
    ASSERT_TRUE(h.coord().Persist().ok());
  }
  Harness h(Options(), &store_);
  ASSERT_TRUE(h.Reopen().ok());
  const v1::GroupInfo info = h.Info("g");
  EXPECT_EQ(std::vector<std::string>(info.subscriptions().begin(), info.subscriptions().end()),
            (std::vector<std::string>{"auth.User/post_save", "shop.Order/*"}));
  // No member connected: an order event is still read for the group, and waits for one.
  std::uint64_t order = h.Publish("shop.Order/order_paid", "shop.Order:1");
  h.Join("c", "g", 5, Harness::Config({"shop.Order/*"}));
  EXPECT_EQ(Offsets(h.Take("c")), std::vector<std::uint64_t>{order});
}

TEST_F(PersistenceTest, FloorPastTheEndOfAReplacedLogRestartsAtItsEnd) {
  {
    Harness h(Options());
    h.Join("a", "g", 100);
    for (int i = 0; i < 5; ++i) h.PublishUser(std::to_string(i));
    h.AckAll("a", h.Take("a"));
    ASSERT_TRUE(h.coord().Persist().ok());
  }
  Harness h(Options());  // a fresh, empty log with the old groups directory
  h.PublishUser("new-1");
  ASSERT_TRUE(h.Reopen().ok());
  EXPECT_EQ(h.Info("g").ack_floor(), 1u);
  h.Join("a", "g", 100);
  std::uint64_t next = h.PublishUser("new-2");
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{next});
}

// Found by fuzz/group_state_fuzzer.cc: finished runs past the end of the log (a
// replaced log, or a damaged file) made the floor jump past the log on the next ack,
// so the events later written at those offsets were never delivered.
TEST_F(PersistenceTest, FinishedRunsPastTheEndOfTheLogAreCutAtOpen) {
  Harness h(Options());
  for (int i = 0; i < 4; ++i) h.PublishUser(std::to_string(i));  // offsets 1-4
  GroupStateData state;
  state.name = "g";
  state.config = Harness::Config({std::string(kUserSaved)});
  state.ack_floor = 1;
  state.finished_runs = {{3, 1}, {4, 100}, {200, 1'000'000'000'000}};
  WriteFile(StatePath("g"), EncodeGroupState(state));
  ASSERT_TRUE(h.Reopen().ok());
  h.Join("a", "g", 100);
  EXPECT_EQ(Offsets(h.Take("a")), std::vector<std::uint64_t>{2});
  h.Ack("a", 2, 1);
  EXPECT_EQ(h.Info("g").ack_floor(), 4u);
  std::vector<std::uint64_t> next;
  for (int i = 0; i < 3; ++i) next.push_back(h.PublishUser("new-" + std::to_string(i)));
  EXPECT_EQ(Offsets(h.Take("a")), next);
}

}  // namespace
}  // namespace signalbus::groups::testing
