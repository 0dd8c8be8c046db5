// The envelope's rules and the decoding of untrusted bytes.
#include "signalbus/core/codec.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "signalbus/core/event_id.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/proto_parse.h"
#include "signalbus/core/topic.h"

namespace signalbus {
namespace {

struct SignalRule {
  std::string_view name;
  PayloadKind kind;
};

constexpr std::array<SignalRule, 10> kBuiltinSignals{{
    {"pre_save", PayloadKind::kModelSave},
    {"post_save", PayloadKind::kModelSave},
    {"pre_delete", PayloadKind::kModelDelete},
    {"post_delete", PayloadKind::kModelDelete},
    {"m2m_changed", PayloadKind::kM2MChanged},
    {"user_logged_in", PayloadKind::kUserSession},
    {"user_logged_out", PayloadKind::kUserSession},
    {"user_login_failed", PayloadKind::kLoginFailed},
    // Django's in-process signals have no payload of their own here; they travel as
    // custom signals. Listed so that IsBuiltinSignal() knows them.
    {"pre_migrate", PayloadKind::kCustom},
    {"post_migrate", PayloadKind::kCustom},
}};

const char* PayloadCaseName(v1::Event::PayloadCase c) {
  switch (c) {
    case v1::Event::kModelSave: return "model_save";
    case v1::Event::kModelDelete: return "model_delete";
    case v1::Event::kM2MChanged: return "m2m_changed";
    case v1::Event::kUserSession: return "user_session";
    case v1::Event::kLoginFailed: return "login_failed";
    case v1::Event::kCustom: return "custom";
    case v1::Event::PAYLOAD_NOT_SET: return "none";
  }
  return "unknown";
}

Status CheckInstanceModel(const v1::Instance& instance, std::string_view sender) {
  if (!instance.model().empty() && instance.model() != sender) {
    return InvalidArgument("instance.model '" + Printable(instance.model()) + "' differs from sender '" +
                           std::string(sender) + "'");
  }
  return Status::Ok();
}

// The publisher-id characters by byte: the broker checks every event's id, so a table.
constexpr std::array<bool, 256> kPublisherIdChars = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == ':' || c == '-';
  }
  return table;
}();

bool IsPublisherIdChar(char c) { return kPublisherIdChars[static_cast<unsigned char>(c)]; }

Status CheckLength(std::string_view what, std::string_view value, std::size_t limit) {
  if (value.size() <= limit) return Status::Ok();
  return InvalidArgument(std::string(what) + " is " + std::to_string(value.size()) + " bytes, over the limit of " +
                         std::to_string(limit));
}

Status CheckTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() < kMinTimestampSeconds || t.seconds() > kMaxTimestampSeconds) {
    return InvalidArgument("occurred_at (" + std::to_string(t.seconds()) +
                           " s) is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z");
  }
  if (t.nanos() < 0 || t.nanos() > kMaxTimestampNanos) {
    return InvalidArgument("occurred_at.nanos " + std::to_string(t.nanos()) + " is outside 0..999999999");
  }
  return Status::Ok();
}

bool TooDeep(const google::protobuf::Struct& s, int level);

// `level`: the depth of the object or array holding `value`.
bool TooDeep(const google::protobuf::Value& value, int level) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStructValue: return TooDeep(value.struct_value(), level + 1);
    case google::protobuf::Value::kListValue: {
      if (level + 1 > kMaxValueNesting) return true;
      for (const google::protobuf::Value& v : value.list_value().values()) {
        if (TooDeep(v, level + 1)) return true;
      }
      return false;
    }
    default: return false;
  }
}

// `level`: the depth of `s` itself.
bool TooDeep(const google::protobuf::Struct& s, int level) {
  if (level > kMaxValueNesting) return true;
  for (const auto& [name, v] : s.fields()) {
    if (TooDeep(v, level)) return true;
  }
  return false;
}

}  // namespace

bool IsValidPublisherId(std::string_view id) {
  return id.size() <= kMaxPublisherIdBytes && std::all_of(id.begin(), id.end(), IsPublisherIdChar);
}

Status ValidatePublisherId(std::string_view id) {
  if (id.size() > kMaxPublisherIdBytes) {
    return InvalidArgument("publisher_id is " + std::to_string(id.size()) + " bytes, over the limit of " +
                           std::to_string(kMaxPublisherIdBytes));
  }
  if (!IsValidPublisherId(id)) {
    return InvalidArgument("publisher_id '" + Printable(id) +
                           "' has a character other than ASCII letters, digits and . _ : -");
  }
  return Status::Ok();
}

bool NestsTooDeeply(const google::protobuf::Struct& values) { return TooDeep(values, 1); }

Status NestedTooDeeply(std::string_view what) {
  return InvalidArgument(std::string(what) + " nest deeper than " + std::to_string(kMaxValueNesting) +
                         " levels of objects and arrays (the limit for JSON values in an event)");
}

PayloadKind PayloadKindForSignal(std::string_view signal) {
  for (const SignalRule& rule : kBuiltinSignals) {
    if (rule.name == signal) return rule.kind;
  }
  return PayloadKind::kCustom;
}

bool IsBuiltinSignal(std::string_view signal) {
  return std::any_of(kBuiltinSignals.begin(), kBuiltinSignals.end(),
                     [&](const SignalRule& r) { return r.name == signal; });
}

v1::Event::PayloadCase PayloadCaseFor(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::kModelSave: return v1::Event::kModelSave;
    case PayloadKind::kModelDelete: return v1::Event::kModelDelete;
    case PayloadKind::kM2MChanged: return v1::Event::kM2MChanged;
    case PayloadKind::kUserSession: return v1::Event::kUserSession;
    case PayloadKind::kLoginFailed: return v1::Event::kLoginFailed;
    case PayloadKind::kCustom: return v1::Event::kCustom;
  }
  return v1::Event::PAYLOAD_NOT_SET;
}

Status ValidateEvent(const v1::Event& event) {
  if (event.schema_version() != kSchemaVersion) {
    return InvalidArgument("schema_version " + std::to_string(event.schema_version()) + " is not supported (want " +
                           std::to_string(kSchemaVersion) + ")");
  }
  if (!IsValidEventId(event.event_id())) {
    return InvalidArgument("event_id '" + Printable(event.event_id()) + "' is not a ULID");
  }
  if (Status s = ValidateSender(event.sender()); !s.ok()) return s;
  if (Status s = ValidateSignalName(event.signal()); !s.ok()) return s;
  if (event.sender().size() + 1 + event.signal().size() > kMaxTopicBytes) {
    return InvalidArgument("topic is longer than 255 bytes");
  }
  if (Status s = ValidatePublisherId(event.publisher_id()); !s.ok()) return s;
  if (Status s = CheckLength("source", event.source(), kMaxSourceBytes); !s.ok()) return s;
  if (Status s = CheckLength("ordering_key", event.ordering_key(), kMaxOrderingKeyBytes); !s.ok()) return s;
  if (event.has_occurred_at()) {
    if (Status s = CheckTimestamp(event.occurred_at()); !s.ok()) return s;
  }
  v1::Event::PayloadCase want = PayloadCaseFor(PayloadKindForSignal(event.signal()));
  if (event.payload_case() != want) {
    return InvalidArgument("signal " + event.signal() + " needs a " + PayloadCaseName(want) + " payload, got " +
                           PayloadCaseName(event.payload_case()));
  }
  switch (event.payload_case()) {
    case v1::Event::kModelSave:
      if (event.signal() == "pre_save" && event.model_save().created()) {
        return InvalidArgument("pre_save cannot have created=true");
      }
      if (Status s = CheckInstanceModel(event.model_save().instance(), event.sender()); !s.ok()) return s;
      break;
    case v1::Event::kModelDelete:
      if (Status s = CheckInstanceModel(event.model_delete().instance(), event.sender()); !s.ok()) return s;
      break;
    case v1::Event::kM2MChanged:
      if (event.m2m_changed().action() == v1::M2MChanged::ACTION_UNSPECIFIED) {
        return InvalidArgument("m2m_changed needs an action");
      }
      break;
    default:
      break;
  }
  return ValidateValueNesting(event);
}

Status ValidateValueNesting(const v1::Event& event) {
  const google::protobuf::Struct* values = nullptr;
  const char* what = "";
  switch (event.payload_case()) {
    case v1::Event::kModelSave:
      values = &event.model_save().instance().fields();
      what = "model_save.instance.fields";
      break;
    case v1::Event::kModelDelete:
      values = &event.model_delete().instance().fields();
      what = "model_delete.instance.fields";
      break;
    case v1::Event::kM2MChanged:
      values = &event.m2m_changed().instance().fields();
      what = "m2m_changed.instance.fields";
      break;
    case v1::Event::kCustom:
      values = &event.custom().kwargs();
      what = "custom.kwargs";
      break;
    default:
      break;
  }
  if (values != nullptr && NestsTooDeeply(*values)) return NestedTooDeeply(what);
  return Status::Ok();
}

std::string EncodeEvent(const v1::Event& event) { return event.SerializeAsString(); }

Result<v1::Event> DecodeEvent(std::string_view bytes, std::size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return InvalidArgument("event of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                           std::to_string(max_bytes));
  }
  if (bytes.empty()) return InvalidArgument("event frame is empty");
  v1::Event event;
  if (Status s = ParseEvent(bytes, event); !s.ok()) return s;
  if (Status s = ValidateEvent(event); !s.ok()) return s;
  return event;
}

Status ParseEvent(std::string_view bytes, v1::Event& event) {
  if (Status s = ParseUntrusted(bytes, event); !s.ok()) return InvalidArgument("event frame is " + s.message());
  return Status::Ok();
}

std::string TopicOf(const v1::Event& event) { return event.sender() + "/" + event.signal(); }

std::string OrderingKeyFor(std::string_view sender, std::string_view pk) {
  std::string key(sender);
  if (!pk.empty()) {
    key.push_back(':');
    key.append(pk);
  }
  return key;
}

std::string PrimaryKeyOf(const v1::Event& event) {
  switch (event.payload_case()) {
    case v1::Event::kModelSave: return event.model_save().instance().pk();
    case v1::Event::kModelDelete: return event.model_delete().instance().pk();
    case v1::Event::kM2MChanged: return event.m2m_changed().instance().pk();
    case v1::Event::kUserSession: return event.user_session().user().pk();
    case v1::Event::kCustom: return event.custom().pk();
    default: return "";
  }
}

bool IsSecretCredentialName(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  for (std::string_view word : {"API", "TOKEN", "KEY", "SECRET", "PASS", "SIGNATURE"}) {
    if (upper.find(word) != std::string::npos) return true;
  }
  return false;
}

void MaskCredentials(v1::LoginFailed* login_failed) {
  for (auto& [name, value] : *login_failed->mutable_credentials()) {
    if (IsSecretCredentialName(name)) value = std::string(kMaskedValue);
  }
}

}  // namespace signalbus
