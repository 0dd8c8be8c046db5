// signalbus-publish's flags -> Event, for every signal, and the mistakes it reports.
#include "event_flags.h"

#include <gtest/gtest.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/event_id.h"

namespace signalbus {
namespace {

EventFlags Flags(std::string signal, std::string sender) {
  EventFlags f;
  f.signal = std::move(signal);
  f.sender = std::move(sender);
  return f;
}

// The Publisher fills these; a test does it to validate the result.
Status Complete(v1::Event& e) {
  e.set_schema_version(kSchemaVersion);
  if (e.event_id().empty()) e.set_event_id(NewEventId());
  return ValidateEvent(e);
}

TEST(EventFlags, PostSaveCarriesPkCreatedAndFields) {
  EventFlags f = Flags("post_save", "auth.User");
  f.pk = "42";
  f.created = true;
  f.fields = {"username=alice", "is_staff=false", "age=30"};
  f.update_fields = std::vector<std::string>{"username"};
  auto e = BuildEventFromFlags(f);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_TRUE(Complete(*e).ok());
  const auto& save = e->model_save();
  EXPECT_TRUE(save.created());
  EXPECT_EQ(save.instance().pk(), "42");
  EXPECT_EQ(save.instance().model(), "auth.User");
  EXPECT_EQ(save.instance().fields().fields().at("username").string_value(), "alice");
  EXPECT_FALSE(save.instance().fields().fields().at("is_staff").bool_value());
  EXPECT_EQ(save.instance().fields().fields().at("age").number_value(), 30);
  EXPECT_EQ(save.update_fields().names(0), "username");
}

TEST(EventFlags, JsonGivesTheInstanceAndFieldsOverrideIt) {
  EventFlags f = Flags("post_save", "auth.User");
  f.json = R"({"username":"bob","email":"b@example.com"})";
  f.fields = {"username=carol"};
  auto e = BuildEventFromFlags(f);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->model_save().instance().fields().fields().at("username").string_value(), "carol");
  EXPECT_EQ(e->model_save().instance().fields().fields().at("email").string_value(), "b@example.com");
}

TEST(EventFlags, EverySignalBuildsAValidEvent) {
  std::vector<EventFlags> all;
  all.push_back(Flags("pre_save", "auth.User"));
  all.push_back(Flags("post_delete", "auth.User"));
  all.back().origin = "auth.User:4";
  all.push_back(Flags("pre_delete", "auth.User"));
  all.back().origin = "auth.User";
  all.push_back(Flags("m2m_changed", "auth.User_groups"));
  all.back().action = "post_add";
  all.back().model = "auth.Group";
  all.back().pk_set = {"1", "2"};
  all.push_back(Flags("user_logged_in", "auth.User"));
  all.back().pk = "4";
  all.back().username = "alice";
  all.push_back(Flags("user_logged_out", "auth.User"));
  all.push_back(Flags("user_login_failed", "django.contrib.auth"));
  all.back().credentials = {"password=hunter2"};
  all.push_back(Flags("order_paid", "shop.Order"));
  all.back().json = R"({"amount":"9.90"})";
  for (const EventFlags& f : all) {
    auto e = BuildEventFromFlags(f);
    ASSERT_TRUE(e.ok()) << f.signal << ": " << e.status().ToString();
    EXPECT_TRUE(Complete(*e).ok()) << f.signal << ": " << ValidateEvent(*e).ToString();
  }
}

TEST(EventFlags, LoginFailedPasswordIsMasked) {
  EventFlags f = Flags("user_login_failed", "django.contrib.auth");
  f.username = "alice";
  f.credentials = {"password=hunter2"};
  auto e = BuildEventFromFlags(f);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->login_failed().credentials().at("password"), kMaskedValue);
  EXPECT_EQ(e->login_failed().credentials().at("username"), "alice");
}

TEST(EventFlags, FlagsThatDoNotFitTheSignalAreErrors) {
  EventFlags created_delete = Flags("post_delete", "auth.User");
  created_delete.created = true;
  EventFlags created_pre_save = Flags("pre_save", "auth.User");
  created_pre_save.created = true;
  EventFlags bad_action = Flags("m2m_changed", "auth.User_groups");
  bad_action.action = "post_explode";
  bad_action.model = "auth.Group";
  EventFlags no_model = Flags("m2m_changed", "auth.User_groups");
  no_model.action = "post_add";
  EventFlags bad_json = Flags("post_save", "auth.User");
  bad_json.json = "{oops";
  EventFlags bad_field = Flags("post_save", "auth.User");
  bad_field.fields = {"novalue"};
  EventFlags bad_sender = Flags("post_save", "auth/User");
  EventFlags bad_id = Flags("post_save", "auth.User");
  bad_id.event_id = "123";
  EventFlags credential_on_save = Flags("post_save", "auth.User");
  credential_on_save.credentials = {"password=x"};
  for (const EventFlags& f : {created_delete, created_pre_save, bad_action, no_model, bad_json, bad_field, bad_sender,
                              bad_id, credential_on_save}) {
    auto e = BuildEventFromFlags(f);
    EXPECT_FALSE(e.ok()) << f.signal;
    if (!e.ok()) {
      EXPECT_FALSE(e.status().message().empty());
    }
  }
}

TEST(EventFlags, GivenEventIdIsKept) {
  EventFlags f = Flags("post_save", "auth.User");
  f.event_id = NewEventId();
  auto e = BuildEventFromFlags(f);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->event_id(), f.event_id);
}

}  // namespace
}  // namespace signalbus
