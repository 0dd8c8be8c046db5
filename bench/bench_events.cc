// The benchmarks' sample user event.
#include "bench_events.h"

#include "signalbus/core/codec.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/topic.h"

namespace signalbus::bench {

v1::Instance UserInstance(std::uint64_t pk) {
  v1::Instance instance;
  instance.set_model(std::string(kUserSender));
  instance.set_pk(std::to_string(pk));
  auto& fields = *instance.mutable_fields()->mutable_fields();
  fields["username"].set_string_value("user" + std::to_string(pk));
  fields["email"].set_string_value("user" + std::to_string(pk) + "@example.com");
  fields["is_staff"].set_bool_value(false);
  return instance;
}

std::string EncodedUserSaved(std::uint64_t pk, std::string_view publisher_id) {
  v1::Event e;
  e.set_schema_version(kSchemaVersion);
  e.set_event_id(NewEventId());
  e.set_signal("post_save");
  e.set_sender(std::string(kUserSender));
  e.set_source("accounts");
  e.set_publisher_id(std::string(publisher_id));
  e.set_sequence(pk);
  e.mutable_occurred_at()->set_seconds(1'764'000'000);
  e.mutable_occurred_at()->set_nanos(123'456'789);
  e.set_ordering_key(OrderingKeyFor(kUserSender, std::to_string(pk)));
  *e.mutable_model_save()->mutable_instance() = UserInstance(pk);
  e.mutable_model_save()->set_created(true);
  e.mutable_model_save()->set_using_("default");
  return EncodeEvent(e);
}

}  // namespace signalbus::bench
