// Test double for the Receiver's transport: an EventSource that plays back a script of
// results and records what the Receiver asked of it. For unit tests without sockets.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "signalbus/core/codec.h"
#include "signalbus/receivers/event_source.h"

namespace signalbus::testing {

// What the source saw; shared so that it outlives the Receiver that owns the source.
struct SourceLog {
  std::vector<std::string> subscribed;                // patterns given to Open()
  std::vector<std::pair<std::string, bool>> settled;  // event id, handled
  bool closed = false;
};

class ScriptedSource final : public EventSource {
 public:
  ScriptedSource(std::deque<Received> script, std::shared_ptr<SourceLog> log)
      : script_(std::move(script)), log_(std::move(log)) {}

  Status Open(const std::vector<TopicPattern>& patterns) override {
    for (const TopicPattern& p : patterns) log_->subscribed.push_back(p.ToString());
    return Status::Ok();
  }
  // The script, one entry per call; then nothing, after waiting out the timeout as an
  // idle socket would.
  Result<Received> Receive(std::chrono::milliseconds timeout) override {
    if (script_.empty()) {
      std::this_thread::sleep_for(timeout);
      return Received{};
    }
    Received next = std::move(script_.front());
    script_.pop_front();
    return next;
  }
  void Settle(const Delivery& delivery, bool handled) override {
    log_->settled.emplace_back(delivery.event.event_id(), handled);
  }
  void Close() override { log_->closed = true; }
  std::string Describe() const override { return "scripted"; }

 private:
  std::deque<Received> script_;
  std::shared_ptr<SourceLog> log_;
};

inline Received EventReceived(v1::Event event) {
  Received r;
  r.kind = Received::Kind::kEvent;
  r.delivery.topic = TopicOf(event);
  r.delivery.event = std::move(event);
  return r;
}

inline Received MalformedReceived(std::string problem = "message with 3 frames") {
  Received r;
  r.kind = Received::Kind::kMalformed;
  r.problem = std::move(problem);
  return r;
}

}  // namespace signalbus::testing
