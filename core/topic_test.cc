// Topic grammar and segment-exact pattern matching.
#include "signalbus/core/topic.h"

#include <gtest/gtest.h>

namespace signalbus {
namespace {

TopicPattern P(std::string_view text) {
  auto p = TopicPattern::Parse(text);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return *p;
}

TEST(Topic, MakeTopicJoinsSenderAndSignal) {
  auto topic = MakeTopic("auth.User", "post_save");
  ASSERT_TRUE(topic.ok());
  EXPECT_EQ(*topic, "auth.User/post_save");
}

TEST(Topic, MakeTopicRejectsBadSendersAndSignals) {
  for (auto [sender, signal] : std::vector<std::pair<std::string, std::string>>{
           {"", "post_save"}, {"auth.User", ""}, {"auth/User", "post_save"}, {"auth.User", "post/save"},
           {"auth..User", "post_save"}, {".User", "x"}, {"auth.", "x"}, {"auth.1User", "x"},
           {"auth.User", "post save"}, {"auth.User", "9lives"}, {std::string(300, 'a'), "x"}}) {
    EXPECT_FALSE(MakeTopic(sender, signal).ok()) << sender << "/" << signal;
  }
}

TEST(Topic, ParseTopicSplitsAtTheSlash) {
  auto parts = ParseTopic("shop.Order/order_paid");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->sender, "shop.Order");
  EXPECT_EQ(parts->signal, "order_paid");
  EXPECT_FALSE(ParseTopic("shop.Order").ok());
  EXPECT_FALSE(ParseTopic("shop.Order/order_paid/x").ok());
  EXPECT_FALSE(ParseTopic(std::string("auth.User/post_save\0x", 21)).ok());
}

TEST(TopicPatternTest, ExactTopicMatchesOnlyItself) {
  TopicPattern p = P("auth.User/post_save");
  EXPECT_TRUE(p.Matches("auth.User/post_save"));
  EXPECT_FALSE(p.Matches("auth.User/post_save_archived"));
  EXPECT_FALSE(p.Matches("auth.User/pre_save"));
  EXPECT_FALSE(p.Matches("auth.UserProfile/post_save"));
  EXPECT_FALSE(p.Matches("xauth.User/post_save"));
}

TEST(TopicPatternTest, SenderWildcardRespectsSenderBoundary) {
  for (std::string_view text : {"auth.User/*", "auth.User"}) {
    TopicPattern p = P(text);
    EXPECT_TRUE(p.Matches("auth.User/post_save"));
    EXPECT_TRUE(p.Matches("auth.User/user_logged_in"));
    EXPECT_FALSE(p.Matches("auth.UserProfile/post_save"));
    EXPECT_FALSE(p.Matches("auth.Use/post_save"));
    EXPECT_EQ(p.ToString(), "auth.User/*");
  }
}

TEST(TopicPatternTest, SignalWildcardMatchesEverySender) {
  TopicPattern p = P("*/post_save");
  EXPECT_TRUE(p.Matches("auth.User/post_save"));
  EXPECT_TRUE(p.Matches("shop.Order/post_save"));
  EXPECT_FALSE(p.Matches("shop.Order/post_save_archived"));
  EXPECT_FALSE(p.Matches("shop.Order/pre_save"));
}

TEST(TopicPatternTest, StarMatchesEverything) {
  for (std::string_view text : {"*", "*/*"}) {
    TopicPattern p = P(text);
    EXPECT_TRUE(p.Matches("auth.User/post_save"));
    EXPECT_TRUE(p.Matches("a/b"));
    EXPECT_FALSE(p.Matches("no-slash"));
    EXPECT_EQ(p.ZmqPrefix(), "");
  }
}

TEST(TopicPatternTest, ZmqPrefixIsALiteralPrefixOfEveryMatch) {
  EXPECT_EQ(P("auth.User/post_save").ZmqPrefix(), "auth.User/post_save");
  EXPECT_EQ(P("auth.User/*").ZmqPrefix(), "auth.User/");
  EXPECT_EQ(P("*/post_save").ZmqPrefix(), "");
}

TEST(TopicPatternTest, RejectsMalformedPatterns) {
  for (std::string_view text : {"", "auth.User/", "/post_save", "auth.U*/x", "auth.User/post*", "a/b/c", "**"}) {
    EXPECT_FALSE(TopicPattern::Parse(text).ok()) << text;
  }
}

}  // namespace
}  // namespace signalbus
