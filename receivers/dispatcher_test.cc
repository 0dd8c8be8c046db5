// Dispatcher: exact topic matching at segment boundaries, registration order, and
// robustness against handlers that throw. No sockets.
#include "signalbus/receivers/dispatcher.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sample_events.h"

namespace signalbus {
namespace {

TopicPattern P(std::string_view text) {
  auto p = TopicPattern::Parse(text);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return *p;
}

class DispatcherTest : public ::testing::Test {
 protected:
  // Registers a handler that records `name` when it runs.
  void AddRecorder(std::vector<TopicPattern> patterns, std::string name) {
    dispatcher_.Add(std::move(patterns), [this, name](const v1::Event&) { calls_.push_back(name); });
  }
  std::vector<std::string> DispatchTo(std::string_view topic) {
    calls_.clear();
    dispatcher_.Dispatch(topic, event_);
    return calls_;
  }

  Dispatcher dispatcher_;
  std::vector<std::string> calls_;
  v1::Event event_ = testing::UserCreated("42");
};

using Calls = std::vector<std::string>;

TEST_F(DispatcherTest, MatchesWholeSegmentsOnly) {
  AddRecorder({P("auth.User/post_save")}, "exact");
  AddRecorder({P("auth.User/*")}, "sender");
  AddRecorder({P("*/post_save")}, "signal");
  AddRecorder({P("*")}, "all");

  EXPECT_EQ(DispatchTo("auth.User/post_save"), (Calls{"exact", "sender", "signal", "all"}));
  EXPECT_EQ(DispatchTo("auth.User/post_save_archived"), (Calls{"sender", "all"}));
  EXPECT_EQ(DispatchTo("auth.UserProfile/post_save"), (Calls{"signal", "all"}));
  EXPECT_EQ(DispatchTo("auth.Use/post_save"), (Calls{"signal", "all"}));
  EXPECT_EQ(DispatchTo("shop.Order/order_paid"), (Calls{"all"}));
}

TEST_F(DispatcherTest, ReportsWhatMatchedAndNothingForOtherTopics) {
  AddRecorder({P("auth.User/post_save")}, "a");
  DispatchResult none = dispatcher_.Dispatch("auth.User/post_delete", event_);
  EXPECT_EQ(none.matched, 0u);
  EXPECT_TRUE(none.ok());
  DispatchResult one = dispatcher_.Dispatch("auth.User/post_save", event_);
  EXPECT_EQ(one.matched, 1u);
  EXPECT_EQ(one.succeeded, 1u);
  EXPECT_EQ(one.failed, 0u);
}

TEST_F(DispatcherTest, CallsHandlersInRegistrationOrder) {
  for (const char* name : {"third", "first", "second"}) AddRecorder({P("auth.User/post_save")}, name);
  EXPECT_EQ(DispatchTo("auth.User/post_save"), (Calls{"third", "first", "second"}));
}

TEST_F(DispatcherTest, HandlerWithSeveralMatchingPatternsRunsOnce) {
  AddRecorder({P("auth.User/*"), P("*/post_save"), P("auth.User/post_save")}, "once");
  EXPECT_EQ(DispatchTo("auth.User/post_save"), (Calls{"once"}));
  EXPECT_EQ(DispatchTo("shop.Order/post_save"), (Calls{"once"}));
  EXPECT_EQ(DispatchTo("shop.Order/post_delete"), Calls{});
}

TEST_F(DispatcherTest, ThrowingHandlerDoesNotStopTheOthersAndIsCounted) {
  AddRecorder({P("auth.User/post_save")}, "before");
  dispatcher_.Add({P("auth.User/post_save")}, [this](const v1::Event&) {
    calls_.push_back("throws std::exception");
    throw std::runtime_error("database is locked");
  });
  dispatcher_.Add({P("*")}, [this](const v1::Event&) {
    calls_.push_back("throws int");
    throw 42;
  });
  AddRecorder({P("auth.User/post_save")}, "after");

  calls_.clear();
  DispatchResult result = dispatcher_.Dispatch("auth.User/post_save", event_);
  EXPECT_EQ(calls_, (Calls{"before", "throws std::exception", "throws int", "after"}));
  EXPECT_EQ(result.matched, 4u);
  EXPECT_EQ(result.succeeded, 2u);
  EXPECT_EQ(result.failed, 2u);
  EXPECT_FALSE(result.ok());
}

TEST_F(DispatcherTest, HandlerSeesTheEvent) {
  std::string seen;
  dispatcher_.Add({P("*")}, [&](const v1::Event& e) { seen = e.event_id(); });
  dispatcher_.Dispatch("auth.User/post_save", event_);
  EXPECT_EQ(seen, event_.event_id());
}

TEST_F(DispatcherTest, ListsPatternsInRegistrationOrder) {
  AddRecorder({P("auth.User/post_save"), P("auth.User/post_delete")}, "a");
  AddRecorder({P("*/m2m_changed")}, "b");
  std::vector<std::string> texts;
  for (const TopicPattern& p : dispatcher_.patterns()) texts.push_back(p.ToString());
  EXPECT_EQ(texts, (Calls{"auth.User/post_save", "auth.User/post_delete", "*/m2m_changed"}));
  EXPECT_EQ(dispatcher_.size(), 2u);
}

TEST_F(DispatcherTest, RejectsRegistrationWithoutPatternsOrHandler) {
  EXPECT_THROW(dispatcher_.Add({}, [](const v1::Event&) {}), std::invalid_argument);
  EXPECT_THROW(dispatcher_.Add({P("*")}, Handler()), std::invalid_argument);
  EXPECT_TRUE(dispatcher_.empty());
}

}  // namespace
}  // namespace signalbus
