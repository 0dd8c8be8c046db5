// Thin RAII over the SQLite C API for the profile store: owning handles for connections
// and prepared statements, and SQLite errors as Status values with sqlite3_errmsg.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "signalbus/core/status.h"

namespace signalbus::sqlite {

struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Database = std::unique_ptr<sqlite3, DatabaseCloser>;
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// "what: <sqlite3_errmsg> (<code name>)" as a Status; OK when rc is SQLITE_OK/ROW/DONE.
Status Check(sqlite3* db, int rc, std::string_view what);

// Opens (creating if needed) a database file in read-write mode.
Result<Database> Open(const std::string& path);
// Runs one or more SQL statements that return no rows.
Status Exec(sqlite3* db, const char* sql);
Result<Statement> Prepare(sqlite3* db, std::string_view sql);

// Resets and unbinds a prepared statement when it goes out of scope, so it never holds a
// read transaction open between uses.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ScopedReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace signalbus::sqlite
