// AdminClient against a scripted ROUTER: each call sends one request of the right kind
// and returns the answer; a refusal is a Status with the broker's text; silence is a
// clear error after the timeout.
#include "signalbus/admin/admin_client.h"

#include <future>

#include <gtest/gtest.h>

#include "fake_admin_broker.h"
#include "process.h"

namespace signalbus::admin {
namespace {

using std::chrono::milliseconds;
using testing::FakeAdminBroker;
using testing::SampleGroup;

constexpr milliseconds kTimeout{10'000};

TEST(AdminClientTest, ListGroupsReturnsTheBrokersGroups) {
  FakeAdminBroker broker;
  AdminClient client(broker.endpoint(), kTimeout);
  auto call = std::async(std::launch::async, [&] { return client.ListGroups(); });
  std::optional<v1::GroupRequest> request = broker.Next();
  ASSERT_TRUE(request.has_value());
  EXPECT_TRUE(request->has_list_groups());
  v1::AdminReply reply;
  *reply.add_groups() = SampleGroup("profile-creator");
  *reply.add_groups() = SampleGroup("audit");
  broker.ReplyAdmin(reply);
  auto groups = call.get();
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0].name(), "profile-creator");
  EXPECT_EQ((*groups)[1].acked(), 989u);
}

TEST(AdminClientTest, ListsAreFetchedPageAfterPage) {
  FakeAdminBroker broker;
  AdminClient client(broker.endpoint(), kTimeout);
  auto call = std::async(std::launch::async, [&] { return client.ListGroups(); });
  std::optional<v1::GroupRequest> request = broker.Next();
  ASSERT_TRUE(request && request->has_list_groups());
  EXPECT_EQ(request->list_groups().after(), "");
  v1::AdminReply page;
  *page.add_groups() = SampleGroup("a");
  *page.add_groups() = SampleGroup("b");
  page.set_more(true);
  broker.ReplyAdmin(page);
  request = broker.Next();
  ASSERT_TRUE(request && request->has_list_groups());
  EXPECT_EQ(request->list_groups().after(), "b");
  v1::AdminReply last;
  *last.add_groups() = SampleGroup("c");
  broker.ReplyAdmin(last);
  auto groups = call.get();
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 3u);
  EXPECT_EQ((*groups)[2].name(), "c");

  auto letters = std::async(std::launch::async, [&] { return client.ListDeadLetters("audit", 3); });
  request = broker.Next();
  ASSERT_TRUE(request && request->has_list_dead_letters());
  EXPECT_EQ(request->list_dead_letters().limit(), 3u);
  v1::AdminReply first;
  first.add_dead_letters()->set_offset(10);
  first.add_dead_letters()->set_offset(11);
  first.set_more(true);
  broker.ReplyAdmin(first);
  request = broker.Next();
  ASSERT_TRUE(request && request->has_list_dead_letters());
  EXPECT_EQ(request->list_dead_letters().after_offset(), 11u);
  EXPECT_EQ(request->list_dead_letters().limit(), 1u);  // what is left of the 3
  v1::AdminReply second;
  second.add_dead_letters()->set_offset(15);
  second.set_more(true);
  broker.ReplyAdmin(second);
  auto listed = letters.get();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->size(), 3u);  // the limit reached: no third page
}

TEST(AdminClientTest, APageThatDoesNotMoveOnIsAnErrorNotALoop) {
  FakeAdminBroker broker;
  AdminClient client(broker.endpoint(), kTimeout);
  auto call = std::async(std::launch::async, [&] { return client.ListGroups(); });
  ASSERT_TRUE(broker.Next().has_value());
  v1::AdminReply page;
  page.set_more(true);  // and no groups
  broker.ReplyAdmin(page);
  auto groups = call.get();
  ASSERT_FALSE(groups.ok());
  EXPECT_NE(groups.status().message().find("did not move on"), std::string::npos);
}

TEST(AdminClientTest, DeadLetterRequestsNameTheGroupLimitAndOffsets) {
  FakeAdminBroker broker;
  AdminClient client(broker.endpoint(), kTimeout);

  auto list = std::async(std::launch::async, [&] { return client.ListDeadLetters("audit", 7); });
  std::optional<v1::GroupRequest> request = broker.Next();
  ASSERT_TRUE(request && request->has_list_dead_letters());
  EXPECT_EQ(request->list_dead_letters().group(), "audit");
  EXPECT_EQ(request->list_dead_letters().limit(), 7u);
  v1::AdminReply letters;
  letters.add_dead_letters()->set_offset(42);
  broker.ReplyAdmin(letters);
  auto listed = list.get();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].offset(), 42u);

  auto replay = std::async(std::launch::async, [&] { return client.ReplayDeadLetters("audit", {42, 43}); });
  request = broker.Next();
  ASSERT_TRUE(request && request->has_replay_dead_letters());
  EXPECT_EQ(request->replay_dead_letters().group(), "audit");
  EXPECT_EQ(std::vector<std::uint64_t>(request->replay_dead_letters().offsets().begin(),
                                       request->replay_dead_letters().offsets().end()),
            (std::vector<std::uint64_t>{42, 43}));
  v1::AdminReply affected;
  affected.set_affected(2);
  broker.ReplyAdmin(affected);
  EXPECT_EQ(*replay.get(), 2u);

  auto purge = std::async(std::launch::async, [&] { return client.PurgeDeadLetters("audit", {}); });
  request = broker.Next();
  ASSERT_TRUE(request && request->has_purge_dead_letters());
  EXPECT_EQ(request->purge_dead_letters().offsets_size(), 0);  // all
  affected.set_affected(5);
  broker.ReplyAdmin(affected);
  EXPECT_EQ(*purge.get(), 5u);
}

TEST(AdminClientTest, SeekSendsThePosition) {
  FakeAdminBroker broker;
  AdminClient client(broker.endpoint(), kTimeout);
  v1::StartPosition position;
  position.set_offset(1200);
  auto seek = std::async(std::launch::async, [&] { return client.Seek("profile-creator", position); });
  std::optional<v1::GroupRequest> request = broker.Next();
  ASSERT_TRUE(request && request->has_seek_group());
  EXPECT_EQ(request->seek_group().group(), "profile-creator");
  EXPECT_EQ(request->seek_group().position().offset(), 1200u);
  broker.ReplyAdmin(v1::AdminReply());
  EXPECT_TRUE(seek.get().ok());
}

TEST(AdminClientTest, ARefusalIsAStatusWithTheBrokersText) {
  FakeAdminBroker broker;
  AdminClient client(broker.endpoint(), kTimeout);
  auto call = std::async(std::launch::async, [&] { return client.ListDeadLetters("nope", 0); });
  ASSERT_TRUE(broker.Next().has_value());
  v1::AdminReply refused;
  refused.set_error("unknown group 'nope'");
  broker.ReplyAdmin(refused);
  auto result = call.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "unknown group 'nope'");

  auto seek = std::async(std::launch::async, [&] { return client.Seek("g", v1::StartPosition()); });
  ASSERT_TRUE(broker.Next().has_value());
  v1::GroupReply error;
  error.mutable_error()->set_message("seek needs a position");
  broker.Reply(error);
  Status s = seek.get();
  EXPECT_EQ(s.message(), "seek needs a position");
}

TEST(AdminClientTest, SilenceIsAClearErrorAfterTheTimeout) {
  FakeAdminBroker silent;  // never answers
  AdminClient client(silent.endpoint(), milliseconds(200));
  auto started = std::chrono::steady_clock::now();
  auto groups = client.ListGroups();
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(200));
  ASSERT_FALSE(groups.ok());
  EXPECT_EQ(groups.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(groups.status().message(), "no broker answered at " + silent.endpoint() + " within 200ms");

  std::string dir = signalbus::testing::MakeTempDir("sb-admin");
  AdminClient nobody("ipc://" + dir + "/no-broker", milliseconds(100));
  EXPECT_EQ(nobody.ListGroups().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(AdminClient("localhost:5557", kTimeout).ListGroups().status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace signalbus::admin
