// The envelope's rules and the decoding of untrusted bytes.
#include "signalbus/core/codec.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "signalbus/core/event_id.h"
#include "signalbus/core/logging.h"
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

}  // namespace

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
      return CheckInstanceModel(event.model_save().instance(), event.sender());
    case v1::Event::kModelDelete:
      return CheckInstanceModel(event.model_delete().instance(), event.sender());
    case v1::Event::kM2MChanged:
      if (event.m2m_changed().action() == v1::M2MChanged::ACTION_UNSPECIFIED) {
        return InvalidArgument("m2m_changed needs an action");
      }
      return Status::Ok();
    default:
      return Status::Ok();
  }
}

std::string EncodeEvent(const v1::Event& event) { return event.SerializeAsString(); }

Result<v1::Event> DecodeEvent(std::string_view bytes, std::size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return InvalidArgument("event of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                           std::to_string(max_bytes));
  }
  if (bytes.empty()) return InvalidArgument("event frame is empty");
  v1::Event event;
  if (!event.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("event frame is not a signalbus.v1.Event (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (Status s = ValidateEvent(event); !s.ok()) return s;
  return event;
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
