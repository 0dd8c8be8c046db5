// The one place signalbus creates ZeroMQ sockets. Limits (high-water marks, maximum
// message size, linger, handshake time) and CURVE are applied here, once for every
// socket of every program.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <zmq.hpp>

#include "signalbus/core/curve_keys.h"
#include "signalbus/core/status.h"

namespace signalbus {

// Every CURVE server socket asks the ZAP handler of its context about each client, in
// this domain, and with ZMQ_ZAP_ENFORCE_DOMAIN set: with no handler running, no client
// gets in (docs/security.md).
inline constexpr const char* kZapDomain = "signalbus";

// CURVE for one socket. A server needs its secret key; a client its own pair and the
// server's public key, which it pins: a server holding another key is refused.
struct CurveSecurity {
  bool server = false;
  CurveKeyPair keys;
  std::string server_key;  // clients only
  // Servers, while their key is rotated: the next key pair, served on next_endpoint beside
  // the current key on the socket's own endpoint (ZeroMQ copies a socket's security
  // options into each listener when it binds). docs/security.md, "Rotating the broker's key".
  std::optional<CurveKeyPair> next_keys;
  std::string next_endpoint;
};

// A security option that could not be set, or did not read back as set. Thrown by
// MakeSocket: a socket that would be less protected than asked is never returned.
class SocketSecurityError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SocketOptions {
  int send_hwm = 100'000;
  int recv_hwm = 100'000;
  // Connections that send a larger frame are dropped by ZeroMQ itself. -1: no limit.
  std::int64_t max_frame_bytes = -1;
  // How long close() may wait to send what is queued.
  std::chrono::milliseconds linger{0};
  // How long a blocking send may wait before reporting would-block. -1: forever.
  std::chrono::milliseconds send_timeout{-1};
  // Reconnect back-off after a connection is lost.
  std::chrono::milliseconds reconnect_interval{100};
  std::chrono::milliseconds reconnect_interval_max{2000};
  // How long a new connection may take to finish its handshake before it is dropped
  // (ZeroMQ's default is 30 s: a peer that connects and says nothing holds a slot).
  std::chrono::milliseconds handshake_interval{5000};
  // nullopt: no security mechanism (NULL), for loopback and ipc:// in a private directory.
  std::optional<CurveSecurity> curve;
};

// The process-wide ZeroMQ context. Lives until exit.
zmq::context_t& SharedContext();

// Throws zmq::error_t, or SocketSecurityError when `options.curve` cannot be applied
// exactly (no CURVE in this libzmq, a key refused, an option that reads back otherwise).
zmq::socket_t MakeSocket(zmq::context_t& context, zmq::socket_type type,
                         const SocketOptions& options = {});

// Binds and returns the endpoint actually bound (the port chosen for "tcp://host:*").
Result<std::string> Bind(zmq::socket_t& socket, const std::string& endpoint);

// What a server socket bound: its endpoint, and the one of its next key (empty when none).
struct BoundEndpoints {
  std::string endpoint;
  std::string next_endpoint;
};
// Binds a server socket made with `curve`: `endpoint` with its key and then, when `curve`
// has a next key, curve->next_endpoint with that one (its options set and read back as
// MakeSocket does). Call once, after every other option is set: later binds would get the
// next key.
Result<BoundEndpoints> BindServer(zmq::socket_t& socket, const std::string& endpoint,
                                  const std::optional<CurveSecurity>& curve);
Status Connect(zmq::socket_t& socket, const std::string& endpoint);

// Non-blocking receive of one frame that retries EINTR. False when nothing is waiting.
// ZeroMQ hands over a multipart message atomically, so once its first frame was read
// the others are already there; retrying EINTR keeps a reader from losing its place in
// the middle of one. Other errors throw zmq::error_t.
bool TryRecvFrame(zmq::socket_t& socket, zmq::message_t& frame);

}  // namespace signalbus
