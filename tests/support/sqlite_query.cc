// Read-only SQLite queries for integration tests.
#include "sqlite_query.h"

#include <sqlite3.h>

namespace signalbus::testing {

long long QueryCount(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  long long count = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
      count = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return count;
}

}  // namespace signalbus::testing
