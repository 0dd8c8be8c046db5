// The consumer-group channel: the ROUTER socket members and signalbus-admin connect to
// with DEALER sockets. It frames and parses (one GroupRequest per message, one
// GroupReply back), lets through only what the sender's principal may ask
// (group_grants.h), and hands requests to the groups::Coordinator; the coordinator's
// replies and deliveries go out through Send().
//
//   receivers (DEALER) <--> GroupChannel (ROUTER) <--> groups::Coordinator <-- durable log
//
// What one connection can make the broker hold here (docs/consumer-groups.md, "Memory
// per connection"): inbound, kRequestQueue complete requests of at most
// kMaxRequestBytes each (ZeroMQ's RCVHWM and MAXMSGSIZE; libzmq 4.3.4 itself holds a
// message of many frames whole before the first frame is readable, which nothing but
// the connection's end bounds); outbound, `peer_queue` replies (ZeroMQ's SNDHWM): past
// that a reply is dropped and counted, never queued.
//
// Not thread-safe: the poll thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "signalbus/broker/access_control.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/sockets.h"
#include "signalbus/core/status.h"
#include "signalbus/groups/coordinator.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::broker {

class GroupChannel {
 public:
  // Largest request frame: a Join with a thousand 255-byte patterns fits, and so do
  // 100,000 patterns, which are then refused with a reason rather than by a dropped
  // connection. A larger frame makes libzmq close the connection before reading it.
  static constexpr std::int64_t kMaxRequestBytes = 4 << 20;
  // Complete requests queued per connection before libzmq stops reading it.
  static constexpr int kRequestQueue = 4;
  // Default replies queued per connection (--groups-peer-queue).
  static constexpr int kDefaultPeerQueue = 100;

  // `access` must outlive the channel; `curve`: CURVE server (docs/security.md), or none.
  GroupChannel(zmq::context_t& context, std::string endpoint, AccessControl& access,
               std::optional<CurveSecurity> curve = std::nullopt, int peer_queue = kDefaultPeerQueue);
  Status Bind();
  // REQUIRES: Bind() succeeded.
  const std::string& endpoint() const { return bound_endpoint_; }
  // The endpoint of the next CURVE key, while it is rotated; else empty.
  const std::string& next_endpoint() const { return bound_next_endpoint_; }
  zmq::socket_t& socket() { return socket_; }
  // Where requests go. Must be set before Drain().
  void set_coordinator(groups::Coordinator* coordinator) { coordinator_ = coordinator; }
  // Reads up to `budget` frames, handling each request. A message that is not one
  // GroupRequest frame is answered with a GroupError and counted (malformed()); one of
  // many frames is read and released a frame at a time, across calls if need be.
  // Nothing a peer sends throws. Returns how many frames were read.
  std::size_t Drain(std::size_t budget, groups::TimePoint now);
  // After the allow-list was reloaded: members whose key is gone, or whose principal may no
  // longer join their group or read one of their subscriptions, are expelled (told
  // "forbidden", what they held goes to the others) and the refusals counted.
  void Reauthorize(groups::TimePoint now);
  // Sends one reply to a peer. A peer that is gone or whose queue is full loses it
  // (counted in replies_dropped()); the coordinator's timers (ack timeout, heartbeats)
  // recover from that.
  void Send(std::string_view peer, const v1::GroupReply& reply);
  std::uint64_t malformed() const { return malformed_; }
  std::uint64_t replies_dropped() const { return replies_dropped_; }
  void Close();

 private:
  void Malformed(std::string_view why, groups::TimePoint now);

  zmq::context_t& context_;
  std::string endpoint_;
  AccessControl& access_;
  std::optional<CurveSecurity> curve_;
  int peer_queue_;
  std::string bound_endpoint_;
  std::string bound_next_endpoint_;
  zmq::socket_t socket_;
  groups::Coordinator* coordinator_ = nullptr;
  std::uint64_t malformed_ = 0;
  std::uint64_t replies_dropped_ = 0;
  std::string send_buffer_;
  // A message of more than two frames being skipped: its peer and what was read of it.
  bool skipping_ = false;
  std::string skipped_peer_;
  std::uint64_t skipped_frames_ = 0;
  std::uint64_t skipped_bytes_ = 0;
  RateLimiter log_limiter_{5, 20};
};

}  // namespace signalbus::broker
