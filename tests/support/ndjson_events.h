// Events as NDJSON files in integration tests: writing user-created events for
// signalbus-publish --ndjson, and reading back what signalbus-audit appended.
#pragma once

#include <string>
#include <vector>

#include "signalbus/v1/event.pb.h"

namespace signalbus::testing {

// Writes the events, in order, without publisher id or sequence (the publisher numbers
// them); returns path.
std::string WriteEvents(const std::string& path, const std::vector<v1::Event>& events);

// Writes auth.User post_save(created) events for pks first_pk .. first_pk+count-1, in
// that order, without publisher id or sequence (the publisher numbers them); returns path.
std::string WriteUsersCreated(const std::string& path, int first_pk, int count);
// Same for an explicit list of pks, in the order given.
std::string WriteUsersCreated(const std::string& path, const std::vector<int>& pks);

// The event ids of every line of an NDJSON event file that parses, in file order.
std::vector<std::string> EventIdsInFile(const std::string& path);
// The instance pk of every line that parses, in file order.
std::vector<std::string> PksInFile(const std::string& path);

}  // namespace signalbus::testing
