// Reading a receiver's PostgreSQL database from a test (libpq), while the receiver writes.
#pragma once

#include <string>
#include <vector>

namespace signalbus::testing {

// The first column of the first row of `sql` as an integer; -1 when the query fails
// (for instance before the receiver has created its tables).
long long PgQueryCount(const std::string& uri, const std::string& sql);
// The first column of every row of `sql`; empty when the query fails.
std::vector<std::string> PgQueryColumn(const std::string& uri, const std::string& sql);

}  // namespace signalbus::testing
