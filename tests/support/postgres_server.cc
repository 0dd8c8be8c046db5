// initdb, the postgres binary as a child process, readiness by PQping, stop by pid.
#include "postgres_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

namespace signalbus::testing {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kSetpriv = "/usr/bin/setpriv";
constexpr const char* kSuperuser = "signalbus";
constexpr const char* kServerUser = "postgres";  // who runs the server when we are root
constexpr std::chrono::seconds kStartBound{30};
constexpr std::chrono::seconds kStopBound{10};

// The last non-empty line of a program's output: what went wrong, usually.
std::string LastLine(const std::string& text) {
  std::size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "(no output)";
  std::size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

PostgresServer::PostgresServer() {
  for (const char* tool : {"initdb", "postgres"}) {
    std::string path = std::string(kBinDir) + "/" + tool;
    if (::access(path.c_str(), X_OK) != 0) {
      Fail("PostgreSQL 15 is not installed: no " + path + " (apt-get install postgresql-15, see scripts/install-deps)");
      return;
    }
  }
  dir_ = MakeTempDir("sbpg");
  data_dir_ = dir_ + "/data";
  as_postgres_ = ::geteuid() == 0;
  if (as_postgres_) {
    const struct passwd* pw = ::getpwnam(kServerUser);
    if (pw == nullptr) {
      Fail("running as root, and there is no 'postgres' user to run PostgreSQL as");
      return;
    }
    if (::access(kSetpriv, X_OK) != 0) {
      Fail(std::string("running as root, and there is no ") + kSetpriv + " to run PostgreSQL as 'postgres'");
      return;
    }
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      Fail("cannot give " + dir_ + " to the postgres user: " + std::strerror(errno));
      return;
    }
  }
  // --no-sync and fsync=off below: a test cluster need not survive power loss.
  if (!RunTool("initdb",
               {"-D", data_dir_, "-A", "trust", "-U", kSuperuser, "-E", "UTF8", "--locale=C", "--no-sync",
                "--no-instructions"},
               "initdb")) {
    return;
  }
  if (!Start()) return;
  PGconn* conn = PQconnectdb(UriFor("postgres").c_str());
  bool created = false;
  std::string why;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, ("CREATE DATABASE " + database_).c_str());
    created = PQresultStatus(result) == PGRES_COMMAND_OK;
    if (!created) why = PQresultErrorMessage(result);
    PQclear(result);
  } else {
    why = PQerrorMessage(conn);
  }
  PQfinish(conn);
  if (!created) Fail("CREATE DATABASE " + database_ + ": " + LastLine(why));
}

PostgresServer::~PostgresServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string PostgresServer::UriFor(const std::string& database) const {
  return "postgresql:///" + database + "?host=" + dir_ + "&port=" + std::to_string(port_) + "&user=" + kSuperuser;
}

std::string PostgresServer::Conninfo() const {
  return "dbname=" + database_ + " host=" + dir_ + " port=" + std::to_string(port_) + " user=" + kSuperuser;
}

bool PostgresServer::Fail(const std::string& why) {
  ready_ = false;
  error_ = why;
  ADD_FAILURE() << "PostgresServer: " << why;
  return false;
}

std::vector<std::string> PostgresServer::Command(const std::string& tool, std::vector<std::string> args) const {
  std::vector<std::string> command;
  if (as_postgres_) {
    command = {kSetpriv, std::string("--reuid=") + kServerUser, std::string("--regid=") + kServerUser, "--init-groups"};
  }
  command.push_back(std::string(kBinDir) + "/" + tool);
  for (std::string& a : args) command.push_back(std::move(a));
  return command;
}

bool PostgresServer::RunTool(const std::string& tool, std::vector<std::string> args, const std::string& what) {
  std::vector<std::string> command = Command(tool, std::move(args));
  std::string program = command.front();
  command.erase(command.begin());
  RunResult r = RunToCompletion(program, std::move(command), std::chrono::seconds(60));
  if (r.exit_code != 0) {
    return Fail(what + " exited " + std::to_string(r.exit_code) + ": " + LastLine(r.err.empty() ? r.out : r.err));
  }
  return true;
}

bool PostgresServer::Start() {
  if (server_ != nullptr && server_->Running()) return ready_;
  std::vector<std::string> command =
      Command("postgres", {"-D", data_dir_, "-k", dir_, "-p", std::to_string(port_), "-c", "listen_addresses=", "-c",
                           "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"});
  std::string program = command.front();
  command.erase(command.begin());
  server_ = std::make_unique<Process>(program, std::move(command));
  // Ready once it accepts a connection; starting up or recovering answers REJECT.
  const std::string uri = UriFor("postgres");
  const auto deadline = std::chrono::steady_clock::now() + kStartBound;
  while (PQping(uri.c_str()) != PQPING_OK) {
    if (!server_->Running()) {
      return Fail("postgres exited at start: " + LastLine(server_->Stderr()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Fail("postgres did not accept connections within " + std::to_string(kStartBound.count()) +
                  " s: " + LastLine(server_->Stderr()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ready_ = true;
  return true;
}

bool PostgresServer::Stop() {
  ready_ = false;
  if (server_ == nullptr || !server_->Running()) return false;
  server_->Signal(SIGINT);  // fast shutdown: disconnects clients, writes a checkpoint
  if (!server_->Wait(kStopBound)) server_->Stop(std::chrono::milliseconds(0));  // SIGKILL
  return true;
}

}  // namespace signalbus::testing
