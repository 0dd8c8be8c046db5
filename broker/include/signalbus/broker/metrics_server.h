// The broker's HTTP endpoint for monitoring: GET /metrics (Prometheus text format)
// and GET /healthz ("ok"), served by cpp-httplib on threads of its own so that a slow
// scraper never touches the poll loop. Shutdown signals are blocked on those threads:
// SIGINT/SIGTERM always wake the poll thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "signalbus/broker/metrics.h"
#include "signalbus/core/status.h"

namespace httplib {
class Server;
}

namespace signalbus::broker {

inline constexpr std::string_view kMetricsOff = "off";
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4";

struct MetricsAddress {
  std::string host;
  int port = 0;  // 0: any free port
};

// "host:port" (port 0 for any free port; "[::1]:9100" for IPv6). "off" is not an
// address: callers check for it first.
Result<MetricsAddress> ParseMetricsAddress(std::string_view text);

// Thread-safe Start/Stop from one owner thread. `metrics` must outlive the server.
class MetricsServer {
 public:
  explicit MetricsServer(const Metrics& metrics);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts serving; returns once the server accepts connections.
  Status Start(const MetricsAddress& address);
  // The port actually bound. REQUIRES: Start() succeeded.
  int port() const { return port_; }
  // "http://host:port". REQUIRES: Start() succeeded.
  std::string url() const;
  // Idempotent.
  void Stop();

 private:
  const Metrics& metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
  std::string host_;
  int port_ = 0;
};

}  // namespace signalbus::broker
