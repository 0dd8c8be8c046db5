// Read-write SQLite access for integration tests: statements and a held write lock.
#include "sqlite_write.h"

#include <sqlite3.h>

namespace signalbus::testing {
namespace {

// Runs sql on an open connection; "" or the error text.
std::string Exec(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK) return "";
  std::string error = message != nullptr ? message : sqlite3_errmsg(db);
  sqlite3_free(message);
  return error;
}

}  // namespace

std::string ExecSql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    error = "cannot open " + db_path + ": " + sqlite3_errmsg(db);
  } else {
    sqlite3_busy_timeout(db, 5000);
    error = Exec(db, sql);
  }
  sqlite3_close(db);
  return error;
}

SqliteWriteLock::SqliteWriteLock(const std::string& db_path) {
  if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    error_ = "cannot open " + db_path + ": " + sqlite3_errmsg(db_);
    return;
  }
  sqlite3_busy_timeout(db_, 5000);
  error_ = Exec(db_, "BEGIN IMMEDIATE");
  held_ = error_.empty();
}

SqliteWriteLock::~SqliteWriteLock() {
  Release();
  sqlite3_close(db_);
}

void SqliteWriteLock::Release() {
  if (held_) (void)Exec(db_, "ROLLBACK");
  held_ = false;
}

}  // namespace signalbus::testing
