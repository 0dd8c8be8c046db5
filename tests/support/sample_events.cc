// Sample events with every field of their payload set, so round-trips check them all.
#include "sample_events.h"

#include <atomic>

#include "signalbus/core/codec.h"
#include "signalbus/core/event_id.h"

namespace signalbus::testing {
namespace {

v1::Event Base(const std::string& sender, const std::string& signal, const std::string& pk) {
  v1::Event e;
  e.set_schema_version(kSchemaVersion);
  e.set_event_id(NewEventId());
  e.set_signal(signal);
  e.set_sender(sender);
  e.set_source("accounts");
  // One publisher whose sequence grows with every sample, as a real one's does: the
  // broker drops an event whose sequence it has already logged.
  static std::atomic<std::uint64_t> sequence{0};
  e.set_publisher_id("pub-test");
  e.set_sequence(++sequence);
  e.mutable_occurred_at()->set_seconds(1'764'000'000);
  e.mutable_occurred_at()->set_nanos(123'000'000);
  e.set_ordering_key(OrderingKeyFor(sender, pk));
  (*e.mutable_headers())["trace_id"] = "abc123";
  return e;
}

void FillUser(v1::Instance* instance, const std::string& pk) {
  instance->set_model("auth.User");
  instance->set_pk(pk);
  auto& fields = *instance->mutable_fields()->mutable_fields();
  fields["username"].set_string_value("user" + pk);
  fields["email"].set_string_value("user" + pk + "@example.com");
  fields["is_staff"].set_bool_value(false);
  fields["last_login"].set_null_value(google::protobuf::NULL_VALUE);
  fields["id"].set_number_value(std::stod(pk));
}

}  // namespace

v1::Event UserCreated(const std::string& pk) {
  v1::Event e = Base("auth.User", "post_save", pk);
  FillUser(e.mutable_model_save()->mutable_instance(), pk);
  e.mutable_model_save()->set_created(true);
  e.mutable_model_save()->set_using_("default");
  return e;
}

std::vector<v1::Event> OneOfEverySignal() {
  std::vector<v1::Event> out;
  {
    v1::Event e = Base("auth.User", "pre_save", "42");
    FillUser(e.mutable_model_save()->mutable_instance(), "42");
    e.mutable_model_save()->set_raw(true);
    e.mutable_model_save()->set_using_("replica");
    e.mutable_model_save()->mutable_update_fields()->add_names("email");
    out.push_back(e);
  }
  out.push_back(UserCreated("42"));
  for (const char* signal : {"pre_delete", "post_delete"}) {
    v1::Event e = Base("auth.User", signal, "42");
    FillUser(e.mutable_model_delete()->mutable_instance(), "42");
    e.mutable_model_delete()->set_using_("default");
    e.mutable_model_delete()->mutable_origin()->set_model("auth.User");
    e.mutable_model_delete()->mutable_origin()->set_is_queryset(true);
    out.push_back(e);
  }
  {
    v1::Event e = Base("auth.User_groups", "m2m_changed", "42");
    auto* m = e.mutable_m2m_changed();
    m->set_action(v1::M2MChanged::POST_ADD);
    FillUser(m->mutable_instance(), "42");
    m->set_reverse(false);
    m->set_model("auth.Group");
    m->add_pk_set("1");
    m->add_pk_set("3");
    m->set_using_("default");
    out.push_back(e);
  }
  for (const char* signal : {"user_logged_in", "user_logged_out"}) {
    v1::Event e = Base("auth.User", signal, "42");
    auto* s = e.mutable_user_session();
    s->mutable_user()->set_model("auth.User");
    s->mutable_user()->set_pk("42");
    s->set_username("alice");
    s->mutable_request()->set_method("POST");
    s->mutable_request()->set_path("/accounts/login/");
    s->mutable_request()->set_remote_addr("127.0.0.1");
    s->mutable_request()->set_user_agent("test-agent/1.0");
    out.push_back(e);
  }
  {
    v1::Event e = Base("django.contrib.auth", "user_login_failed", "");
    auto* f = e.mutable_login_failed();
    (*f->mutable_credentials())["username"] = "alice";
    (*f->mutable_credentials())["password"] = std::string(kMaskedValue);
    f->mutable_request()->set_path("/accounts/login/");
    out.push_back(e);
  }
  {
    v1::Event e = Base("shop.Order", "order_paid", "7");
    auto& kwargs = *e.mutable_custom()->mutable_kwargs()->mutable_fields();
    kwargs["amount"].set_string_value("19.90");
    kwargs["currency"].set_string_value("EUR");
    e.mutable_custom()->set_pk("7");
    out.push_back(e);
  }
  return out;
}

google::protobuf::Struct NestedValues(int depth, bool arrays) {
  google::protobuf::Struct top;
  google::protobuf::Value* v = &(*top.mutable_fields())["a"];
  for (int level = 2; level <= depth; ++level) {
    v = arrays ? v->mutable_list_value()->add_values() : &(*v->mutable_struct_value()->mutable_fields())["a"];
  }
  v->set_string_value("deep");
  return top;
}

v1::Event UserCreatedWithFieldsNested(const std::string& pk, int depth, bool arrays) {
  v1::Event e = UserCreated(pk);
  *e.mutable_model_save()->mutable_instance()->mutable_fields() = NestedValues(depth, arrays);
  return e;
}

}  // namespace signalbus::testing
