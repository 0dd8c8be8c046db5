// Building one Event from signalbus-publish's flags.
#include "event_flags.h"

#include "signalbus/core/codec.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/event_json.h"
#include "signalbus/core/topic.h"

namespace signalbus {
namespace {

Result<std::pair<std::string, std::string>> SplitPair(const std::string& text, const char* flag) {
  std::size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgument(std::string(flag) + " '" + text + "' is not name=value");
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

Result<google::protobuf::Struct> FieldsFrom(const EventFlags& flags) {
  google::protobuf::Struct fields;
  if (!flags.json.empty()) {
    auto parsed = StructFromJson(flags.json);
    if (!parsed.ok()) return InvalidArgument("--json: " + parsed.status().message());
    fields = std::move(*parsed);
  }
  for (const std::string& f : flags.fields) {
    auto kv = SplitPair(f, "--field");
    if (!kv.ok()) return kv.status();
    (*fields.mutable_fields())[kv->first] = ValueFromText(kv->second);
  }
  return fields;
}

Result<v1::Instance> InstanceFrom(const EventFlags& flags, const std::string& model) {
  auto fields = FieldsFrom(flags);
  if (!fields.ok()) return fields.status();
  v1::Instance instance;
  instance.set_model(model);
  instance.set_pk(flags.pk);
  *instance.mutable_fields() = std::move(*fields);
  return instance;
}

v1::RequestMeta RequestFrom(const EventFlags& flags) {
  v1::RequestMeta request;
  request.set_method(flags.method);
  request.set_path(flags.path);
  request.set_remote_addr(flags.remote_addr);
  request.set_user_agent(flags.user_agent);
  return request;
}

Status Reject(bool used, const char* flag, const std::string& signal) {
  if (used) return InvalidArgument(std::string(flag) + " does not apply to " + signal);
  return Status::Ok();
}

}  // namespace

Result<v1::Event> BuildEventFromFlags(const EventFlags& flags) {
  if (Status s = ValidateSignalName(flags.signal); !s.ok()) return s;
  if (Status s = ValidateSender(flags.sender); !s.ok()) return s;
  v1::Event event;
  event.set_signal(flags.signal);
  event.set_sender(flags.sender);
  if (!flags.event_id.empty()) {
    if (!IsValidEventId(flags.event_id)) return InvalidArgument("--event-id '" + flags.event_id + "' is not a ULID");
    event.set_event_id(flags.event_id);
  }
  for (const std::string& h : flags.headers) {
    auto kv = SplitPair(h, "--header");
    if (!kv.ok()) return kv.status();
    (*event.mutable_headers())[kv->first] = kv->second;
  }
  PayloadKind kind = PayloadKindForSignal(flags.signal);
  const std::string& signal = flags.signal;
  if (kind != PayloadKind::kModelSave) {
    if (Status s = Reject(flags.created, "--created", signal); !s.ok()) return s;
    if (Status s = Reject(flags.raw, "--raw", signal); !s.ok()) return s;
    if (Status s = Reject(flags.update_fields.has_value(), "--update-fields", signal); !s.ok()) return s;
  }
  if (kind != PayloadKind::kModelDelete) {
    if (Status s = Reject(!flags.origin.empty(), "--origin", signal); !s.ok()) return s;
  }
  if (kind != PayloadKind::kM2MChanged) {
    if (Status s = Reject(!flags.action.empty(), "--action", signal); !s.ok()) return s;
    if (Status s = Reject(!flags.pk_set.empty(), "--pk-set", signal); !s.ok()) return s;
    if (Status s = Reject(flags.reverse, "--reverse", signal); !s.ok()) return s;
  }
  if (kind != PayloadKind::kUserSession && kind != PayloadKind::kLoginFailed) {
    if (Status s = Reject(!flags.username.empty(), "--username", signal); !s.ok()) return s;
  }
  if (kind != PayloadKind::kLoginFailed) {
    if (Status s = Reject(!flags.credentials.empty(), "--credential", signal); !s.ok()) return s;
  }
  switch (kind) {
    case PayloadKind::kModelSave: {
      if (signal == "pre_save" && flags.created) return InvalidArgument("--created does not apply to pre_save");
      auto instance = InstanceFrom(flags, flags.sender);
      if (!instance.ok()) return instance.status();
      v1::ModelSave* save = event.mutable_model_save();
      *save->mutable_instance() = std::move(*instance);
      save->set_created(flags.created);
      save->set_raw(flags.raw);
      save->set_using_(flags.database);
      if (flags.update_fields) {
        for (const std::string& f : *flags.update_fields) save->mutable_update_fields()->add_names(f);
      }
      break;
    }
    case PayloadKind::kModelDelete: {
      auto instance = InstanceFrom(flags, flags.sender);
      if (!instance.ok()) return instance.status();
      v1::ModelDelete* del = event.mutable_model_delete();
      *del->mutable_instance() = std::move(*instance);
      del->set_using_(flags.database);
      if (!flags.origin.empty()) {
        std::size_t colon = flags.origin.find(':');
        std::string model = flags.origin.substr(0, colon);
        if (Status s = ValidateSender(model); !s.ok()) return InvalidArgument("--origin: " + s.message());
        del->mutable_origin()->set_model(model);
        if (colon == std::string::npos) {
          del->mutable_origin()->set_is_queryset(true);
        } else {
          del->mutable_origin()->set_pk(flags.origin.substr(colon + 1));
        }
      }
      break;
    }
    case PayloadKind::kM2MChanged: {
      v1::M2MChanged::Action action;
      std::string upper;
      for (char c : flags.action) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
      if (flags.action.empty() || !v1::M2MChanged::Action_Parse(upper, &action) ||
          action == v1::M2MChanged::ACTION_UNSPECIFIED) {
        return InvalidArgument("--action must be one of pre_add, post_add, pre_remove, post_remove, pre_clear, post_clear");
      }
      if (flags.model.empty()) return InvalidArgument("--model (the related model label) is required for m2m_changed");
      if (Status s = ValidateSender(flags.model); !s.ok()) return InvalidArgument("--model: " + s.message());
      v1::M2MChanged* m2m = event.mutable_m2m_changed();
      m2m->set_action(action);
      // The instance is of the model on the side the change came from; the flags only
      // know its pk, so its label is left empty unless given through --json.
      auto instance = InstanceFrom(flags, "");
      if (!instance.ok()) return instance.status();
      *m2m->mutable_instance() = std::move(*instance);
      m2m->set_reverse(flags.reverse);
      m2m->set_model(flags.model);
      for (const std::string& pk : flags.pk_set) m2m->add_pk_set(pk);
      m2m->set_using_(flags.database);
      break;
    }
    case PayloadKind::kUserSession: {
      v1::UserSession* session = event.mutable_user_session();
      if (!flags.pk.empty()) {
        session->mutable_user()->set_model(flags.sender);
        session->mutable_user()->set_pk(flags.pk);
      }
      session->set_username(flags.username);
      *session->mutable_request() = RequestFrom(flags);
      break;
    }
    case PayloadKind::kLoginFailed: {
      v1::LoginFailed* failure = event.mutable_login_failed();
      if (!flags.username.empty()) (*failure->mutable_credentials())["username"] = flags.username;
      for (const std::string& c : flags.credentials) {
        auto kv = SplitPair(c, "--credential");
        if (!kv.ok()) return kv.status();
        (*failure->mutable_credentials())[kv->first] = kv->second;
      }
      MaskCredentials(failure);
      *failure->mutable_request() = RequestFrom(flags);
      break;
    }
    case PayloadKind::kCustom: {
      auto kwargs = FieldsFrom(flags);
      if (!kwargs.ok()) return kwargs.status();
      *event.mutable_custom()->mutable_kwargs() = std::move(*kwargs);
      event.mutable_custom()->set_pk(flags.pk);
      break;
    }
  }
  return event;
}

}  // namespace signalbus
