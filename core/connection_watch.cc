// ZeroMQ's socket monitor, read as "up" and "down".
#include "signalbus/core/connection_watch.h"

#include <cstdint>
#include <cstring>

#include "signalbus/core/sockets.h"

namespace signalbus {
namespace {

std::string NextMonitorEndpoint() {
  static std::atomic<std::uint64_t> counter{0};
  return "inproc://signalbus-connection-watch-" + std::to_string(++counter);
}

}  // namespace

ConnectionWatch::ConnectionWatch(zmq::context_t& context, zmq::socket_t& socket)
    : watched_(socket), events_(context, zmq::socket_type::pair) {
  const std::string endpoint = NextMonitorEndpoint();
  if (zmq_socket_monitor(watched_.handle(), endpoint.c_str(), ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) !=
      0) {
    throw zmq::error_t();
  }
  events_.set(zmq::sockopt::linger, 0);
  events_.connect(endpoint);
}

ConnectionWatch::~ConnectionWatch() {
  (void)zmq_socket_monitor(watched_.handle(), nullptr, 0);
  events_.close();
}

ConnectionWatch::Change ConnectionWatch::Drain() {
  Change change = Change::kNone;
  zmq::message_t frame;
  while (TryRecvFrame(events_, frame)) {
    // [uint16 event, uint32 value] then the endpoint, as zmq_socket_monitor(3) says.
    std::uint16_t event = 0;
    if (frame.size() >= sizeof event) std::memcpy(&event, frame.data(), sizeof event);
    for (bool more = frame.more(); more && TryRecvFrame(events_, frame);) more = frame.more();
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      up_ = true;
      change = Change::kUp;
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
      up_ = false;
      change = Change::kDown;
    }
  }
  return change;
}

}  // namespace signalbus
