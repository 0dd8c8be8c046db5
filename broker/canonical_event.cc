// The walks over an event's bytes: schema tables of signalbus.v1.Event and every message
// inside it (google.protobuf Struct, Value, ListValue and Timestamp included), the
// canonical walk over them followed by ValidateEvent()'s rules on the fields it picked
// up, and a lenient walk that measures only how deeply JSON values nest.
#include "canonical_event.h"

#include <cstddef>
#include <cstring>

#include <google/protobuf/stubs/common.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/event_id.h"
#include "signalbus/core/topic.h"

namespace signalbus::broker {
namespace {

// How a field is encoded and what a full parse requires of it. Every varint must be
// minimal (as protobuf writes them) and at most 9 bytes: negative int32/int64 values
// take 10, and are left to the full parse.
enum class Kind : std::uint8_t {
  kUint64,   // varint: uint64, or int64 >= 0
  kUint32,   // varint < 2^32
  kInt32,    // varint < 2^31: int32 >= 0, or an enum
  kBool,     // varint; true if nonzero, as protobuf reads it
  kFixed64,  // 8 bytes: double
  kString,   // length-delimited, structurally valid UTF-8 (proto3 strings, map keys)
  kMessage,  // length-delimited, walked with `schema`
};

// The fields ValidateEvent() looks at, wherever they sit.
enum class Capture : std::uint8_t {
  kNone,
  kSchemaVersion,
  kEventId,
  kSignal,
  kSender,
  kSource,
  kPublisherId,
  kSequence,
  kOrderingKey,
  kUnconfirmedFrom,
  kSeconds,        // occurred_at.seconds
  kNanos,          // occurred_at.nanos
  kPayload,        // which member of Event.payload is present
  kCreated,        // ModelSave.created
  kInstanceModel,  // ModelSave.instance.model, ModelDelete.instance.model
  kAction,         // M2MChanged.action
};

struct Schema;

struct Field {
  std::uint32_t number;
  Kind kind;
  bool repeated = false;
  const Schema* schema = nullptr;  // kMessage only
  bool oneof = false;              // a member of the message's one oneof
  Capture capture = Capture::kNone;
};

// A message's fields, in field-number order.
struct Schema {
  const Field* fields;
  std::size_t count;
  bool nests = false;  // a JSON object or array of values (Struct, ListValue): one level of kMaxValueNesting
};

template <std::size_t N>
constexpr Schema SchemaOf(const Field (&fields)[N], bool nests = false) {
  return Schema{fields, N, nests};
}

// ---- Schemas, from google/protobuf/{struct,timestamp}.proto and signalbus/v1/event.proto.
// A field added to event.proto and missing here only sends events that carry it down the
// full parse.

extern const Schema kStruct;
extern const Schema kValue;

const Field kTimestampFields[] = {{1, Kind::kUint64, false, nullptr, false, Capture::kSeconds},
                                  {2, Kind::kInt32, false, nullptr, false, Capture::kNanos}};
const Schema kTimestamp = SchemaOf(kTimestampFields);

const Field kStructEntryFields[] = {{1, Kind::kString}, {2, Kind::kMessage, false, &kValue}};
const Schema kStructEntry = SchemaOf(kStructEntryFields);
const Field kStructFields[] = {{1, Kind::kMessage, true, &kStructEntry}};
const Schema kStruct = SchemaOf(kStructFields, /*nests=*/true);

const Field kListValueFields[] = {{1, Kind::kMessage, true, &kValue}};
const Schema kListValue = SchemaOf(kListValueFields, /*nests=*/true);

const Field kValueFields[] = {
    {1, Kind::kInt32, false, nullptr, true},    {2, Kind::kFixed64, false, nullptr, true},
    {3, Kind::kString, false, nullptr, true},   {4, Kind::kBool, false, nullptr, true},
    {5, Kind::kMessage, false, &kStruct, true}, {6, Kind::kMessage, false, &kListValue, true},
};
const Schema kValue = SchemaOf(kValueFields);

const Field kInstanceFields[] = {{1, Kind::kString}, {2, Kind::kString}, {3, Kind::kMessage, false, &kStruct}};
const Schema kInstance = SchemaOf(kInstanceFields);
// The instance of a model_save or model_delete, whose label ValidateEvent() checks.
const Field kCheckedInstanceFields[] = {{1, Kind::kString, false, nullptr, false, Capture::kInstanceModel},
                                        {2, Kind::kString},
                                        {3, Kind::kMessage, false, &kStruct}};
const Schema kCheckedInstance = SchemaOf(kCheckedInstanceFields);

const Field kObjectRefFields[] = {{1, Kind::kString}, {2, Kind::kString}};
const Schema kObjectRef = SchemaOf(kObjectRefFields);

const Field kFieldListFields[] = {{1, Kind::kString, true}};
const Schema kFieldList = SchemaOf(kFieldListFields);

const Field kModelSaveFields[] = {{1, Kind::kMessage, false, &kCheckedInstance},
                                  {2, Kind::kBool, false, nullptr, false, Capture::kCreated},
                                  {3, Kind::kBool},
                                  {4, Kind::kString},
                                  {5, Kind::kMessage, false, &kFieldList}};
const Schema kModelSave = SchemaOf(kModelSaveFields);

const Field kDeleteOriginFields[] = {{1, Kind::kString}, {2, Kind::kString}, {3, Kind::kBool}};
const Schema kDeleteOrigin = SchemaOf(kDeleteOriginFields);

const Field kModelDeleteFields[] = {{1, Kind::kMessage, false, &kCheckedInstance},
                                    {2, Kind::kString},
                                    {3, Kind::kMessage, false, &kDeleteOrigin}};
const Schema kModelDelete = SchemaOf(kModelDeleteFields);

const Field kM2MChangedFields[] = {{1, Kind::kInt32, false, nullptr, false, Capture::kAction},
                                   {2, Kind::kMessage, false, &kInstance},
                                   {3, Kind::kBool},
                                   {4, Kind::kString},
                                   {5, Kind::kString, true},
                                   {6, Kind::kString}};
const Schema kM2MChanged = SchemaOf(kM2MChangedFields);

const Field kRequestMetaFields[] = {{1, Kind::kString}, {2, Kind::kString}, {3, Kind::kString}, {4, Kind::kString}};
const Schema kRequestMeta = SchemaOf(kRequestMetaFields);

const Field kUserSessionFields[] = {{1, Kind::kMessage, false, &kObjectRef},
                                    {2, Kind::kString},
                                    {3, Kind::kMessage, false, &kRequestMeta}};
const Schema kUserSession = SchemaOf(kUserSessionFields);

// map<string, string>: repeated entries {1: key, 2: value}.
const Field kStringMapEntryFields[] = {{1, Kind::kString}, {2, Kind::kString}};
const Schema kStringMapEntry = SchemaOf(kStringMapEntryFields);

const Field kLoginFailedFields[] = {{1, Kind::kMessage, true, &kStringMapEntry},
                                    {2, Kind::kMessage, false, &kRequestMeta}};
const Schema kLoginFailed = SchemaOf(kLoginFailedFields);

const Field kCustomSignalFields[] = {{1, Kind::kMessage, false, &kStruct}, {2, Kind::kString}};
const Schema kCustomSignal = SchemaOf(kCustomSignalFields);

const Field kEventFields[] = {
    {1, Kind::kUint32, false, nullptr, false, Capture::kSchemaVersion},
    {2, Kind::kString, false, nullptr, false, Capture::kEventId},
    {3, Kind::kString, false, nullptr, false, Capture::kSignal},
    {4, Kind::kString, false, nullptr, false, Capture::kSender},
    {5, Kind::kString, false, nullptr, false, Capture::kSource},
    {6, Kind::kString, false, nullptr, false, Capture::kPublisherId},
    {7, Kind::kUint64, false, nullptr, false, Capture::kSequence},
    {8, Kind::kMessage, false, &kTimestamp},
    {9, Kind::kString, false, nullptr, false, Capture::kOrderingKey},
    {10, Kind::kUint64, false, nullptr, false, Capture::kUnconfirmedFrom},
    {20, Kind::kMessage, false, &kModelSave, true, Capture::kPayload},
    {21, Kind::kMessage, false, &kModelDelete, true, Capture::kPayload},
    {22, Kind::kMessage, false, &kM2MChanged, true, Capture::kPayload},
    {23, Kind::kMessage, false, &kUserSession, true, Capture::kPayload},
    {24, Kind::kMessage, false, &kLoginFailed, true, Capture::kPayload},
    {25, Kind::kMessage, false, &kCustomSignal, true, Capture::kPayload},
    {30, Kind::kMessage, true, &kStringMapEntry},
};
const Schema kEvent = SchemaOf(kEventFields);

// ---- The walk.

// The only recursion in the schema is through Struct and ListValue, so bounding how
// deeply those nest (kMaxValueNesting) bounds the walks' depth too: an event nested
// deeper is refused (the full parse names the reason) before the stack grows further.

struct Found {
  std::uint64_t schema_version = 0;
  std::uint64_t sequence = 0;
  std::uint64_t unconfirmed_from = 0;
  std::uint64_t seconds = 0;
  std::uint64_t nanos = 0;
  std::uint64_t action = 0;
  std::uint64_t payload = 0;  // the field number of the payload present, 0 if none
  bool created = false;
  CanonicalFields strings;
  std::string_view source;
  std::string_view instance_model;
};

// Structurally valid UTF-8, as protobuf checks it. Most strings are ASCII: those are
// checked here, 8 bytes at a time, without the call.
bool ValidUtf8(const char* data, std::size_t size) {
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, data + i, 8);
    if ((word & 0x8080'8080'8080'8080ULL) != 0) break;
  }
  for (; i < size; ++i) {
    if (static_cast<unsigned char>(data[i]) >= 0x80) {
      return google::protobuf::internal::IsStructurallyValidUTF8(data, static_cast<int>(size));
    }
  }
  return true;
}

// A minimal varint of at most 9 bytes; false for anything else.
bool ReadVarint(const char*& p, const char* end, std::uint64_t& value) {
  if (p != end && static_cast<std::uint8_t>(*p) < 0x80) {  // one byte: most tags, lengths and values
    value = static_cast<std::uint8_t>(*p++);
    return true;
  }
  value = 0;
  for (int i = 0; i < 9 && p != end; ++i) {
    const auto byte = static_cast<std::uint8_t>(*p++);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return i == 0 || byte != 0;  // a zero last byte: not minimal
  }
  return false;
}

void CaptureNumber(Capture c, std::uint64_t v, Found& found) {
  switch (c) {
    case Capture::kSchemaVersion: found.schema_version = v; break;
    case Capture::kSequence: found.sequence = v; break;
    case Capture::kUnconfirmedFrom: found.unconfirmed_from = v; break;
    case Capture::kSeconds: found.seconds = v; break;
    case Capture::kNanos: found.nanos = v; break;
    case Capture::kCreated: found.created = v != 0; break;
    case Capture::kAction: found.action = v; break;
    default: break;
  }
}

void CaptureString(Capture c, std::string_view s, Found& found) {
  switch (c) {
    case Capture::kEventId: found.strings.event_id = s; break;
    case Capture::kSignal: found.strings.signal = s; break;
    case Capture::kSender: found.strings.sender = s; break;
    case Capture::kSource: found.source = s; break;
    case Capture::kPublisherId: found.strings.publisher_id = s; break;
    case Capture::kOrderingKey: found.strings.ordering_key = s; break;
    case Capture::kInstanceModel: found.instance_model = s; break;
    default: break;
  }
}

// True if [p, end) is a canonical encoding of a message of `schema` that a full parse
// accepts, with values nested no deeper than kMaxValueNesting. `nesting`: how deeply the
// message sits in JSON values (0 outside them).
bool Walk(const Schema& schema, const char* p, const char* end, int nesting, Found& found) {
  std::uint64_t last = 0;
  std::size_t at = 0;  // fields come in order: the next one is at or after the last
  bool oneof_seen = false;
  while (p != end) {
    std::uint64_t tag = 0;
    if (!ReadVarint(p, end, tag)) return false;
    const std::uint64_t number = tag >> 3;
    // In order, each singular field once, at most one member of the oneof.
    if (number < last) return false;
    while (at < schema.count && schema.fields[at].number < number) ++at;
    if (at == schema.count || schema.fields[at].number != number) return false;  // unknown: the full parse decides
    const Field* field = &schema.fields[at];
    if (number == last && !field->repeated) return false;
    last = number;
    if (field->oneof) {
      if (oneof_seen) return false;
      oneof_seen = true;
    }
    const std::uint32_t wire_type = tag & 7;
    switch (field->kind) {
      case Kind::kUint64:
      case Kind::kUint32:
      case Kind::kInt32:
      case Kind::kBool: {
        std::uint64_t value = 0;
        if (wire_type != 0 || !ReadVarint(p, end, value)) return false;
        if (field->kind == Kind::kUint32 && value > 0xffff'ffffULL) return false;
        if (field->kind == Kind::kInt32 && value > 0x7fff'ffffULL) return false;
        CaptureNumber(field->capture, value, found);
        break;
      }
      case Kind::kFixed64:
        if (wire_type != 1 || end - p < 8) return false;
        p += 8;
        break;
      case Kind::kString:
      case Kind::kMessage: {
        std::uint64_t size = 0;
        if (wire_type != 2 || !ReadVarint(p, end, size)) return false;
        if (size > static_cast<std::uint64_t>(end - p)) return false;
        const char* body = p;
        p += size;
        if (field->kind == Kind::kString) {
          if (!ValidUtf8(body, size)) return false;
          CaptureString(field->capture, std::string_view(body, size), found);
        } else {
          const int inside = nesting + (field->schema->nests ? 1 : 0);
          if (inside > kMaxValueNesting || !Walk(*field->schema, body, p, inside, found)) return false;
          if (field->capture == Capture::kPayload) found.payload = number;
        }
        break;
      }
    }
  }
  return true;
}

// A varint of up to 10 bytes, minimal or not, as a parser reads it.
bool ReadAnyVarint(const char*& p, const char* end, std::uint64_t& value) {
  value = 0;
  for (int i = 0; i < 10 && p != end; ++i) {
    const auto byte = static_cast<std::uint8_t>(*p++);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

const Field* FindField(const Schema& schema, std::uint64_t number) {
  for (std::size_t i = 0; i < schema.count; ++i) {
    if (schema.fields[i].number == number) return &schema.fields[i];
  }
  return nullptr;
}

// True if [p, end), read as a message of `schema` the way a parser reads it (fields in
// any order, unknown ones skipped), nests values deeper than kMaxValueNesting before it
// ends or stops making sense.
bool NestsTooDeeply(const Schema& schema, const char* p, const char* end, int nesting) {
  while (p != end) {
    std::uint64_t tag = 0;
    std::uint64_t value = 0;
    if (!ReadAnyVarint(p, end, tag)) return false;
    switch (tag & 7) {
      case 0:
        if (!ReadAnyVarint(p, end, value)) return false;
        break;
      case 1:
        if (end - p < 8) return false;
        p += 8;
        break;
      case 5:
        if (end - p < 4) return false;
        p += 4;
        break;
      case 2: {
        if (!ReadAnyVarint(p, end, value) || value > static_cast<std::uint64_t>(end - p)) return false;
        const char* body = p;
        p += value;
        const Field* field = FindField(schema, tag >> 3);
        if (field != nullptr && field->kind == Kind::kMessage) {
          const int inside = nesting + (field->schema->nests ? 1 : 0);
          if (inside > kMaxValueNesting || NestsTooDeeply(*field->schema, body, p, inside)) return true;
        }
        break;
      }
      default:  // a group, or no wire type at all
        return false;
    }
  }
  return false;
}

// ValidateEvent()'s rules (core/codec.cc), on the fields found.
bool Valid(const Found& f) {
  const CanonicalFields& s = f.strings;
  if (f.schema_version != kSchemaVersion) return false;
  if (!IsValidEventId(s.event_id)) return false;
  if (!ValidateSender(s.sender).ok() || !ValidateSignalName(s.signal).ok()) return false;
  if (s.sender.size() + 1 + s.signal.size() > kMaxTopicBytes) return false;
  if (!IsValidPublisherId(s.publisher_id)) return false;
  if (f.source.size() > kMaxSourceBytes || s.ordering_key.size() > kMaxOrderingKeyBytes) return false;
  // A negative seconds value takes 10 bytes: never canonical here.
  if (f.seconds > static_cast<std::uint64_t>(kMaxTimestampSeconds) ||
      f.nanos > static_cast<std::uint64_t>(kMaxTimestampNanos)) {
    return false;
  }
  const v1::Event::PayloadCase want = PayloadCaseFor(PayloadKindForSignal(s.signal));
  if (f.payload != static_cast<std::uint64_t>(want)) return false;
  switch (want) {
    case v1::Event::kModelSave:
      if (s.signal == "pre_save" && f.created) return false;
      return f.instance_model.empty() || f.instance_model == s.sender;
    case v1::Event::kModelDelete:
      return f.instance_model.empty() || f.instance_model == s.sender;
    case v1::Event::kM2MChanged:
      return f.action != v1::M2MChanged::ACTION_UNSPECIFIED;
    default:
      return true;
  }
}

}  // namespace

std::optional<CanonicalFields> CheckCanonicalEvent(std::string_view event) {
  Found found;
  if (!Walk(kEvent, event.data(), event.data() + event.size(), 0, found)) return std::nullopt;
  if (!Valid(found)) return std::nullopt;
  found.strings.sequence = found.sequence;
  found.strings.unconfirmed_from = found.unconfirmed_from;
  return found.strings;
}

bool ExceedsValueNesting(std::string_view event) {
  return NestsTooDeeply(kEvent, event.data(), event.data() + event.size(), 0);
}

}  // namespace signalbus::broker
