// One short libpq connection per query: tests read what a receiver wrote.
#include "postgres_query.h"

#include <libpq-fe.h>

#include <cstdlib>

namespace signalbus::testing {
namespace {

std::vector<std::string> Column(const std::string& uri, const std::string& sql, bool* ok) {
  std::vector<std::string> out;
  *ok = false;
  PGconn* conn = PQconnectdb(uri.c_str());
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQnfields(result) >= 1) {
      *ok = true;
      for (int row = 0; row < PQntuples(result); ++row) out.emplace_back(PQgetvalue(result, row, 0));
    }
    PQclear(result);
  }
  PQfinish(conn);
  return out;
}

}  // namespace

long long PgQueryCount(const std::string& uri, const std::string& sql) {
  bool ok = false;
  std::vector<std::string> column = Column(uri, sql, &ok);
  if (!ok || column.empty()) return -1;
  return std::strtoll(column.front().c_str(), nullptr, 10);
}

std::vector<std::string> PgQueryColumn(const std::string& uri, const std::string& sql) {
  bool ok = false;
  return Column(uri, sql, &ok);
}

}  // namespace signalbus::testing
