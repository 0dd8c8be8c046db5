// Event <-> JSON through protobuf's JSON mapping.
#include "signalbus/core/event_json.h"

#include <google/protobuf/util/json_util.h>

#include "signalbus/core/logging.h"

namespace signalbus {

namespace pbu = google::protobuf::util;

Result<std::string> EventToJson(const v1::Event& event) {
  pbu::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = false;
  std::string out;
  auto status = pbu::MessageToJsonString(event, &out, options);
  if (!status.ok()) return Internal("cannot print event as JSON: " + std::string(status.message()));
  return out;
}

Result<v1::Event> EventFromJson(std::string_view json) {
  pbu::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  v1::Event event;
  auto status = pbu::JsonStringToMessage(std::string(json), &event, options);
  if (!status.ok()) {
    return InvalidArgument("not a signalbus event in JSON: " + Printable(std::string(status.message()), 200));
  }
  return event;
}

Result<google::protobuf::Struct> StructFromJson(std::string_view json) {
  google::protobuf::Struct out;
  auto status = pbu::JsonStringToMessage(std::string(json), &out, pbu::JsonParseOptions());
  if (!status.ok()) {
    return InvalidArgument("not a JSON object: " + Printable(std::string(status.message()), 200));
  }
  return out;
}

google::protobuf::Value ValueFromText(std::string_view text) {
  google::protobuf::Value value;
  if (!text.empty()) {
    auto status = pbu::JsonStringToMessage(std::string(text), &value, pbu::JsonParseOptions());
    if (status.ok()) return value;
  }
  value.Clear();
  value.set_string_value(std::string(text));
  return value;
}

}  // namespace signalbus
