// How signalbus-admin prints what the broker said: a table for people, NDJSON for jq.
// Kept apart from main.cc so that the formats are tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "signalbus/v1/groups.pb.h"

namespace signalbus::admin {

// Columns: GROUP MEMBERS HEAD ACK-FLOOR LAG PENDING REDELIVERED DEAD-LETTERED ACKED, left
// aligned, one row per group, each line ending in '\n'. Just the header when empty.
std::string GroupsTable(const std::vector<v1::GroupInfo>& groups);

// One JSON object on one line (no newline):
// {"group":..,"subscriptions":[..],"members":..,"head":..,"ack_floor":..,"lag":..,
//  "pending":..,"redelivered":..,"dead_lettered":..,"acked":..}; numbers as numbers.
std::string GroupJson(const v1::GroupInfo& group);

// {"offset":..,"attempts":..,"error":..,"topic":..,"dead_lettered_at":"RFC 3339",
//  "event":{the event as EventToJson prints it}}. An event that does not parse is
// "event":null with its bytes as "event_base64".
std::string DeadLetterJson(const v1::DeadLetter& dead_letter);

// "earliest", "latest", "offset 42", "2024-05-01T12:00:00Z".
std::string DescribePosition(const v1::StartPosition& position);

// A JSON string literal, quotes included.
std::string JsonString(std::string_view text);

}  // namespace signalbus::admin
