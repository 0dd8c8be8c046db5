// SqliteProfileStore: the profile store in a SQLite file. Each operation is one
// transaction (BEGIN IMMEDIATE) that first records the event id in processed_event.
// Several processes may share one file (WAL mode, busy timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "profile_creator/profile_store.h"
#include "profile_creator/sqlite.h"
#include "signalbus/core/status.h"

namespace signalbus::profile_creator {

// One connection. Not thread-safe: one store per thread (many stores, in any number of
// threads and processes, may share a file).
class SqliteProfileStore final : public ProfileStore {
 public:
  // Opens or creates the database at `path` (and its parent directory), switches it to
  // WAL and creates the schema if missing.
  static Result<SqliteProfileStore> Open(const std::string& path, ProfileStoreOptions options = {});

  SqliteProfileStore(SqliteProfileStore&&) noexcept = default;
  SqliteProfileStore& operator=(SqliteProfileStore&&) noexcept = default;

  Result<Outcome> CreateForUser(std::string_view event_id, std::int64_t user_pk) override;
  Result<Outcome> DeleteForUser(std::string_view event_id, std::int64_t user_pk) override;

  Result<std::int64_t> ProfileCount() override;
  Result<bool> HasProfile(std::int64_t user_pk) override;
  Result<bool> WasProcessed(std::string_view event_id) override;

  std::string Describe() const override { return path_; }
  const std::string& path() const { return path_; }

 private:
  SqliteProfileStore(std::string path, sqlite::Database db) : path_(std::move(path)), db_(std::move(db)) {}
  Status Prepare();
  // The one write path: BEGIN IMMEDIATE, record the event id, run `change` bound to
  // user_pk, COMMIT.
  Result<Outcome> Apply(std::string_view event_id, std::int64_t user_pk, sqlite3_stmt* change);

  std::string path_;
  sqlite::Database db_;
  sqlite::Statement begin_;
  sqlite::Statement commit_;
  sqlite::Statement rollback_;
  sqlite::Statement mark_processed_;
  sqlite::Statement insert_profile_;
  sqlite::Statement delete_profile_;
  sqlite::Statement count_profiles_;
  sqlite::Statement find_profile_;
  sqlite::Statement find_processed_;
};

}  // namespace signalbus::profile_creator
