// The SQLite profile store's schema, pragmas and idempotent transactions.
#include "profile_creator/sqlite_profile_store.h"

#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace signalbus::profile_creator {
namespace {

// WAL lets readers and one writer work at once across processes; with it, NORMAL only
// risks the last transactions on power loss, never corruption, and a lost
// processed_event row just means a redelivered event is applied again (idempotently).
constexpr const char* kPragmas =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;";
constexpr std::chrono::milliseconds kBusyRetryPause{5};

constexpr const char* kSchema =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS profile ("
    "  user_id INTEGER NOT NULL UNIQUE,"
    "  bio TEXT NOT NULL DEFAULT '',"
    "  created_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS processed_event ("
    "  event_id TEXT PRIMARY KEY,"
    "  processed_at TEXT NOT NULL);"
    "COMMIT;";

// UTC with milliseconds: 2025-11-24T16:00:00.123Z.
constexpr std::string_view kNowSql = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

// Runs a statement that returns no rows.
Status StepDone(sqlite3* db, sqlite3_stmt* stmt, std::string_view what) {
  sqlite::ScopedReset reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return Status::Ok();
  if (rc == SQLITE_ROW) return Internal(std::string(what) + ": returned a row");
  return sqlite::Check(db, rc, what);
}

// Rolls back unless Commit() succeeded, so every early return leaves no transaction open.
class Transaction {
 public:
  Transaction(sqlite3* db, sqlite3_stmt* commit, sqlite3_stmt* rollback)
      : db_(db), commit_(commit), rollback_(rollback) {}
  ~Transaction() {
    if (!done_) (void)StepDone(db_, rollback_, "ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Commit() {
    Status s = StepDone(db_, commit_, "COMMIT");
    done_ = s.ok();
    return s;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* commit_;
  sqlite3_stmt* rollback_;
  bool done_ = false;
};

// Runs `step` again while it fails with SQLITE_BUSY, until `timeout`. Switching a new
// file to WAL takes an exclusive lock, and SQLite reports BUSY at once, without the busy
// handler, when another connection is opening the same file at that moment (two receiver
// instances started together).
template <typename Step>
Status RetryWhileBusy(std::chrono::milliseconds timeout, Step step) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    Status s = step();
    if (s.code() != StatusCode::kUnavailable || std::chrono::steady_clock::now() >= deadline) return s;
    std::this_thread::sleep_for(kBusyRetryPause);
  }
}

}  // namespace

Result<SqliteProfileStore> SqliteProfileStore::Open(const std::string& path, ProfileStoreOptions options) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return Unavailable("cannot create directory " + parent.string() + ": " + ec.message());
  }
  Result<sqlite::Database> db = sqlite::Open(path);
  if (!db.ok()) return db.status();
  sqlite3* raw = db->get();
  // Before anything else: switching to WAL and creating the schema take locks that a
  // store opening at the same moment in another process may hold.
  if (Status s =
          sqlite::Check(raw, sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count())), "busy_timeout");
      !s.ok()) {
    return s;
  }
  if (Status s = RetryWhileBusy(options.busy_timeout, [&] { return sqlite::Exec(raw, kPragmas); }); !s.ok()) {
    return s;
  }
  Status schema = RetryWhileBusy(options.busy_timeout, [&] {
    Status s = sqlite::Exec(raw, kSchema);
    if (!s.ok() && !sqlite3_get_autocommit(raw)) (void)sqlite::Exec(raw, "ROLLBACK");
    return s;
  });
  if (!schema.ok()) return schema;
  SqliteProfileStore store(path, std::move(db).value());
  if (Status s = store.Prepare(); !s.ok()) return s;
  return store;
}

Status SqliteProfileStore::Prepare() {
  const std::string now(kNowSql);
  struct {
    sqlite::Statement* target;
    std::string sql;
  } const statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&mark_processed_, "INSERT OR IGNORE INTO processed_event(event_id, processed_at) VALUES(?1, " + now + ")"},
      {&insert_profile_, "INSERT OR IGNORE INTO profile(user_id, bio, created_at) VALUES(?1, '', " + now + ")"},
      {&delete_profile_, "DELETE FROM profile WHERE user_id = ?1"},
      {&count_profiles_, "SELECT count(*) FROM profile"},
      {&find_profile_, "SELECT 1 FROM profile WHERE user_id = ?1"},
      {&find_processed_, "SELECT 1 FROM processed_event WHERE event_id = ?1"},
  };
  for (const auto& s : statements) {
    Result<sqlite::Statement> stmt = sqlite::Prepare(db_.get(), s.sql);
    if (!stmt.ok()) return stmt.status();
    *s.target = std::move(stmt).value();
  }
  return Status::Ok();
}

Result<Outcome> SqliteProfileStore::CreateForUser(std::string_view event_id, std::int64_t user_pk) {
  return Apply(event_id, user_pk, insert_profile_.get());
}

Result<Outcome> SqliteProfileStore::DeleteForUser(std::string_view event_id, std::int64_t user_pk) {
  return Apply(event_id, user_pk, delete_profile_.get());
}

Result<Outcome> SqliteProfileStore::Apply(std::string_view event_id, std::int64_t user_pk, sqlite3_stmt* change) {
  sqlite3* db = db_.get();
  if (event_id.empty()) return InvalidArgument("event id is empty");
  // IMMEDIATE takes the write lock now (waiting up to the busy timeout), rather than at
  // the first write, where a deferred transaction could fail with SQLITE_BUSY mid-way.
  if (Status s = StepDone(db, begin_.get(), "BEGIN IMMEDIATE"); !s.ok()) return s;
  Transaction transaction(db, commit_.get(), rollback_.get());

  {
    sqlite::ScopedReset reset(mark_processed_.get());
    sqlite3_bind_text(mark_processed_.get(), 1, event_id.data(), static_cast<int>(event_id.size()), SQLITE_STATIC);
    int rc = sqlite3_step(mark_processed_.get());
    if (rc != SQLITE_DONE) return sqlite::Check(db, rc, "recording event " + std::string(event_id));
  }
  // Already recorded: this event was handled before. The transaction rolls back.
  if (sqlite3_changes(db) == 0) return Outcome::kDuplicate;

  int changed = 0;
  {
    sqlite::ScopedReset reset(change);
    sqlite3_bind_int64(change, 1, user_pk);
    int rc = sqlite3_step(change);
    if (rc != SQLITE_DONE) return sqlite::Check(db, rc, "changing the profile of user " + std::to_string(user_pk));
    changed = sqlite3_changes(db);
  }
  if (Status s = transaction.Commit(); !s.ok()) return s;
  return changed > 0 ? Outcome::kApplied : Outcome::kNoChange;
}

Result<std::int64_t> SqliteProfileStore::ProfileCount() {
  sqlite::ScopedReset reset(count_profiles_.get());
  int rc = sqlite3_step(count_profiles_.get());
  if (rc == SQLITE_DONE) return Internal("counting profiles: no row");
  if (rc != SQLITE_ROW) return sqlite::Check(db_.get(), rc, "counting profiles");
  return static_cast<std::int64_t>(sqlite3_column_int64(count_profiles_.get(), 0));
}

Result<bool> SqliteProfileStore::HasProfile(std::int64_t user_pk) {
  sqlite::ScopedReset reset(find_profile_.get());
  sqlite3_bind_int64(find_profile_.get(), 1, user_pk);
  int rc = sqlite3_step(find_profile_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite::Check(db_.get(), rc, "looking up a profile");
}

Result<bool> SqliteProfileStore::WasProcessed(std::string_view event_id) {
  sqlite::ScopedReset reset(find_processed_.get());
  sqlite3_bind_text(find_processed_.get(), 1, event_id.data(), static_cast<int>(event_id.size()), SQLITE_STATIC);
  int rc = sqlite3_step(find_processed_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite::Check(db_.get(), rc, "looking up an event");
}

}  // namespace signalbus::profile_creator
