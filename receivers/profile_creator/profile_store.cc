// Which store a --db value names, and opening it.
#include "profile_creator/profile_store.h"

#include <libpq-fe.h>

#include <utility>

#include "profile_creator/postgres_profile_store.h"
#include "profile_creator/sqlite_profile_store.h"

namespace signalbus::profile_creator {

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kApplied:
      return "applied";
    case Outcome::kNoChange:
      return "no_change";
    case Outcome::kDuplicate:
      return "duplicate";
  }
  return "unknown";
}

bool IsPostgresTarget(std::string_view db) {
  if (db.starts_with("postgresql://") || db.starts_with("postgres://")) return true;
  // key=value conninfo: libpq itself decides, so only its own keywords count ("a=b.db"
  // is a file name). A path starting with ./ or / never parses as conninfo.
  if (db.find('=') == std::string_view::npos || db.starts_with("/") || db.starts_with(".")) return false;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(db).c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) return false;
  PQconninfoFree(options);
  return true;
}

Result<std::unique_ptr<ProfileStore>> OpenProfileStore(const std::string& db, ProfileStoreOptions options) {
  if (IsPostgresTarget(db)) {
    Result<std::unique_ptr<PostgresProfileStore>> store = PostgresProfileStore::Open(db, options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<ProfileStore>(std::move(store).value());
  }
  Result<SqliteProfileStore> store = SqliteProfileStore::Open(db, options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<ProfileStore>(std::make_unique<SqliteProfileStore>(std::move(store).value()));
}

}  // namespace signalbus::profile_creator
