// PostgresProfileStore: the profile store in a PostgreSQL database, over libpq. The
// same schema rules as the SQLite store: profile(user_id PRIMARY KEY) and
// processed_event(event_id PRIMARY KEY). Each operation is one statement, so one
// transaction: it records the event id (INSERT … ON CONFLICT DO NOTHING) and changes the
// profile only if that row was new. Any number of processes may share the database.
//
// A server that goes away makes the operation fail with kUnavailable (naming the
// server, never its password); every call first reconnects a broken connection, and a
// statement cut off by a lost connection is run once more on a new one (safe: it is
// idempotent by event id).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "profile_creator/profile_store.h"

namespace signalbus::profile_creator {

struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConn = std::unique_ptr<PGconn, PgConnCloser>;
using PgResult = std::unique_ptr<PGresult, PgResultClearer>;

class PostgresProfileStore final : public ProfileStore {
 public:
  // Connects to `conninfo` (a postgresql:// URI or key=value conninfo) and creates the
  // schema if missing. Fails with kUnavailable when the server cannot be reached.
  static Result<std::unique_ptr<PostgresProfileStore>> Open(const std::string& conninfo,
                                                            ProfileStoreOptions options = {});

  Result<Outcome> CreateForUser(std::string_view event_id, std::int64_t user_pk) override;
  Result<Outcome> DeleteForUser(std::string_view event_id, std::int64_t user_pk) override;
  Result<std::int64_t> ProfileCount() override;
  Result<bool> HasProfile(std::int64_t user_pk) override;
  Result<bool> WasProcessed(std::string_view event_id) override;
  std::string Describe() const override { return describe_; }

 private:
  PostgresProfileStore(std::string conninfo, ProfileStoreOptions options)
      : conninfo_(std::move(conninfo)), options_(options) {}
  // A fresh connection when there is none or it broke.
  Status Connect();
  // Runs `sql` with text parameters; a result that returned tuples or completed.
  Result<PgResult> Exec(const char* sql, const std::vector<std::string>& params, std::string_view what);
  Result<Outcome> Apply(const char* sql, std::string_view event_id, std::int64_t user_pk, std::string_view what);

  std::string conninfo_;  // may hold a password: never logged
  ProfileStoreOptions options_;
  std::string describe_;
  PgConn conn_;
};

}  // namespace signalbus::profile_creator
