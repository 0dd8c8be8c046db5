// PatternSet and PatternIndex against the plain definition: a pattern matches a topic
// exactly when TopicPattern::Matches says so, whatever else is in the index.
#include "signalbus/core/pattern_index.h"

#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace signalbus {
namespace {

TopicPattern P(std::string_view text) { return TopicPattern::Parse(text).value(); }

TEST(PatternSetTest, MatchesEachFormAndRespectsSegmentBoundaries) {
  PatternSet set;
  EXPECT_FALSE(set.Matches("auth.User/post_save"));
  EXPECT_TRUE(set.Add(P("auth.User/post_save")));
  EXPECT_TRUE(set.Matches("auth.User/post_save"));
  EXPECT_FALSE(set.Matches("auth.User/post_save_archived"));
  EXPECT_FALSE(set.Matches("auth.UserProfile/post_save"));
  EXPECT_TRUE(set.Add(P("shop.Order")));
  EXPECT_TRUE(set.Matches("shop.Order/order_paid"));
  EXPECT_FALSE(set.Matches("shop.OrderLine/order_paid"));
  EXPECT_TRUE(set.Add(P("*/post_delete")));
  EXPECT_TRUE(set.Matches("x.Y/post_delete"));
  EXPECT_FALSE(set.Matches("x.Y/post_deleted"));
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.Add(P("*")));
  EXPECT_TRUE(set.Matches("x.Y/anything"));
  EXPECT_TRUE(set.Remove(P("*/*")));
  EXPECT_FALSE(set.Matches("x.Y/anything"));
}

TEST(PatternSetTest, AddingTwiceOrRemovingWhatIsAbsentChangesNothing) {
  PatternSet set;
  EXPECT_TRUE(set.Add(P("auth.User/*")));
  EXPECT_FALSE(set.Add(P("auth.User")));  // the same pattern, written short
  EXPECT_EQ(set.size(), 1u);
  EXPECT_FALSE(set.Remove(P("auth.User/post_save")));
  EXPECT_FALSE(set.Remove(P("*")));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.Contains(P("auth.User/*")));
  EXPECT_TRUE(set.Remove(P("auth.User/*")));
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(set.Matches("auth.User/post_save"));
}

// Small alphabets, so that patterns and topics collide often.
std::string Pick(std::mt19937& rng, const std::vector<std::string>& from) {
  return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
}

const std::vector<std::string> kSenders = {"auth.User", "auth.UserProfile", "shop.Order", "a.B", "*"};
const std::vector<std::string> kSignals = {"post_save", "post_save_archived", "pre_delete", "order_paid", "*"};

TEST(PatternIndexTest, VisitsExactlyTheSubscribersWhosePatternsMatchUnderRandomChanges) {
  std::mt19937 rng(20261203);
  PatternIndex<int> index;
  PatternSet all_patterns;
  std::map<int, std::set<std::string>> subscribed;  // id -> canonical pattern texts
  for (int step = 0; step < 20000; ++step) {
    int id = std::uniform_int_distribution<int>(0, 30)(rng);
    TopicPattern pattern = P(Pick(rng, kSenders) + "/" + Pick(rng, kSignals));
    std::string text = pattern.ToString();
    if (std::uniform_int_distribution<int>(0, 2)(rng) != 0) {
      if (subscribed[id].insert(text).second) index.Add(pattern, id);
    } else {
      bool had = subscribed[id].erase(text) > 0;
      EXPECT_EQ(index.Remove(pattern, id), had);
    }
    std::string topic = Pick(rng, kSenders) + "/" + Pick(rng, kSignals);
    if (topic.find('*') != std::string::npos) continue;
    std::map<int, int> want;
    for (const auto& [sid, texts] : subscribed) {
      for (const std::string& t : texts) {
        if (P(t).Matches(topic)) ++want[sid];
      }
    }
    std::map<int, int> got;
    index.ForEachMatch(topic, [&](int sid) { ++got[sid]; });
    ASSERT_EQ(got, want) << "topic " << topic << " at step " << step;
  }
}

TEST(PatternIndexTest, SetAgreesWithALinearScan) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    PatternSet set;
    std::vector<TopicPattern> patterns;
    int n = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int i = 0; i < n; ++i) {
      patterns.push_back(P(Pick(rng, kSenders) + "/" + Pick(rng, kSignals)));
      set.Add(patterns.back());
    }
    for (const std::string& sender : kSenders) {
      for (const std::string& signal : kSignals) {
        if (sender == "*" || signal == "*") continue;
        std::string topic = sender + "/" + signal;
        bool want = std::any_of(patterns.begin(), patterns.end(), [&](const auto& p) { return p.Matches(topic); });
        ASSERT_EQ(set.Matches(topic), want) << topic;
      }
    }
  }
}

}  // namespace
}  // namespace signalbus
