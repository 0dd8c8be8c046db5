// LiveSource: an EventSource on the broker's live fan-out (its XPUB endpoint). Each
// message is two frames [topic, serialized signalbus.v1.Event]. Subscribes with the
// patterns' byte prefixes, so it delivers a superset of the matching topics. At-most-once:
// what is published while it is not connected is not seen.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "signalbus/core/codec.h"
#include "signalbus/receivers/event_source.h"

namespace signalbus {

class LiveSource final : public EventSource {
 public:
  // endpoint: the broker's live endpoint, e.g. tcp://127.0.0.1:5556. Events larger
  // than max_event_bytes are dropped as malformed.
  explicit LiveSource(std::string endpoint, std::size_t max_event_bytes = kDefaultMaxEventBytes);
  ~LiveSource() override;

  Status Open(const std::vector<TopicPattern>& patterns) override;
  Result<Received> Receive(std::chrono::milliseconds timeout) override;
  // Forgets the event: at-most-once.
  void Settle(const Delivery& delivery, bool handled, std::string_view error) override {}
  // Nothing is ever in hand: Receive() returns kDrained from now on.
  void Drain() override;
  void Close() override;
  std::string Describe() const override;

  // The ZeroMQ prefixes subscribed to by Open(): one per pattern, minus those another
  // prefix already covers. Exposed for tests and logs.
  static std::vector<std::string> SubscriptionPrefixes(const std::vector<TopicPattern>& patterns);

 private:
  std::string endpoint_;
  std::size_t max_event_bytes_;
  std::optional<zmq::socket_t> socket_;
  bool draining_ = false;
};

}  // namespace signalbus
