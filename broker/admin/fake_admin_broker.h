// Test double for the broker's groups endpoint, admin side: a real ZeroMQ ROUTER on
// tcp://127.0.0.1:* that takes one request at a time and answers what the test says.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "signalbus/core/sockets.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::admin::testing {

class FakeAdminBroker {
 public:
  FakeAdminBroker() : router_(MakeSocket(SharedContext(), zmq::socket_type::router)) {
    Result<std::string> endpoint = Bind(router_, "tcp://127.0.0.1:*");
    EXPECT_TRUE(endpoint.ok()) << endpoint.status().ToString();
    if (endpoint.ok()) endpoint_ = *endpoint;
  }
  ~FakeAdminBroker() { router_.close(); }

  const std::string& endpoint() const { return endpoint_; }

  // The next request, or nullopt after `timeout`.
  std::optional<v1::GroupRequest> Next(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      zmq::message_t id;
      if (TryRecvFrame(router_, id)) {
        zmq::message_t body;
        EXPECT_TRUE(id.more() && TryRecvFrame(router_, body));
        peer_ = id.to_string();
        v1::GroupRequest request;
        EXPECT_TRUE(request.ParseFromArray(body.data(), static_cast<int>(body.size())));
        return request;
      }
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return std::nullopt;
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    }
  }

  // Answers the last request's peer.
  void Reply(const v1::GroupReply& reply) {
    std::string body = reply.SerializeAsString();
    EXPECT_TRUE(router_.send(zmq::buffer(peer_), zmq::send_flags::sndmore));
    EXPECT_TRUE(router_.send(zmq::buffer(body), zmq::send_flags::none));
  }
  void ReplyAdmin(const v1::AdminReply& admin) {
    v1::GroupReply reply;
    *reply.mutable_admin() = admin;
    Reply(reply);
  }

 private:
  zmq::socket_t router_;
  std::string endpoint_;
  std::string peer_;
};

inline v1::GroupInfo SampleGroup(const std::string& name) {
  v1::GroupInfo g;
  g.set_name(name);
  g.add_subscriptions("auth.User/post_save");
  g.add_subscriptions("auth.User/post_delete");
  g.set_members(2);
  g.set_head_offset(1000);
  g.set_ack_floor(990);
  g.set_lag(4);
  g.set_pending(6);
  g.set_redelivered(3);
  g.set_dead_lettered(1);
  g.set_acked(989);
  return g;
}

}  // namespace signalbus::admin::testing
