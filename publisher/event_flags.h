// What signalbus-publish turns its command line into: the flags for one event, and
// the function that builds a signalbus.v1.Event from them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

struct EventFlags {
  std::string signal;
  std::string sender;
  std::string pk;
  std::string event_id;
  // Model signals.
  bool created = false;
  bool raw = false;
  std::string database = "default";
  std::optional<std::vector<std::string>> update_fields;
  std::vector<std::string> fields;  // "name=value", value as a JSON scalar or text
  std::string json;                 // a JSON object: the instance fields, or a custom signal's kwargs
  std::string origin;               // "app.Model" or "app.Model:pk" (deletes)
  // m2m_changed.
  std::string action;               // pre_add, post_add, pre_remove, post_remove, pre_clear, post_clear
  std::string model;                // the related model label
  std::vector<std::string> pk_set;
  bool reverse = false;
  // Auth signals.
  std::string username;
  std::vector<std::string> credentials;  // "name=value"
  std::string remote_addr;
  std::string user_agent;
  std::string path;
  std::string method;
  // Any signal.
  std::vector<std::string> headers;  // "name=value"
};

// Builds the event's signal-specific part and identity; the Publisher fills the rest.
// Every mistake (a flag that does not fit the signal, bad JSON, a bad action) is an
// InvalidArgument naming the flag.
Result<v1::Event> BuildEventFromFlags(const EventFlags& flags);

}  // namespace signalbus
