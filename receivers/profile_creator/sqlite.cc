// SQLite error reporting and handle creation for the profile store.
#include "profile_creator/sqlite.h"

namespace signalbus::sqlite {

Status Check(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return Status::Ok();
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (";
  message += sqlite3_errstr(rc);
  message += ")";
  // Busy and locked are conditions of the moment; everything else needs a person.
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Unavailable(std::move(message));
  return Internal(std::move(message));
}

Result<Database> Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db(raw);  // closed on every path, even when the open failed
  if (rc != SQLITE_OK) return Check(db.get(), rc, "cannot open " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  return db;
}

Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string what = std::string(sql).substr(0, 60);
  sqlite3_free(error);  // sqlite3_errmsg(db) says the same
  return Check(db, rc, what);
}

Result<Statement> Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Check(db, rc, "cannot prepare '" + std::string(sql.substr(0, 60)) + "'");
  return stmt;
}

}  // namespace signalbus::sqlite
