// A real PostgreSQL 15 server for tests (Debian's, from /usr/lib/postgresql/15/bin): a
// cluster made by initdb in a fresh temporary directory, the `postgres` binary run as a
// child process, listening on a unix socket in that directory only (no TCP port), trust
// authentication, and one database made for the test. Stopped by its pid.
//
// PostgreSQL refuses to run as root: when the test runs as root, the directory is given
// to the `postgres` user and initdb and the server run under it (setpriv, which execs,
// so the pid is the server's own).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "process.h"

namespace signalbus::testing {

class PostgresServer {
 public:
  // initdb, Start(), CREATE DATABASE. On failure ready() is false and error() says why in
  // one line (a test failure has been added too).
  PostgresServer();
  // Stop(), then removes the directory.
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool ready() const { return ready_; }
  const std::string& error() const { return error_; }
  // postgresql:///<db>?host=<dir>&port=<n>&user=<superuser>: the test's database.
  std::string uri() const { return UriFor(database_); }
  std::string UriFor(const std::string& database) const;
  // The same as key=value conninfo: "dbname=<db> host=<dir> port=<n> user=<superuser>".
  std::string Conninfo() const;
  const std::string& database() const { return database_; }
  pid_t pid() const { return server_ != nullptr ? server_->pid() : -1; }

  // Fast shutdown (SIGINT to the pid), waited for; SIGKILL after a bound. Returns
  // whether the server was running.
  bool Stop();
  // Starts the server again on the same cluster and socket, and waits until it accepts
  // connections (PQping, bounded). Returns ready().
  bool Start();

 private:
  bool Fail(const std::string& why);
  // Runs a PostgreSQL program to completion, as the postgres user when we are root.
  bool RunTool(const std::string& tool, std::vector<std::string> args, const std::string& what);
  std::vector<std::string> Command(const std::string& tool, std::vector<std::string> args) const;

  std::string dir_;  // socket directory, holds data/ too
  std::string data_dir_;
  std::string database_ = "signalbus_test";
  int port_ = 5432;  // only names the socket file: .s.PGSQL.<port>
  bool as_postgres_ = false;
  bool ready_ = false;
  std::string error_;
  std::unique_ptr<Process> server_;
};

}  // namespace signalbus::testing
