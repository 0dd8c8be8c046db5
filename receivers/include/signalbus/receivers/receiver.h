// Receiver: the @receiver of signalbus. Register handlers for (signal, sender) pairs or
// topic patterns, then Run(): it connects to the broker through an EventSource, and
// dispatches every matching event to its handlers until Stop() or SIGINT/SIGTERM.
//
//   signalbus::Receiver receiver({.name = "profile-creator"});
//   receiver.on("post_save", "auth.User", [](const signalbus::v1::Event& e) { ... })
//           .on({"post_delete", "pre_delete"}, "auth.User", ...);
//   signalbus::Status s = receiver.Run();
//
// In group mode (the default) each handler runs once per event, in a consumer group of
// its own, named like Django's dispatch_uid: a handler registered with a uid
// (`.on(..., {.uid = "welcome-mail"})`) is the group "<receiver name>.<uid>"; handlers
// registered without one share the group named after the receiver (so a receiver with
// one handler keeps its group, and adding a handler with a uid never renames it), and
// may not overlap: two of them whose patterns can match one event are refused at
// registration, because one's failure would run the other again. Each event goes to one
// member of each group, at least once: it is acked when the handler returned, nacked
// with the exception's text when it threw, and then delivered again (with backoff) for
// that handler alone, as are events whose member died before acking. So a handler must
// be idempotent: key each effect by event_id() (as the profile-creator does). The
// groups of one Receiver are served in turn on the thread of Run().
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/core/codec.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/status.h"
#include "signalbus/core/topic.h"
#include "signalbus/receivers/dispatcher.h"
#include "signalbus/receivers/event_source.h"
#include "signalbus/receivers/group_source.h"
#include "signalbus/receivers/live_source.h"

namespace signalbus {

enum class ReceiveMode {
  kGroup,  // a member of a consumer group: at-least-once, acked, shared among members
  kLive,   // the live fan-out: every event while connected, at-most-once
};

struct ReceiverOptions {
  // Names the receiver in logs, and is the name of its consumer group: every process
  // running a receiver of this name shares the group's events.
  std::string name = "receiver";
  ReceiveMode mode = ReceiveMode::kGroup;
  // The broker's live endpoint (kLive). Empty: $SIGNALBUS_LIVE, else kDefaultLiveEndpoint.
  std::string live_endpoint;
  // The broker's groups endpoint (kGroup). Empty: $SIGNALBUS_GROUPS, else
  // kDefaultGroupsEndpoint.
  std::string groups_endpoint;
  // Credits, heartbeat, timeouts and the group's configuration (kGroup).
  GroupOptions group;
  // The byte window and heartbeat of a live listener (kLive).
  LiveSourceOptions live;
  // The longest Run() waits before it checks Stop() and the shutdown signals.
  std::chrono::milliseconds poll_interval{150};
  // Larger events are dropped as malformed.
  std::size_t max_event_bytes = kDefaultMaxEventBytes;
  // CURVE (docs/security.md), for whichever source the mode picks (it replaces
  // group.curve and live.curve). Empty: from the environment; none there: no CURVE.
  CurveClientSettings curve;
};

// How one handler is registered.
struct HandlerOptions {
  // Group mode: the handler's consumer group is "<receiver name>.<uid>" (letters,
  // digits, '.', '_' and '-'). Empty: the receiver's own group.
  std::string uid;
};

// Counters since construction. Each is exact; they are read independently.
struct ReceiverStats {
  std::uint64_t received = 0;          // well-formed events delivered by the source
  std::uint64_t unmatched = 0;         // of those, events no handler's pattern matched
  std::uint64_t handled = 0;           // handler calls that returned
  std::uint64_t handler_failures = 0;  // handler calls that threw
  std::uint64_t malformed = 0;         // messages dropped as undecodable or inconsistent
  std::uint64_t missed = 0;            // events the broker dropped for this receiver (live: it fell behind)
};

class Receiver {
 public:
  // kGroup: joins the group options.name on the groups endpoint (a GroupSource);
  // kLive: receives from the live fan-out (a LiveSource). options() then holds the
  // endpoint actually used.
  explicit Receiver(ReceiverOptions options);
  // Receives from `source` instead (a consumer group, a test double).
  Receiver(ReceiverOptions options, std::unique_ptr<EventSource> source);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Registration. Call before Connect()/Run(), from one thread. Bad input is a
  // programming or start-up error: these throw std::invalid_argument naming the culprit,
  // and std::logic_error once the receiver is connected.
  //
  // signal: a signal name or "*"; sender: a model label ("auth.User") or "*".
  Receiver& on(std::string_view signal, std::string_view sender, Handler handler, HandlerOptions options = {});
  // Several signals of one sender; the handler runs once per matching event.
  Receiver& on(std::initializer_list<std::string_view> signals, std::string_view sender, Handler handler,
               HandlerOptions options = {});
  // Topic patterns ("auth.User/post_save", "auth.User/*", "*/post_save", "*"); the
  // handler runs once per event that matches any of them.
  Receiver& on(std::vector<TopicPattern> patterns, Handler handler, HandlerOptions options = {});
  // A batch handler: every event of one atomic batch (a database transaction published
  // by the outbox relay, a PublishBatch) that matches `patterns`, in one call — an order
  // and its lines together, never a part; an event published alone comes as a list of
  // one. In group mode the unit is acked once the call returned, and delivered again
  // whole when it threw.
  Receiver& on_batch(std::vector<TopicPattern> patterns, BatchHandler handler, HandlerOptions options = {});

  // Group mode: the consumer groups of the handlers registered so far, in order.
  std::vector<std::string> groups() const;

  // Connects to the broker and subscribes to what the handlers need (a group member:
  // joins with the union of the handlers' patterns, and returns once the broker
  // confirmed). Run() calls it if it was not called; call it first to report readiness
  // only once connected. A failure (bad endpoint, no handlers, no broker answering) is
  // a Status.
  Status Connect();

  // Dispatches events until Stop() is called or SIGINT/SIGTERM is recorded (see
  // core/shutdown.h; the program installs the handlers), then drains: takes nothing
  // new, handles and settles the deliveries already in hand, leaves the group, and
  // returns OK. An error only if the transport fails. Bad messages are counted and
  // logged (rate-limited), never fatal. Handlers run on the calling thread.
  Status Run();

  // Makes Run() drain and return: within about one poll interval plus the time the
  // handlers take for what is in hand. At once if Run() has not connected yet. Sticky:
  // a later Run() returns at once. Thread-safe, and safe from a handler.
  void Stop();

  // Thread-safe.
  ReceiverStats stats() const;
  const ReceiverOptions& options() const { return options_; }

 private:
  // One consumer group (or the live fan-out, or a given source) and its handlers.
  struct Lane {
    std::string group;
    Dispatcher dispatcher;
    std::vector<std::vector<TopicPattern>> handler_patterns;
    std::unique_ptr<EventSource> source;
    bool open = false;
    bool drained = false;
  };

  void RequireNotConnected() const;
  bool StopRequested() const;
  Lane& LaneFor(const HandlerOptions& options);
  // The lane for a new handler of `patterns`, refusing one that would share a group with
  // a handler it overlaps.
  Lane& LaneForPatterns(const std::vector<TopicPattern>& patterns, const HandlerOptions& options);
  // A unit's first delivery arrived: takes the rest of it (in hand: a unit comes in one
  // message) and dispatches it whole. False once the lane is drained and closed.
  Result<bool> ServeUnit(Lane& lane, Delivery first);
  // Receives from one lane for up to `timeout` and handles what came; false once it is
  // drained and closed. An error only if the transport failed.
  Result<bool> Serve(Lane& lane, std::chrono::milliseconds timeout, bool* got);
  void HandleMalformed(const Lane& lane, const std::string& problem);
  void HandleMissed(const Lane& lane, std::uint64_t n);

  ReceiverOptions options_;
  bool own_source_ = false;  // made with a given source: one lane
  std::vector<std::unique_ptr<Lane>> lanes_;
  bool connected_ = false;
  std::atomic<bool> stop_requested_{false};
  RateLimiter malformed_log_limiter_;
  RateLimiter missed_log_limiter_;

  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> unmatched_{0};
  std::atomic<std::uint64_t> handled_{0};
  std::atomic<std::uint64_t> handler_failures_{0};
  std::atomic<std::uint64_t> malformed_{0};
  std::atomic<std::uint64_t> missed_{0};
  std::uint64_t missed_unlogged_ = 0;  // reported since the last log line
};

}  // namespace signalbus
