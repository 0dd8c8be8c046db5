// Test double for the Receiver's transport: an EventSource that plays back a script of
// results and records what the Receiver asked of it. For unit tests without sockets.
#pragma once

#include <chrono>
#include <deque>
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "signalbus/core/codec.h"
#include "signalbus/receivers/event_source.h"

namespace signalbus::testing {

// One Settle() call.
struct Settled {
  std::string event_id;
  bool handled = false;
  std::string error;
  bool operator==(const Settled&) const = default;
};
inline std::ostream& operator<<(std::ostream& out, const Settled& s) {
  return out << "{" << s.event_id << ", " << (s.handled ? "handled" : "failed") << ", '" << s.error << "'}";
}

// What the source saw; shared so that it outlives the Receiver that owns the source.
struct SourceLog {
  std::vector<std::string> subscribed;  // patterns given to Open()
  std::vector<Settled> settled;
  bool drained = false;  // Drain() was called
  bool closed = false;
};

class ScriptedSource final : public EventSource {
 public:
  // After Drain(), the next `in_hand` entries of the script are still played (the
  // deliveries a group member holds), then kDrained.
  ScriptedSource(std::deque<Received> script, std::shared_ptr<SourceLog> log, std::size_t in_hand = 0)
      : script_(std::move(script)), log_(std::move(log)), in_hand_(in_hand) {}

  Status Open(const std::vector<TopicPattern>& patterns) override {
    for (const TopicPattern& p : patterns) log_->subscribed.push_back(p.ToString());
    return Status::Ok();
  }
  // The script, one entry per call; then nothing, after waiting out the timeout as an
  // idle socket would.
  Result<Received> Receive(std::chrono::milliseconds timeout) override {
    if (log_->drained) {
      if (in_hand_ == 0 || script_.empty()) {
        Received drained;
        drained.kind = Received::Kind::kDrained;
        return drained;
      }
      --in_hand_;
    }
    if (script_.empty()) {
      std::this_thread::sleep_for(timeout);
      return Received{};
    }
    Received next = std::move(script_.front());
    script_.pop_front();
    return next;
  }
  void Settle(const Delivery& delivery, bool handled, std::string_view error) override {
    log_->settled.push_back(Settled{delivery.event.event_id(), handled, std::string(error)});
  }
  void Drain() override { log_->drained = true; }
  void Close() override { log_->closed = true; }
  std::string Describe() const override { return "scripted"; }

 private:
  std::deque<Received> script_;
  std::shared_ptr<SourceLog> log_;
  std::size_t in_hand_;
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
