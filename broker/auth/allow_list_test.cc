// The allow-list's file form and each grant's rule.
#include "signalbus/auth/allow_list.h"

#include <gtest/gtest.h>

#include "signalbus/core/curve_keys.h"

namespace signalbus::auth {
namespace {

std::string NewKey() { return GenerateCurveKeyPair().value().public_key; }

TEST(AllowListTest, EachKeyAuthenticatesAsItsPrincipalWithItsGrants) {
  const std::string a = NewKey(), b = NewKey(), c = NewKey();
  auto list = AllowList::Parse(R"(
[[principal]]
name = "accounts"
keys = [")" + a + R"(", ")" + b + R"("]
publish = ["auth.User/*"]
subscribe = ["auth.User/post_save"]
join = ["profile-creator", "audit-*"]
admin = ["list"]

[[principal]]
name = "ops"
keys = [")" + c + R"("]
admin = ["*"]
)",
                               "allow.toml");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->principals(), 2u);
  EXPECT_EQ(list->keys(), 3u);
  const Principal* accounts = list->Find(a);
  ASSERT_NE(accounts, nullptr);
  EXPECT_EQ(accounts, list->Find(b));
  EXPECT_EQ(accounts->name, "accounts");
  EXPECT_EQ(list->Find(c)->name, "ops");
  EXPECT_EQ(list->Find(NewKey()), nullptr);

  EXPECT_TRUE(accounts->MayPublish("auth.User/post_save"));
  EXPECT_FALSE(accounts->MayPublish("auth.UserProfile/post_save"));
  EXPECT_FALSE(accounts->MayPublish("shop.Order/post_save"));
  EXPECT_TRUE(accounts->MaySubscribe(TopicPattern::Parse("auth.User/post_save").value()));
  EXPECT_FALSE(accounts->MaySubscribe(TopicPattern::Parse("auth.User/*").value()));
  EXPECT_FALSE(accounts->MaySubscribe(TopicPattern::Parse("*/post_save").value()));
  EXPECT_TRUE(accounts->MayJoin("profile-creator"));
  EXPECT_TRUE(accounts->MayJoin("audit-2"));
  EXPECT_FALSE(accounts->MayJoin("profile-creator2"));
  EXPECT_FALSE(accounts->MayJoin("audi"));
  EXPECT_TRUE(accounts->MayAdmin("list"));
  EXPECT_FALSE(accounts->MayAdmin("purge"));
  const Principal* ops = list->Find(c);
  EXPECT_TRUE(ops->MayAdmin("delete"));
  EXPECT_FALSE(ops->MayPublish("auth.User/post_save"));
  EXPECT_FALSE(ops->MayJoin("profile-creator"));
}

TEST(AllowListTest, AGrantOfEverySenderOrSignalCoversTheNarrowerPatterns) {
  const std::string key = NewKey();
  auto list = AllowList::Parse("[[principal]]\nname = \"x\"\nkeys = [\"" + key +
                                   "\"]\nsubscribe = [\"*/post_save\", \"shop.Order\"]\n",
                               "f");
  ASSERT_TRUE(list.ok()) << list.status().message();
  const Principal& p = *list->Find(key);
  auto pattern = [](const char* text) { return TopicPattern::Parse(text).value(); };
  EXPECT_TRUE(p.MaySubscribe(pattern("auth.User/post_save")));
  EXPECT_TRUE(p.MaySubscribe(pattern("*/post_save")));
  EXPECT_TRUE(p.MaySubscribe(pattern("shop.Order/*")));
  EXPECT_TRUE(p.MaySubscribe(pattern("shop.Order/order_paid")));
  EXPECT_FALSE(p.MaySubscribe(pattern("*/*")));
  EXPECT_FALSE(p.MaySubscribe(pattern("*/pre_save")));
  EXPECT_FALSE(p.MaySubscribe(pattern("auth.User/*")));
}

TEST(AllowListTest, MistakesAreRefusedSayingWhereAndNeverPrintingAKey) {
  const std::string key = NewKey();
  struct Case {
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {"[[principal]]\nname = \"a\"\nkeys = [\"" + key + "\"]\npublsh = [\"x/y\"]\n", "unknown key 'publsh'"},
      {"[[principal]]\nname = \"a b\"\n", "'name' must be"},
      {"[[principal]]\nname = \"a\"\nkeys = [\"short\"]\n", "principal 1 (a): key 1"},
      {"[[principal]]\nname = \"a\"\nkeys = [\"" + key + "\"]\n[[principal]]\nname = \"b\"\nkeys = [\"" + key +
           "\"]\n",
       "also principal a's"},
      {"[[principal]]\nname = \"a\"\n[[principal]]\nname = \"a\"\n", "a second principal of this name"},
      {"[[principal]]\nname = \"a\"\nadmin = [\"purge_all\"]\n", "admin 'purge_all'"},
      {"[[principal]]\nname = \"a\"\njoin = [\"bad name\"]\n", "join 'bad name'"},
      {"[[principal]]\nname = \"a\"\npublish = [\"not a/topic/x\"]\n", "publish 'not a/topic/x'"},
      {"[[principal]]\nname = \"a\"\npublish = \"auth.User/*\"\n", "must be an array of strings"},
      {"principals = 1\n", "unknown top-level key 'principals'"},
      {"[[principal]]\nname = \"a\"\npublisher_ids = [\"*\"]\n", "publisher_ids '*' is not a publisher id"},
      {"[[principal]]\nname = \"a\"\npublisher_ids = [\"a b\"]\n", "publisher_ids 'a b'"},
      {"[[principal]]\nname = \"a\"\npublisher_ids = [\"acc-*\"]\n[[principal]]\nname = \"b\"\n"
       "publisher_ids = [\"acc-outbox\"]\n",
       "principal 2 (b): publisher_ids 'acc-outbox' overlaps principal a's 'acc-*'"},
      {"[[principal]]\nname = \"a\"\npublisher_ids = [\"acc-out*\"]\n[[principal]]\nname = \"b\"\n"
       "publisher_ids = [\"acc-*\"]\n",
       "overlaps principal a's 'acc-out*'"},
      {"[[principal]\n", "allow.toml:1:"},
  };
  for (const Case& c : cases) {
    auto list = AllowList::Parse(c.text, "allow.toml");
    ASSERT_FALSE(list.ok()) << c.text;
    EXPECT_NE(list.status().message().find(c.says), std::string::npos) << list.status().message();
    EXPECT_EQ(list.status().message().find(key), std::string::npos) << list.status().message();
  }
}

TEST(AllowListTest, AReservedPublisherIdBelongsToItsPrincipalAndOthersAreFree) {
  auto list = AllowList::Parse(
      "[[principal]]\nname = \"accounts\"\npublisher_ids = [\"accounts-outbox\", \"acc:*\"]\n"
      "[[principal]]\nname = \"billing\"\npublisher_ids = [\"billing-*\", \"accounts-outbox-2\"]\n",
      "allow.toml");
  ASSERT_TRUE(list.ok()) << list.status().message();
  auto reserver = [&](std::string_view id) -> std::string {
    const Principal* p = list->ReservedFor(id);
    return p == nullptr ? "" : p->name;
  };
  EXPECT_EQ(reserver("accounts-outbox"), "accounts");
  EXPECT_EQ(reserver("acc:"), "accounts");
  EXPECT_EQ(reserver("acc:relay-1"), "accounts");
  EXPECT_EQ(reserver("billing-"), "billing");
  EXPECT_EQ(reserver("billing-relay"), "billing");
  EXPECT_EQ(reserver("accounts-outbox-2"), "billing");  // an exact id does not reserve longer ones
  EXPECT_EQ(reserver("accounts-outbox2"), "");
  EXPECT_EQ(reserver("acc"), "");
  EXPECT_EQ(reserver("01JE8Q0S7ZK7T9D2ZQ4W5X6Y7Z"), "");
}

TEST(AllowListTest, AnEmptyFileAllowsNoOne) {
  auto list = AllowList::Parse("# nobody yet\n", "allow.toml");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->principals(), 0u);
  EXPECT_EQ(list->Find(NewKey()), nullptr);
}

TEST(AllowListTest, AMissingFileIsNamed) {
  auto list = AllowList::Load("/nonexistent/allow.toml");
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("/nonexistent/allow.toml"), std::string::npos);
}

}  // namespace
}  // namespace signalbus::auth
