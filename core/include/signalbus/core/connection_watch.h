// Whether a connecting socket has a live connection, from ZeroMQ's socket monitor: a
// handshake that succeeded means up, a disconnect means down, a handshake that failed
// means the broker refused us (a CURVE key it does not know, a pinned key that is not
// the broker's): a client says so instead of waiting. A publisher's session lives and
// dies with its connection, and "broker unreachable" should say so.
//
// Not thread-safe: used on the thread that owns the watched socket.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <zmq.hpp>

namespace signalbus {

class ConnectionWatch {
 public:
  enum class Change { kNone, kUp, kDown, kRefused };

  // Starts monitoring `socket` (before it connects, so no event is missed). Both must be
  // in `context`; the watch must be destroyed before the socket is closed.
  ConnectionWatch(zmq::context_t& context, zmq::socket_t& socket);
  ~ConnectionWatch();
  ConnectionWatch(const ConnectionWatch&) = delete;
  ConnectionWatch& operator=(const ConnectionWatch&) = delete;

  // For zmq::poll: readable when events are waiting.
  zmq::socket_t& socket() { return events_; }
  // Reads what is waiting; the last change it saw, or kNone.
  Change Drain();
  bool up() const { return up_; }
  // Why the last handshake failed ("" if none has, or one succeeded since): what a
  // client's error says.
  const std::string& refusal() const { return refusal_; }

 private:
  zmq::socket_t& watched_;
  zmq::socket_t events_;
  bool up_ = false;
  std::string refusal_;
};

// The text for a failed handshake's monitor event and value.
std::string DescribeHandshakeFailure(int event, std::uint32_t value);

}  // namespace signalbus
