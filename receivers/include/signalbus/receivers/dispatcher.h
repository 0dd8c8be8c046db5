// Dispatch: which registered handlers an event goes to, and what happened when they
// ran. Sits between an EventSource (which delivers decoded events) and user code. No
// sockets here, so it is unit-tested on its own.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/logging.h"
#include "signalbus/core/topic.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus {

// A receiver function. It reports failure by throwing; a failure is logged and counted,
// and never stops the other handlers (Django's send_robust).
using Handler = std::function<void(const v1::Event&)>;
// A receiver function that takes events together: the events of one atomic batch (a
// database transaction) that it subscribes to, in one call; an event published alone as
// a list of one.
using BatchHandler = std::function<void(const std::vector<v1::Event>&)>;

// What one Dispatch() call did.
struct DispatchResult {
  std::size_t matched = 0;    // handlers whose patterns matched the topic
  std::size_t succeeded = 0;  // of those, handlers that returned
  std::size_t failed = 0;     // of those, handlers that threw
  // What the first failing handler threw (its what(), truncated to kMaxErrorBytes), with
  // a count of the other failures if any. Empty when ok().
  std::string error;

  bool ok() const { return failed == 0; }
};

// Not thread-safe: one thread registers, then one thread dispatches.
class Dispatcher {
 public:
  // The longest DispatchResult::error: it travels in a nack and is kept with a
  // dead-lettered event.
  static constexpr std::size_t kMaxErrorBytes = 1000;

  Dispatcher();

  // Registers `handler` for every topic matching any of `patterns`. A handler runs at
  // most once per event, even when several of its patterns match.
  // REQUIRES: !patterns.empty() and handler is callable.
  void Add(std::vector<TopicPattern> patterns, Handler handler);
  // The same for a batch handler: Dispatch() calls it with {event}, DispatchUnit() once
  // with every event of the unit it subscribes to.
  void AddBatch(std::vector<TopicPattern> patterns, BatchHandler handler);
  bool has_batch_handlers() const { return batch_handlers_ > 0; }

  // Calls each handler whose patterns match `topic` exactly (segment by segment), in
  // registration order. A handler that throws is logged (rate-limited, with the event id
  // and topic) and counted; the next handler still runs. The first failure's text is
  // returned in DispatchResult::error.
  DispatchResult Dispatch(std::string_view topic, const v1::Event& event);

  // The events of one unit (an atomic batch), in order: each plain handler gets those it
  // subscribes to one by one, each batch handler gets them in one call (none: not
  // called). One result for the unit. REQUIRES: topics.size() == events.size().
  DispatchResult DispatchUnit(const std::vector<std::string>& topics, const std::vector<v1::Event>& events);

  // Every registered pattern, in registration order, for subscribing the transport.
  std::vector<TopicPattern> patterns() const;
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::vector<TopicPattern> patterns;
    Handler handler;       // one of these two
    BatchHandler batch;
    bool Matches(std::string_view topic) const;
  };
  // Runs one handler call, recording its outcome.
  template <typename Call>
  void Run(std::size_t index, std::string_view topic, const v1::Event& event, Call&& call, DispatchResult* result);

  void RecordFailure(std::size_t index, std::string_view topic, const v1::Event& event, std::string_view what,
                     DispatchResult* result);
  void LogFailure(std::size_t index, std::string_view topic, const v1::Event& event, std::string_view what);

  std::vector<Entry> entries_;
  std::size_t batch_handlers_ = 0;
  RateLimiter failure_log_limiter_;
};

}  // namespace signalbus
