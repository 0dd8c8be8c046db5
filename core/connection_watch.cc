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
  if (zmq_socket_monitor(watched_.handle(), endpoint.c_str(), ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                                                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
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
    std::uint32_t value = 0;
    if (frame.size() >= sizeof event + sizeof value) {
      std::memcpy(&event, frame.data(), sizeof event);
      std::memcpy(&value, static_cast<const char*>(frame.data()) + sizeof event, sizeof value);
    }
    for (bool more = frame.more(); more && TryRecvFrame(events_, frame);) more = frame.more();
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      up_ = true;
      refusal_.clear();
      change = Change::kUp;
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
      up_ = false;
      if (change != Change::kRefused) change = Change::kDown;
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
               event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      up_ = false;
      refusal_ = DescribeHandshakeFailure(event, value);
      change = Change::kRefused;
    }
  }
  return change;
}

std::string DescribeHandshakeFailure(int event, std::uint32_t value) {
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    return "the broker refused this client's CURVE key (ZAP status " + std::to_string(value) +
           "): it is not in the broker's allow-list";
  }
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
      return "handshake failed: this client and the broker disagree on security (one uses CURVE, the other not)";
    }
    return "handshake failed (ZMTP protocol error " + std::to_string(value) + ")";
  }
  // A CURVE server that cannot decrypt our hello (we pinned another key) just closes.
  return "handshake failed (" + std::string(zmq_strerror(static_cast<int>(value))) +
         "): is the pinned --curve-server-key this broker's public key?";
}

}  // namespace signalbus
