// The broker's ZAP handler (ZeroMQ RFC 27): a thread that answers libzmq's question
// "may this client in?" for every CURVE server socket of the broker's ZeroMQ context.
// A client key in the current allow-list gets in, and its messages carry the key (Z85)
// as their User-Id property; any other key, and any other mechanism, is refused.
//
// It fails closed: every server socket sets ZMQ_ZAP_ENFORCE_DOMAIN (core/sockets.h), so
// when this handler is not running — never started, stopped, or its thread failed —
// libzmq refuses every new connection rather than let it in unauthenticated.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include <zmq.hpp>

#include "signalbus/auth/allow_list.h"
#include "signalbus/core/status.h"

namespace signalbus::auth {

inline constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

class ZapHandler {
 public:
  explicit ZapHandler(zmq::context_t& context);
  ~ZapHandler();  // Stop()
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Binds the ZAP endpoint and starts answering. Call before any server socket of the
  // context binds. Fails when another handler holds the endpoint.
  Status Start(std::shared_ptr<const AllowList> list);
  // The list later handshakes are checked against (connections already in are the
  // broker's to re-check, message by message).
  void Replace(std::shared_ptr<const AllowList> list);
  // False before Start and once the thread has stopped (Stop() or a failure): from then
  // on no new client gets in.
  bool running() const { return running_.load(std::memory_order_acquire); }
  // Stops answering and closes the endpoint. Idempotent.
  void Stop();

  std::uint64_t allowed() const { return allowed_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  void Serve();
  // One request's reply: [version, request id, status, text, user id, metadata].
  void Answer(std::vector<zmq::message_t>& request);

  zmq::context_t& context_;
  zmq::socket_t socket_;
  std::thread thread_;
  std::mutex mutex_;
  std::shared_ptr<const AllowList> list_;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> allowed_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace signalbus::auth
