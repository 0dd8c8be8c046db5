// The one place signalbus creates ZeroMQ sockets. Limits (high-water marks, maximum
// message size, linger) are applied here, so later security options are added once
// for every socket of every program.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <zmq.hpp>

#include "signalbus/core/status.h"

namespace signalbus {

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
};

// The process-wide ZeroMQ context. Lives until exit.
zmq::context_t& SharedContext();

zmq::socket_t MakeSocket(zmq::context_t& context, zmq::socket_type type,
                         const SocketOptions& options = {});

// Binds and returns the endpoint actually bound (the port chosen for "tcp://host:*").
Result<std::string> Bind(zmq::socket_t& socket, const std::string& endpoint);
Status Connect(zmq::socket_t& socket, const std::string& endpoint);

// Non-blocking receive of one frame that retries EINTR. False when nothing is waiting.
// ZeroMQ hands over a multipart message atomically, so once its first frame was read
// the others are already there; retrying EINTR keeps a reader from losing its place in
// the middle of one. Other errors throw zmq::error_t.
bool TryRecvFrame(zmq::socket_t& socket, zmq::message_t& frame);

}  // namespace signalbus
