// Events as JSON, using protobuf's own JSON mapping: single-line output with the
// proto's snake_case field names (for NDJSON, jq, tail -f); input accepts either
// snake_case or lowerCamelCase and rejects unknown fields, so typos are reported.
// Both hold to the envelope's nesting limit (kMaxValueNesting in codec.h): every event
// ValidateEvent() accepts prints, and JSON nested deeper is refused for that reason.
#pragma once

#include <string>
#include <string_view>

#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

// Fails only for an event ValidateEvent() refuses (its timestamp or nesting).
Result<std::string> EventToJson(const v1::Event& event);
// Parses without validating, except for the nesting limit: the caller fills what is
// missing, then validates.
Result<v1::Event> EventFromJson(std::string_view json);
// Parses a JSON object into a Struct ("--json '{...}'"), nested at most kMaxValueNesting.
Result<google::protobuf::Struct> StructFromJson(std::string_view json);
// A JSON scalar or text: "42" -> 42, "true" -> true, "alice" -> "alice".
google::protobuf::Value ValueFromText(std::string_view text);

}  // namespace signalbus
