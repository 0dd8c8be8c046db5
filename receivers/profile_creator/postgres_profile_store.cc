// The PostgreSQL profile store: schema, one-statement idempotent operations, and
// reconnecting after the server went away.
#include "profile_creator/postgres_profile_store.h"

#include <string>
#include <utility>
#include <vector>

namespace signalbus::profile_creator {
namespace {

// Two stores starting at once would race in CREATE TABLE IF NOT EXISTS (a unique
// violation in the catalog); a transaction-scoped advisory lock orders them. The
// statements of one PQexec run as one implicit transaction, which holds the lock.
constexpr const char* kSchema =
    "SELECT pg_advisory_xact_lock(7305126591044211001);"
    "CREATE TABLE IF NOT EXISTS profile ("
    "  user_id BIGINT PRIMARY KEY,"
    "  bio TEXT NOT NULL DEFAULT '',"
    "  created_at TIMESTAMPTZ NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS processed_event ("
    "  event_id TEXT PRIMARY KEY,"
    "  processed_at TIMESTAMPTZ NOT NULL DEFAULT now());";

// One statement is one transaction: the event id is recorded, and the profile changed
// only when that row is new (a redelivered event finds its row and changes nothing).
// Returns (event recorded, profile changed) as two counts.
constexpr const char* kCreate =
    "WITH e AS (INSERT INTO processed_event(event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1),"
    " p AS (INSERT INTO profile(user_id) SELECT $2::bigint FROM e ON CONFLICT DO NOTHING RETURNING 1)"
    " SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM p)";
constexpr const char* kDelete =
    "WITH e AS (INSERT INTO processed_event(event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1),"
    " p AS (DELETE FROM profile WHERE user_id = $2::bigint AND EXISTS (SELECT 1 FROM e) RETURNING 1)"
    " SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM p)";

constexpr const char* kTcpUserTimeoutMs = "30000";
constexpr const char* kStatementTimeoutOption = "-c statement_timeout=30000";

void IgnoreNotice(void*, const char*) {}

// "postgresql db=profiles host=/run/postgresql port=5432": what a log line may show.
std::string DescribeConninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) return "postgresql (unparsable conninfo)";
  std::string out = "postgresql";
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    std::string_view key = o->keyword;
    if (o->val == nullptr ||
        (key != "dbname" && key != "host" && key != "hostaddr" && key != "port" && key != "user")) {
      continue;
    }
    out += " " + std::string(key == "dbname" ? std::string_view("db") : key) + "=" + o->val;
  }
  PQconninfoFree(options);
  return out;
}

// libpq's messages end in a newline and may span lines: one line for a log.
std::string OneLine(const char* message) {
  std::string out = message != nullptr ? message : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (char& c : out) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return out.empty() ? "unknown error" : out;
}

}  // namespace

Result<std::unique_ptr<PostgresProfileStore>> PostgresProfileStore::Open(const std::string& conninfo,
                                                                         ProfileStoreOptions options) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
  if (parsed == nullptr) {
    std::string why = OneLine(error);
    PQfreemem(error);
    return InvalidArgument("not a PostgreSQL connection string: " + why);
  }
  PQconninfoFree(parsed);
  std::unique_ptr<PostgresProfileStore> store(new PostgresProfileStore(conninfo, options));
  store->describe_ = DescribeConninfo(conninfo);
  if (Status s = store->Connect(); !s.ok()) return s;
  Result<PgResult> schema = store->Exec(kSchema, {}, "creating the schema");
  if (!schema.ok()) return schema.status();
  return store;
}

Status PostgresProfileStore::Connect() {
  if (conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK) return Status::Ok();
  conn_.reset();
  // Defaults first: what the conninfo (expanded from dbname) says overrides them. A
  // server that stops answering over TCP, or a row lock held for ever, fails the event
  // (retried later) rather than stalling the receiver: tcp_user_timeout and
  // statement_timeout bound them.
  const std::string timeout = std::to_string(options_.connect_timeout.count());
  const std::pair<const char*, const char*> params[] = {
      {"connect_timeout", timeout.c_str()}, {"tcp_user_timeout", kTcpUserTimeoutMs},
      {"options", kStatementTimeoutOption}, {"fallback_application_name", "signalbus-profile-creator"},
      {"dbname", conninfo_.c_str()},
  };
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [keyword, value] : params) {
    keywords.push_back(keyword);
    values.push_back(value);
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PgConn conn(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (conn == nullptr) return Unavailable(describe_ + ": out of memory connecting");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Unavailable(describe_ + ": cannot connect: " + OneLine(PQerrorMessage(conn.get())));
  }
  // NOTICEs ("relation already exists, skipping") are not for a receiver's stderr.
  PQsetNoticeProcessor(conn.get(), IgnoreNotice, nullptr);
  conn_ = std::move(conn);
  return Status::Ok();
}

Result<PgResult> PostgresProfileStore::Exec(const char* sql, const std::vector<std::string>& params,
                                            std::string_view what) {
  std::vector<const char*> values;
  for (const std::string& p : params) values.push_back(p.c_str());
  std::string lost;
  // A second attempt only after the connection was lost mid-statement.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (Status s = Connect(); !s.ok()) {
      return lost.empty() ? s : Unavailable(s.message() + " (after: " + lost + ")");
    }
    PgResult result(params.empty() ? PQexec(conn_.get(), sql)
                                   : PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr,
                                                  values.data(), nullptr, nullptr, 0));
    ExecStatusType status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return result;
    std::string message = describe_ + ": " + std::string(what) + ": " +
                          OneLine(result != nullptr ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_.get()));
    if (PQstatus(conn_.get()) == CONNECTION_BAD) {
      lost = message;
      continue;
    }
    const char* state = result != nullptr ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    std::string_view sqlstate = state != nullptr ? state : "";
    // Class 40 (serialization failure, deadlock), 53 (out of resources) and 57
    // (shutdown, cancel) pass; the rest (a wrong schema, no permission) needs a person.
    if (sqlstate.starts_with("40") || sqlstate.starts_with("53") || sqlstate.starts_with("57")) {
      return Unavailable(std::move(message));
    }
    return Internal(std::move(message));
  }
  return Unavailable(lost);
}

Result<Outcome> PostgresProfileStore::Apply(const char* sql, std::string_view event_id, std::int64_t user_pk,
                                            std::string_view what) {
  if (event_id.empty()) return InvalidArgument("event id is empty");
  Result<PgResult> result =
      Exec(sql, {std::string(event_id), std::to_string(user_pk)}, std::string(what) + " " + std::to_string(user_pk));
  if (!result.ok()) return result.status();
  PGresult* r = result->get();
  if (PQntuples(r) != 1 || PQnfields(r) != 2) return Internal(describe_ + ": " + std::string(what) + ": no counts");
  if (std::string_view(PQgetvalue(r, 0, 0)) == "0") return Outcome::kDuplicate;
  return std::string_view(PQgetvalue(r, 0, 1)) == "0" ? Outcome::kNoChange : Outcome::kApplied;
}

Result<Outcome> PostgresProfileStore::CreateForUser(std::string_view event_id, std::int64_t user_pk) {
  return Apply(kCreate, event_id, user_pk, "creating the profile of user");
}

Result<Outcome> PostgresProfileStore::DeleteForUser(std::string_view event_id, std::int64_t user_pk) {
  return Apply(kDelete, event_id, user_pk, "deleting the profile of user");
}

Result<std::int64_t> PostgresProfileStore::ProfileCount() {
  Result<PgResult> result = Exec("SELECT count(*) FROM profile", {}, "counting profiles");
  if (!result.ok()) return result.status();
  if (PQntuples(result->get()) != 1) return Internal(describe_ + ": counting profiles: no row");
  return static_cast<std::int64_t>(std::stoll(PQgetvalue(result->get(), 0, 0)));
}

Result<bool> PostgresProfileStore::HasProfile(std::int64_t user_pk) {
  Result<PgResult> result =
      Exec("SELECT 1 FROM profile WHERE user_id = $1::bigint", {std::to_string(user_pk)}, "looking up a profile");
  if (!result.ok()) return result.status();
  return PQntuples(result->get()) > 0;
}

Result<bool> PostgresProfileStore::WasProcessed(std::string_view event_id) {
  Result<PgResult> result =
      Exec("SELECT 1 FROM processed_event WHERE event_id = $1", {std::string(event_id)}, "looking up an event");
  if (!result.ok()) return result.status();
  return PQntuples(result->get()) > 0;
}

}  // namespace signalbus::profile_creator
