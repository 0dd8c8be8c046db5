// signalbus-admin's output: an aligned table, NDJSON with numbers as numbers, and dead
// letters shown even when their event does not parse.
#include "admin_output.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "fake_admin_broker.h"
#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/core/event_json.h"

namespace signalbus::admin {
namespace {

TEST(AdminOutputTest, GroupsTableAlignsColumnsUnderTheHeader) {
  v1::GroupInfo audit = testing::SampleGroup("audit");
  audit.set_acked(5);
  std::string table = GroupsTable({testing::SampleGroup("profile-creator"), audit});
  EXPECT_EQ(table,
            "GROUP            MEMBERS  HEAD  ACK-FLOOR  LAG  PENDING  REDELIVERED  DEAD-LETTERED  ACKED\n"
            "profile-creator  2        1000  990        4    6        3            1              989\n"
            "audit            2        1000  990        4    6        3            1              5\n");
  EXPECT_EQ(GroupsTable({}),
            "GROUP  MEMBERS  HEAD  ACK-FLOOR  LAG  PENDING  REDELIVERED  DEAD-LETTERED  ACKED\n");
}

TEST(AdminOutputTest, AStalledGroupIsNamedUnderTheTableWithItsReadError) {
  v1::GroupInfo stalled = testing::SampleGroup("audit");
  stalled.set_read_error("cannot read the log at offset 991: DATA_LOSS: crc mismatch");
  std::string table = GroupsTable({testing::SampleGroup("profile-creator"), stalled});
  EXPECT_EQ(table.substr(table.find("group ")),
            "group audit is stalled: cannot read the log at offset 991: DATA_LOSS: crc mismatch (retried every "
            "second; `signalbus-admin seek audit --offset N` moves it past)\n");
  EXPECT_NE(GroupJson(stalled).find(R"(,"read_error":"cannot read the log at offset 991: DATA_LOSS: crc mismatch"})"),
            std::string::npos)
      << GroupJson(stalled);
}

TEST(AdminOutputTest, GroupJsonIsOneObjectWithNumbers) {
  EXPECT_EQ(GroupJson(testing::SampleGroup("profile-creator")),
            R"({"group":"profile-creator","subscriptions":["auth.User/post_save","auth.User/post_delete"],)"
            R"("members":2,"head":1000,"ack_floor":990,"lag":4,"pending":6,"redelivered":3,"dead_lettered":1,)"
            R"("acked":989})");
}

TEST(AdminOutputTest, DeadLetterJsonCarriesTheEventAsJson) {
  v1::Event event = signalbus::testing::UserCreated("7");
  v1::DeadLetter d;
  d.set_offset(42);
  d.set_attempts(5);
  d.set_error("event 1: auth.User pk 'x' is not an integer\n\"quoted\"");
  d.set_topic("auth.User/post_save");
  d.set_event(EncodeEvent(event));
  d.mutable_dead_lettered_at()->set_seconds(1714564800);
  std::string json = DeadLetterJson(d);
  const std::string head =
      R"({"offset":42,"attempts":5,"error":"event 1: auth.User pk 'x' is not an integer\n\"quoted\"",)"
      R"("topic":"auth.User/post_save","dead_lettered_at":"2024-05-01T12:00:00Z","event":)";
  ASSERT_EQ(json.substr(0, head.size()), head);
  ASSERT_EQ(json.back(), '}');
  // The event's JSON, as EventToJson prints it (map fields in any order): it parses back.
  Result<v1::Event> back = EventFromJson(json.substr(head.size(), json.size() - head.size() - 1));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*back, event)) << back->ShortDebugString();
}

TEST(AdminOutputTest, AnUnparsableDeadLetterShowsItsBytes) {
  v1::DeadLetter d;
  d.set_offset(1);
  d.set_event("\xff\xfe\x01");
  EXPECT_EQ(DeadLetterJson(d),
            R"({"offset":1,"attempts":0,"error":"","topic":"","event":null,"event_base64":"//4B"})");
}

TEST(AdminOutputTest, JsonStringEscapesControlCharacters) {
  EXPECT_EQ(JsonString("a\"b\\c\x01\t"), R"("a\"b\\c\u0001\t")");
}

TEST(AdminOutputTest, DescribesPositions) {
  v1::StartPosition p;
  EXPECT_EQ(DescribePosition(p), "the default position");
  p.set_earliest(true);
  EXPECT_EQ(DescribePosition(p), "earliest");
  p.set_offset(12);
  EXPECT_EQ(DescribePosition(p), "offset 12");
  p.mutable_time()->set_seconds(1714564800);
  EXPECT_EQ(DescribePosition(p), "2024-05-01T12:00:00Z");
}

}  // namespace
}  // namespace signalbus::admin
