// Writing and reading NDJSON event files for integration tests.
#include "ndjson_events.h"

#include <fstream>

#include "sample_events.h"
#include "signalbus/core/event_json.h"

namespace signalbus::testing {
namespace {

template <typename Field>
std::vector<std::string> EachEvent(const std::string& path, Field field) {
  std::ifstream in(path);
  std::vector<std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    auto event = EventFromJson(line);
    if (event.ok()) values.push_back(field(*event));
  }
  return values;
}

}  // namespace

std::string WriteEvents(const std::string& path, const std::vector<v1::Event>& events) {
  std::ofstream out(path);
  for (v1::Event event : events) {
    event.clear_publisher_id();
    event.clear_sequence();
    out << *EventToJson(event) << "\n";
  }
  return path;
}

std::string WriteUsersCreated(const std::string& path, const std::vector<int>& pks) {
  std::vector<v1::Event> events;
  for (int pk : pks) events.push_back(UserCreated(std::to_string(pk)));
  return WriteEvents(path, events);
}

std::string WriteUsersCreated(const std::string& path, int first_pk, int count) {
  std::vector<int> pks;
  for (int pk = first_pk; pk < first_pk + count; ++pk) pks.push_back(pk);
  return WriteUsersCreated(path, pks);
}

std::vector<std::string> EventIdsInFile(const std::string& path) {
  return EachEvent(path, [](const v1::Event& e) { return e.event_id(); });
}

std::vector<std::string> PksInFile(const std::string& path) {
  return EachEvent(path, [](const v1::Event& e) { return e.model_save().instance().pk(); });
}

}  // namespace signalbus::testing
