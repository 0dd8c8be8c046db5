// Event <-> JSON through protobuf's JSON mapping, held to the envelope's nesting limit.
#include "signalbus/core/event_json.h"

#include <google/protobuf/util/json_util.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/logging.h"

namespace signalbus {
namespace {

namespace pbu = google::protobuf::util;

// In an event's JSON the values sit at most this many levels down: event, model_save,
// instance, then the fields object (1 deep in kMaxValueNesting's count). Nothing outside
// values nests deeper than that, so a document nested more than kMaxValueNesting levels
// below it holds values nested too deeply.
constexpr int kDeepestValuesInEventJson = 3;

// True if `json` nests objects and arrays deeper than `limit`. Brackets inside strings
// do not count; the rest of the syntax is the parser's business.
bool NestsDeeperThan(std::string_view json, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Result<std::string> EventToJson(const v1::Event& event) {
  pbu::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = false;
  std::string out;
  ProtobufLogCapture capture;  // a failed print also logs "JsonObjectWriter was not fully closed"
  auto status = pbu::MessageToJsonString(event, &out, options);
  if (!status.ok()) return Internal("cannot print event as JSON: " + Printable(std::string(status.message()), 200));
  return out;
}

Result<v1::Event> EventFromJson(std::string_view json) {
  // Checked before parsing: deeper than protobuf's own limits, its parser would only say
  // "JSON transcoder produced invalid protobuf output".
  if (NestsDeeperThan(json, kMaxValueNesting + kDeepestValuesInEventJson)) {
    return NestedTooDeeply("the event's JSON values");
  }
  pbu::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  v1::Event event;
  ProtobufLogCapture capture;
  auto status = pbu::JsonStringToMessage(std::string(json), &event, options);
  if (!status.ok()) {
    return InvalidArgument("not a signalbus event in JSON: " + Printable(std::string(status.message()), 200));
  }
  if (Status s = ValidateValueNesting(event); !s.ok()) return s;
  return event;
}

Result<google::protobuf::Struct> StructFromJson(std::string_view json) {
  if (NestsDeeperThan(json, kMaxValueNesting)) return NestedTooDeeply("the JSON object's values");
  google::protobuf::Struct out;
  ProtobufLogCapture capture;
  auto status = pbu::JsonStringToMessage(std::string(json), &out, pbu::JsonParseOptions());
  if (!status.ok()) {
    return InvalidArgument("not a JSON object: " + Printable(std::string(status.message()), 200));
  }
  return out;
}

google::protobuf::Value ValueFromText(std::string_view text) {
  google::protobuf::Value value;
  if (!text.empty()) {
    ProtobufLogCapture capture;
    auto status = pbu::JsonStringToMessage(std::string(text), &value, pbu::JsonParseOptions());
    if (status.ok()) return value;
  }
  value.Clear();
  value.set_string_value(std::string(text));
  return value;
}

}  // namespace signalbus
