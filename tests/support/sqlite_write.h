// Changing a receiver's SQLite database from a test: statements such as a trigger that
// makes the receiver's writes fail, and holding the database's write lock so that a
// receiver's handler blocks mid-event.
#pragma once

#include <string>

struct sqlite3;

namespace signalbus::testing {

// Runs `sql` (one or more statements) in read-write mode; "" on success, else the error.
std::string ExecSql(const std::string& db_path, const std::string& sql);

// Holds the write lock (BEGIN IMMEDIATE) of a database until Release() or destruction.
class SqliteWriteLock {
 public:
  explicit SqliteWriteLock(const std::string& db_path);
  ~SqliteWriteLock();
  SqliteWriteLock(const SqliteWriteLock&) = delete;
  SqliteWriteLock& operator=(const SqliteWriteLock&) = delete;

  bool held() const { return held_; }
  const std::string& error() const { return error_; }
  void Release();

 private:
  sqlite3* db_ = nullptr;
  bool held_ = false;
  std::string error_;
};

}  // namespace signalbus::testing
