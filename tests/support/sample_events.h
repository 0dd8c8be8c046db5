// Valid sample events, one per kind of signal, for tests of every library.
#pragma once

#include <string>
#include <vector>

#include "signalbus/v1/event.pb.h"

namespace signalbus::testing {

// An auth.User post_save with created=true for the given pk.
v1::Event UserCreated(const std::string& pk);
// One complete event for each of Django's model and auth signals and a custom one.
std::vector<v1::Event> OneOfEverySignal();

// JSON values nested `depth` levels deep as kMaxValueNesting counts them (the Struct
// itself is 1; depth >= 1): objects in objects, or one object holding arrays in arrays.
google::protobuf::Struct NestedValues(int depth, bool arrays = false);
// UserCreated(pk) with NestedValues(depth, arrays) as its instance's fields.
v1::Event UserCreatedWithFieldsNested(const std::string& pk, int depth, bool arrays = false);

}  // namespace signalbus::testing
