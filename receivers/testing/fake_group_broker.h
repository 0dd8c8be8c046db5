// Test double for the broker's groups endpoint: a real ZeroMQ ROUTER on
// tcp://127.0.0.1:* that the test thread drives by hand, one request and one reply at a
// time, to check what a consumer-group member sends and how it reacts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "signalbus/core/codec.h"
#include "signalbus/core/sockets.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::testing {

class FakeGroupBroker {
 public:
  using Kind = v1::GroupRequest::KindCase;
  static constexpr std::chrono::milliseconds kWait{5000};

  FakeGroupBroker() : router_(MakeSocket(SharedContext(), zmq::socket_type::router)) {
    Result<std::string> endpoint = Bind(router_, "tcp://127.0.0.1:*");
    EXPECT_TRUE(endpoint.ok()) << endpoint.status().ToString();
    if (endpoint.ok()) endpoint_ = *endpoint;
  }
  ~FakeGroupBroker() { router_.close(); }

  const std::string& endpoint() const { return endpoint_; }
  // Heartbeats seen by NextOf().
  int heartbeats() const { return heartbeats_; }

  // The next request from any peer (remembered as the one to reply to), or nullopt
  // after `timeout`.
  std::optional<v1::GroupRequest> Next(std::chrono::milliseconds timeout = kWait) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      zmq::message_t id;
      if (TryRecvFrame(router_, id)) {
        zmq::message_t body;
        EXPECT_TRUE(id.more() && TryRecvFrame(router_, body)) << "a request without a body frame";
        EXPECT_FALSE(body.more()) << "a request of more than one frame";
        peer_ = id.to_string();
        v1::GroupRequest request;
        EXPECT_TRUE(request.ParseFromArray(body.data(), static_cast<int>(body.size()))) << "undecodable request";
        return request;
      }
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return std::nullopt;
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    }
  }

  // The next request of `kind`, skipping heartbeats (answered if answer_heartbeats)
  // and, unless it is the kind wanted, nothing else: any other request fails the test.
  std::optional<v1::GroupRequest> NextOf(Kind kind, bool answer_heartbeats = true,
                                         std::chrono::milliseconds timeout = kWait) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      std::optional<v1::GroupRequest> request =
          Next(std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
      if (!request) break;
      if (request->kind_case() == kind) return request;
      if (request->kind_case() == Kind::kHeartbeat) {
        ++heartbeats_;
        if (answer_heartbeats) {
          v1::GroupReply reply;
          reply.mutable_heartbeat();
          Reply(reply);
        }
        continue;
      }
      ADD_FAILURE() << "expected request kind " << kind << ", got " << request->ShortDebugString();
      return std::nullopt;
    }
    ADD_FAILURE() << "no request of kind " << kind << " arrived";
    return std::nullopt;
  }

  // Sends to the peer of the last request.
  void Reply(const v1::GroupReply& reply) {
    std::string body = reply.SerializeAsString();
    EXPECT_TRUE(router_.send(zmq::buffer(peer_), zmq::send_flags::sndmore));
    EXPECT_TRUE(router_.send(zmq::buffer(body), zmq::send_flags::none));
  }
  void ReplyJoined(const std::string& member_id = "m-1") {
    v1::GroupReply reply;
    reply.mutable_joined()->set_group("g");
    reply.mutable_joined()->set_member_id(member_id);
    reply.mutable_joined()->set_ack_ranges(ack_ranges_);
    Reply(reply);
  }
  // Whether the Joined replies say that this broker takes Ack.ranges (an older broker
  // does not: the member must send refs).
  void set_ack_ranges(bool on) { ack_ranges_ = on; }
  void ReplyError(const std::string& message, bool fatal) {
    v1::GroupReply reply;
    reply.mutable_error()->set_message(message);
    reply.mutable_error()->set_fatal(fatal);
    Reply(reply);
  }
  void ReplyAdmin() {
    v1::GroupReply reply;
    reply.mutable_admin();
    Reply(reply);
  }
  // Expects what a closing member sends last: its Leave, then the heartbeat it uses as a
  // barrier, answered as the broker answers a heartbeat from no member (an error). True
  // when both came.
  bool ConfirmLeave() {
    if (!NextOf(Kind::kLeave).has_value()) return false;
    std::optional<v1::GroupRequest> barrier = Next();
    if (!barrier || barrier->kind_case() != Kind::kHeartbeat) {
      ADD_FAILURE() << "no heartbeat after the Leave";
      return false;
    }
    ReplyError("unknown member; join again", /*fatal=*/true);
    return true;
  }
  // Waits for a Join and answers it; the Join, or nullopt.
  std::optional<v1::Join> AcceptJoin() {
    std::optional<v1::GroupRequest> request = NextOf(Kind::kJoin);
    if (!request) return std::nullopt;
    ReplyJoined();
    return request->join();
  }

  void Deliver(const std::vector<v1::Delivery>& deliveries) {
    v1::GroupReply reply;
    for (const v1::Delivery& d : deliveries) *reply.mutable_deliveries()->add_deliveries() = d;
    Reply(reply);
  }

 private:
  zmq::socket_t router_;
  std::string endpoint_;
  std::string peer_;
  int heartbeats_ = 0;
  bool ack_ranges_ = false;
};

inline v1::Delivery DeliveryOf(std::uint64_t offset, std::uint32_t attempt, const v1::Event& event) {
  v1::Delivery d;
  d.set_offset(offset);
  d.set_attempt(attempt);
  d.set_topic(TopicOf(event));
  d.set_event(EncodeEvent(event));
  return d;
}

// (offset, attempt) pairs of an Ack, for comparisons.
inline std::vector<std::pair<std::uint64_t, std::uint32_t>> Refs(const v1::Ack& ack) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> out;
  for (const v1::DeliveryRef& ref : ack.deliveries()) out.emplace_back(ref.offset(), ref.attempt());
  return out;
}

}  // namespace signalbus::testing
