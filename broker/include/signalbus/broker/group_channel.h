// The consumer-group channel: the ROUTER socket members and signalbus-admin connect to
// with DEALER sockets. It frames and parses (one GroupRequest per message, one
// GroupReply back) and hands requests to the groups::Coordinator; the coordinator's
// replies and deliveries go out through Send().
//
//   receivers (DEALER) <--> GroupChannel (ROUTER) <--> groups::Coordinator <-- durable log
//
// Not thread-safe: the poll thread only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "signalbus/broker/metrics.h"
#include "signalbus/core/status.h"
#include "signalbus/groups/coordinator.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::broker {

class GroupChannel {
 public:
  GroupChannel(zmq::context_t& context, std::string endpoint);
  Status Bind();
  // REQUIRES: Bind() succeeded.
  const std::string& endpoint() const { return bound_endpoint_; }
  zmq::socket_t& socket() { return socket_; }
  // Where requests go. Must be set before Drain().
  void set_coordinator(groups::Coordinator* coordinator) { coordinator_ = coordinator; }
  // Handles up to `budget` waiting requests. Malformed ones are answered with a
  // GroupError and counted by the coordinator's bad_requests; nothing a peer sends
  // throws. Returns how many messages were read.
  std::size_t Drain(std::size_t budget, groups::TimePoint now);
  // Sends one reply to a peer. A peer that is gone or whose queue is full loses it; the
  // coordinator's timers (ack timeout, heartbeats) recover from that.
  void Send(std::string_view peer, const v1::GroupReply& reply);
  std::uint64_t malformed() const { return malformed_; }
  void Close();

 private:
  zmq::context_t& context_;
  std::string endpoint_;
  std::string bound_endpoint_;
  zmq::socket_t socket_;
  groups::Coordinator* coordinator_ = nullptr;
  std::uint64_t malformed_ = 0;
  std::string send_buffer_;
};

}  // namespace signalbus::broker
