// Events as JSON, using protobuf's own JSON mapping: single-line output with the
// proto's snake_case field names (for NDJSON, jq, tail -f); input accepts either
// snake_case or lowerCamelCase and rejects unknown fields, so typos are reported.
#pragma once

#include <string>
#include <string_view>

#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

Result<std::string> EventToJson(const v1::Event& event);
// Parses without validating: the caller fills what is missing, then validates.
Result<v1::Event> EventFromJson(std::string_view json);
// Parses a JSON object into a Struct ("--json '{...}'").
Result<google::protobuf::Struct> StructFromJson(std::string_view json);
// A JSON scalar or text: "42" -> 42, "true" -> true, "alice" -> "alice".
google::protobuf::Value ValueFromText(std::string_view text);

}  // namespace signalbus
