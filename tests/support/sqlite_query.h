// Reading a receiver's SQLite database from a test, read-only, while the receiver writes.
#pragma once

#include <string>

namespace signalbus::testing {

// The first column of the first row of `sql` as an integer; -1 when the query fails
// (for instance before the receiver has created its tables).
long long QueryCount(const std::string& db_path, const std::string& sql);

}  // namespace signalbus::testing
