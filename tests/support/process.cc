// fork/exec child processes for integration tests, with output captured to files.
#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

extern char** environ;

namespace signalbus::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string BinDir() {
  const char* dir = std::getenv("SIGNALBUS_BIN_DIR");
  return dir != nullptr ? dir : ".";
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
    return "/tmp";
  }
  return buf.data();
}

Process::Process(const std::string& program, std::vector<std::string> args, SpawnOptions options) {
  std::string path = program.find('/') == std::string::npos ? BinDir() + "/" + program : program;
  std::string dir = MakeTempDir("sbproc");
  stdout_path_ = dir + "/stdout";
  stderr_path_ = dir + "/stderr";
  std::vector<std::string> argv_storage;
  argv_storage.push_back(path);
  for (auto& a : args) argv_storage.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The environment is built before fork: setenv is not safe in the child of a
  // multi-threaded parent.
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    std::size_t eq = kv.find('=');
    if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& [k, v] : options.env) env_map[k] = v;
  std::vector<std::string> env_storage;
  for (auto& [k, v] : env_map) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) {
    ADD_FAILURE() << "fork failed: " << std::strerror(errno);
    return;
  }
  if (pid_ == 0) {
    // Child: only async-signal-safe calls from here, then exec.
    int in = ::open(options.stdin_file ? options.stdin_file->c_str() : "/dev/null", O_RDONLY);
    int out = ::open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (pid_ > 0 && !status_) Stop(std::chrono::seconds(5));
}

bool Process::Running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = DecodeWaitStatus(status);
    return false;
  }
  return true;
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

void Process::Signal(int signo) {
  if (pid_ > 0 && !status_) ::kill(pid_, signo);
}

int Process::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (status_) return *status_;
  ::kill(pid_, SIGCONT);  // a stopped process cannot act on SIGTERM
  ::kill(pid_, SIGTERM);
  if (auto s = Wait(grace)) return *s;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  status_ = DecodeWaitStatus(status);
  return *status_;
}

std::optional<std::string> Process::WaitForStdoutLine(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::string out = ReadFile(stdout_path_);
    std::size_t start = 0;
    while (true) {
      std::size_t nl = out.find('\n', start);
      if (nl == std::string::npos) break;  // only whole lines count
      std::string line = out.substr(start, nl - start);
      if (line.find(needle) != std::string::npos) return line;
      start = nl + 1;
    }
    if (!Running() || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string Process::Stdout() const { return ReadFile(stdout_path_); }
std::string Process::Stderr() const { return ReadFile(stderr_path_); }

RunResult RunToCompletion(const std::string& program, std::vector<std::string> args,
                          std::chrono::milliseconds timeout, SpawnOptions options) {
  Process p(program, std::move(args), std::move(options));
  RunResult result;
  if (auto status = p.Wait(timeout)) {
    result.exit_code = *status;
  } else {
    ADD_FAILURE() << program << " did not finish within " << timeout.count() << " ms";
    result.exit_code = p.Stop(std::chrono::milliseconds(500));
  }
  result.out = p.Stdout();
  result.err = p.Stderr();
  return result;
}

std::optional<std::string> HttpGet(const std::string& base_url, const std::string& path) {
  httplib::Client client(base_url);
  client.set_connection_timeout(std::chrono::seconds(2));
  client.set_read_timeout(std::chrono::seconds(5));
  auto response = client.Get(path);
  if (!response || response->status != 200) return std::nullopt;
  return response->body;
}

double MetricValue(const std::string& metrics_page, const std::string& sample) {
  std::istringstream in(metrics_page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, sample.size(), sample) == 0 && line.size() > sample.size() && line[sample.size()] == ' ') {
      return std::strtod(line.c_str() + sample.size() + 1, nullptr);
    }
  }
  return -1;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace signalbus::testing
