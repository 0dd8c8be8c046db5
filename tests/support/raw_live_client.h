// A DEALER that speaks the live protocol (proto/signalbus/v1/live.proto) by hand, for
// tests that play a listener the broker must cope with: a good one, a slow one, or a
// wrong one. Nothing is automatic: marks are credited, heartbeats sent, only when the
// test says so.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "signalbus/v1/live.pb.h"

namespace signalbus::testing {

class RawLiveClient {
 public:
  // Connects to the broker's live endpoint (the connection is up once a reply arrives).
  explicit RawLiveClient(const std::string& endpoint);
  ~RawLiveClient();
  RawLiveClient(const RawLiveClient&) = delete;
  RawLiveClient& operator=(const RawLiveClient&) = delete;

  // Sends frames as they are (blocking up to 5 s for a connection). False if not sent.
  bool SendFrames(const std::vector<std::string>& frames);
  bool Send(const v1::LiveRequest& request);
  bool Subscribe(const std::vector<std::string>& patterns, std::uint64_t window_bytes = 0,
                 std::uint32_t heartbeat_ms = 0);
  bool Unsubscribe(const std::vector<std::string>& patterns);
  bool Credit(std::uint64_t mark);
  bool Heartbeat();

  // One message from the broker: an event (two frames: topic, event) or a reply.
  struct Message {
    std::vector<std::string> frames;
    bool is_event() const { return frames.size() == 2; }
    // Set when the message is one frame that parses as a LiveReply.
    std::optional<v1::LiveReply> reply;
  };
  // The next message, waiting up to `timeout`.
  std::optional<Message> Next(std::chrono::milliseconds timeout);
  // Skips events and marks until a reply of the given kind arrives (crediting nothing).
  std::optional<v1::LiveReply> NextReplyOfKind(v1::LiveReply::KindCase kind, std::chrono::milliseconds timeout);

  void Close();

 private:
  zmq::socket_t socket_;
};

}  // namespace signalbus::testing
