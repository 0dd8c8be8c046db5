// ProfileStore: where the profile-creator keeps its rows, behind one small interface so
// the handlers do not care which database it is. Two implementations: a SQLite file
// (sqlite_profile_store.h) and a PostgreSQL database (postgres_profile_store.h). Both
// keep the same rules: one profile per user, and every operation is one transaction that
// records the event id in processed_event, so an event delivered again (a redelivery, a
// replay) changes nothing: the receiver is idempotent by event id.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

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
  // SQLite: how long a write waits for another connection's transaction before failing.
  std::chrono::milliseconds busy_timeout{5000};
  // PostgreSQL: how long (re)connecting may take, unless the conninfo sets connect_timeout.
  std::chrono::seconds connect_timeout{5};
};

// One connection. Not thread-safe: one store per thread (many stores, in any number of
// threads and processes, may share a database).
//
// Errors are values: kUnavailable for a condition of the moment (a busy SQLite file, a
// PostgreSQL server that went away: the next call reconnects), anything else for what
// needs a person. A failed operation changed nothing.
class ProfileStore {
 public:
  virtual ~ProfileStore() = default;

  // Creates an empty profile for the user unless one exists. REQUIRES: !event_id.empty().
  virtual Result<Outcome> CreateForUser(std::string_view event_id, std::int64_t user_pk) = 0;
  // Deletes the user's profile if there is one. REQUIRES: !event_id.empty().
  virtual Result<Outcome> DeleteForUser(std::string_view event_id, std::int64_t user_pk) = 0;

  // Reads, for tests and summaries.
  virtual Result<std::int64_t> ProfileCount() = 0;
  virtual Result<bool> HasProfile(std::int64_t user_pk) = 0;
  virtual Result<bool> WasProcessed(std::string_view event_id) = 0;

  // Where the rows are, for log lines: a path, or PostgreSQL's database, host and port
  // (never a password).
  virtual std::string Describe() const = 0;
};

// Whether `db` names a PostgreSQL database: a postgresql:// or postgres:// URI, or a
// libpq key=value conninfo ("dbname=profiles host=/run/postgresql"). Anything else is a
// SQLite path (a file whose name looks like conninfo can be given as ./host=x).
bool IsPostgresTarget(std::string_view db);

// Opens the store `db` names (see IsPostgresTarget), creating its schema if missing.
Result<std::unique_ptr<ProfileStore>> OpenProfileStore(const std::string& db, ProfileStoreOptions options = {});

}  // namespace signalbus::profile_creator
