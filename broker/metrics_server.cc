// /metrics and /healthz over cpp-httplib.
#include "signalbus/broker/metrics_server.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "signalbus/core/logging.h"

namespace signalbus::broker {
namespace {

// Two workers: a scraper holding a keep-alive connection leaves one for everyone else.
constexpr std::size_t kWorkerThreads = 2;
constexpr auto kStartTimeout = std::chrono::seconds(5);

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace

Result<MetricsAddress> ParseMetricsAddress(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("metrics address '" + Printable(text) + "' " + std::string(why) +
                           " (expected host:port, port 0 for any, or off)");
  };
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return bad("has no host");
  if (port.empty() || port.size() > 5) return bad("has a bad port");
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("has a bad port");
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return bad("has a port out of range");
  return MetricsAddress{std::string(host), value};
}

MetricsServer::MetricsServer(const Metrics& metrics) : metrics_(metrics) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const MetricsAddress& address) {
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // httplib's default is SO_REUSEPORT, which lets a second broker bind the same port
  // and silently share its scrapes. SO_REUSEADDR alone still allows a quick restart.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_.RenderPrometheus(), kPrometheusContentType);
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });

  std::string where = address.host + ":" + std::to_string(address.port);
  errno = 0;
  if (address.port == 0) {
    port_ = server_->bind_to_any_port(address.host);
  } else {
    port_ = server_->bind_to_port(address.host, address.port) ? address.port : -1;
  }
  if (port_ <= 0) {
    int error = errno;
    server_.reset();
    return Unavailable("cannot bind http://" + where + " for metrics" +
                       (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
  }
  host_ = address.host;

  finished_ = false;
  thread_ = std::thread([this] {
    BlockShutdownSignals();  // the worker threads it creates inherit the mask
    server_->listen_after_bind();
    finished_ = true;
  });
  // stop() is a no-op until the accept loop runs, so Stop() would hang on join if
  // called before; wait for it here, where a bounded wait is cheap (start-up).
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!server_->is_running() && !finished_) {
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_->is_running()) {
    Stop();
    return Internal("metrics server on " + where + " did not start");
  }
  return Status::Ok();
}

std::string MetricsServer::url() const {
  bool ipv6 = host_.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

void MetricsServer::Stop() {
  if (!server_) return;
  if (thread_.joinable()) {
    // is_running() turns true once the accept loop starts; if it never did, the thread
    // has returned already (finished_) and there is nothing to stop.
    while (!finished_ && !server_->is_running()) std::this_thread::yield();
    server_->stop();
    thread_.join();
  }
  server_.reset();
}

}  // namespace signalbus::broker
