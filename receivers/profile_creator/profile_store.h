// ProfileStore: the profile-creator's SQLite database. Each operation is one transaction
// that first records the event id in processed_event, so an event delivered again (a
// redelivery, a replay) changes nothing: the receiver is idempotent by event id. Several
// processes may share one file (WAL mode, busy timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "profile_creator/sqlite.h"
#include "signalbus/core/status.h"

namespace signalbus::profile_creator {

// What an operation did.
enum class Outcome {
  kApplied,    // the profile was created / deleted
  kNoChange,   // recorded as processed; the profile already existed / did not exist
  kDuplicate,  // this event id was processed before: nothing changed
};
const char* OutcomeName(Outcome outcome);

struct ProfileStoreOptions {
  // How long a write waits for another connection's transaction before failing.
  std::chrono::milliseconds busy_timeout{5000};
};

// One connection. Not thread-safe: one store per thread (many stores, in any number of
// threads and processes, may share a file).
class ProfileStore {
 public:
  // Opens or creates the database at `path` (and its parent directory), switches it to
  // WAL and creates the schema if missing.
  static Result<ProfileStore> Open(const std::string& path, ProfileStoreOptions options = {});

  ProfileStore(ProfileStore&&) noexcept = default;
  ProfileStore& operator=(ProfileStore&&) noexcept = default;

  // Creates an empty profile for the user unless one exists. REQUIRES: !event_id.empty().
  Result<Outcome> CreateForUser(std::string_view event_id, std::int64_t user_pk);
  // Deletes the user's profile if there is one. REQUIRES: !event_id.empty().
  Result<Outcome> DeleteForUser(std::string_view event_id, std::int64_t user_pk);

  // Reads, for tests and summaries.
  Result<std::int64_t> ProfileCount();
  Result<bool> HasProfile(std::int64_t user_pk);
  Result<bool> WasProcessed(std::string_view event_id);

  const std::string& path() const { return path_; }

 private:
  ProfileStore(std::string path, sqlite::Database db) : path_(std::move(path)), db_(std::move(db)) {}
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
