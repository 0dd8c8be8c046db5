// A publisher written with nothing but a ZeroMQ DEALER and the protos, as any language
// could write one, for integration tests of the real broker: fire-and-forget events (no
// sequence, no session), or the session protocol step by step (hello, events, confirms),
// or any frames at all.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "signalbus/v1/event.pb.h"
#include "signalbus/v1/publish.pb.h"

namespace signalbus::testing {

class RawPublisher {
 public:
  // Connects and waits until the broker has answered the connection's probe, so that
  // nothing sent afterwards meets a connection still being made.
  explicit RawPublisher(const std::string& ingest);
  ~RawPublisher();
  RawPublisher(const RawPublisher&) = delete;
  RawPublisher& operator=(const RawPublisher&) = delete;

  bool connected() const { return connected_; }
  void SendFrames(const std::vector<std::string>& frames);
  // The event as it is ([topic, event]).
  void Send(const v1::Event& event);
  // Fire-and-forget: the event without publisher id and sequence, which needs no session.
  void SendAnonymous(v1::Event event);
  // ["$hello", PublisherHello]; the broker's answer, or nullopt after `timeout`.
  std::optional<v1::SessionReply> Hello(const std::string& publisher_id, std::uint64_t unconfirmed_from,
                                        std::uint64_t next_sequence,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The next [kind, bytes] the broker sends on this connection.
  std::optional<std::pair<std::string, std::string>> Receive(std::chrono::milliseconds timeout);
  // Reads until a confirm with durable_through >= `through` arrives; the last confirm
  // read (rejections of every confirm read are gathered into it), or nullopt.
  std::optional<v1::PublishConfirm> WaitConfirmed(std::uint64_t through,
                                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
  bool connected_ = false;
};

}  // namespace signalbus::testing
