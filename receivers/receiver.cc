// Receiver: registration, the poll loop, draining, and the counters. The loop waits at
// most one poll interval at a time so that Stop() and SIGINT/SIGTERM are noticed promptly.
#include "signalbus/receivers/receiver.h"

#include <stdexcept>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "signalbus/core/endpoints.h"
#include "signalbus/core/group_rules.h"
#include "signalbus/core/shutdown.h"
#include "signalbus/receivers/group_source.h"
#include "signalbus/receivers/live_source.h"

namespace signalbus {
namespace {

// A peer sending garbage at full speed must not flood the log.
constexpr double kMalformedLogsPerSecond = 1.0;
constexpr double kMalformedLogBurst = 5.0;

// Fills in the endpoint of the chosen mode from the environment or the default.
ReceiverOptions Resolved(ReceiverOptions options) {
  if (options.mode == ReceiveMode::kLive && options.live_endpoint.empty()) {
    options.live_endpoint = FromEnv(kLiveEnv, kDefaultLiveEndpoint);
  }
  if (options.mode == ReceiveMode::kGroup && options.groups_endpoint.empty()) {
    options.groups_endpoint = FromEnv(kGroupsEnv, kDefaultGroupsEndpoint);
  }
  return options;
}

std::unique_ptr<EventSource> MakeSource(const ReceiverOptions& options, const std::string& group) {
  if (options.mode == ReceiveMode::kLive) {
    LiveSourceOptions live = options.live;
    live.curve = options.curve;
    return std::make_unique<LiveSource>(options.live_endpoint, options.max_event_bytes, live);
  }
  GroupOptions group_options = options.group;
  group_options.curve = options.curve;
  return std::make_unique<GroupSource>(options.groups_endpoint, group, group_options, options.max_event_bytes);
}

// Whether one topic can match both patterns: each segment equal, or "*" in either.
bool Overlap(const TopicPattern& a, const TopicPattern& b) {
  auto segment = [](const std::string& x, const std::string& y) { return x.empty() || y.empty() || x == y; };
  return segment(a.sender(), b.sender()) && segment(a.signal(), b.signal());
}

// With several groups, each wait is this short so that none waits long for the others.
constexpr std::chrono::milliseconds kLaneWait{10};

TopicPattern PatternFor(std::string_view signal, std::string_view sender) {
  if (sender != "*") {
    if (Status s = ValidateSender(sender); !s.ok()) throw std::invalid_argument("receiver sender: " + s.message());
  }
  if (signal != "*") {
    if (Status s = ValidateSignalName(signal); !s.ok()) throw std::invalid_argument("receiver signal: " + s.message());
  }
  Result<TopicPattern> pattern = TopicPattern::Parse(std::string(sender) + "/" + std::string(signal));
  if (!pattern.ok()) throw std::invalid_argument(pattern.status().message());
  return std::move(pattern).value();
}

}  // namespace

Receiver::Receiver(ReceiverOptions options)
    : options_(Resolved(std::move(options))),
      malformed_log_limiter_(kMalformedLogsPerSecond, kMalformedLogBurst),
      missed_log_limiter_(kMalformedLogsPerSecond, kMalformedLogBurst) {}

Receiver::Receiver(ReceiverOptions options, std::unique_ptr<EventSource> source)
    : options_(std::move(options)),
      own_source_(true),
      malformed_log_limiter_(kMalformedLogsPerSecond, kMalformedLogBurst),
      missed_log_limiter_(kMalformedLogsPerSecond, kMalformedLogBurst) {
  if (!source) throw std::invalid_argument("receiver needs an event source");
  auto lane = std::make_unique<Lane>();
  lane->group = options_.name;
  lane->source = std::move(source);
  lanes_.push_back(std::move(lane));
}

Receiver::~Receiver() {
  for (auto& lane : lanes_) {
    if (lane->source) lane->source->Close();
  }
}

void Receiver::RequireNotConnected() const {
  if (connected_)
    throw std::logic_error("receiver " + options_.name + ": handlers must be registered before Connect()");
}

Receiver& Receiver::on(std::string_view signal, std::string_view sender, Handler handler, HandlerOptions options) {
  return on({signal}, sender, std::move(handler), std::move(options));
}

Receiver& Receiver::on(std::initializer_list<std::string_view> signals, std::string_view sender, Handler handler,
                       HandlerOptions options) {
  if (signals.size() == 0) throw std::invalid_argument("receiver needs at least one signal");
  std::vector<TopicPattern> patterns;
  for (std::string_view signal : signals) patterns.push_back(PatternFor(signal, sender));
  return on(std::move(patterns), std::move(handler), std::move(options));
}

Receiver::Lane& Receiver::LaneFor(const HandlerOptions& options) {
  // The live fan-out has no groups, and a given source is one lane: every handler there.
  if (own_source_ || options_.mode == ReceiveMode::kLive) {
    if (lanes_.empty()) {
      lanes_.push_back(std::make_unique<Lane>());
      lanes_.back()->group = options_.name;
    }
    return *lanes_.front();
  }
  const std::string group = options.uid.empty() ? options_.name : options_.name + "." + options.uid;
  if (Status s = ValidateGroupName(group); !s.ok()) {
    throw std::invalid_argument("receiver handler uid '" + options.uid + "': " + s.message());
  }
  for (auto& lane : lanes_) {
    if (lane->group != group) continue;
    if (!options.uid.empty()) {
      throw std::invalid_argument("receiver " + options_.name + ": two handlers with uid '" + options.uid + "'");
    }
    return *lane;
  }
  lanes_.push_back(std::make_unique<Lane>());
  lanes_.back()->group = group;
  return *lanes_.back();
}

Receiver& Receiver::on(std::vector<TopicPattern> patterns, Handler handler, HandlerOptions options) {
  Lane& lane = LaneForPatterns(patterns, options);
  lane.handler_patterns.push_back(patterns);
  lane.dispatcher.Add(std::move(patterns), std::move(handler));
  return *this;
}

Receiver& Receiver::on_batch(std::vector<TopicPattern> patterns, BatchHandler handler, HandlerOptions options) {
  Lane& lane = LaneForPatterns(patterns, options);
  lane.handler_patterns.push_back(patterns);
  lane.dispatcher.AddBatch(std::move(patterns), std::move(handler));
  return *this;
}

Receiver::Lane& Receiver::LaneForPatterns(const std::vector<TopicPattern>& patterns, const HandlerOptions& options) {
  RequireNotConnected();
  Lane& lane = LaneFor(options);
  if (!own_source_ && options_.mode == ReceiveMode::kGroup) {
    // Handlers sharing a group must never both match one event: a failure of one would
    // make the group deliver it again, to both.
    for (const auto& other : lane.handler_patterns) {
      for (const TopicPattern& a : other) {
        for (const TopicPattern& b : patterns) {
          if (Overlap(a, b)) {
            throw std::invalid_argument("receiver " + options_.name + ": handlers for " + a.ToString() + " and " +
                                        b.ToString() +
                                        " would share one consumer group; give one its own: "
                                        ".on(..., {.uid = \"...\"})");
          }
        }
      }
    }
  }
  return lane;
}

std::vector<std::string> Receiver::groups() const {
  std::vector<std::string> out;
  for (const auto& lane : lanes_) out.push_back(lane->group);
  return out;
}

Status Receiver::Connect() {
  if (connected_) return Status::Ok();
  bool any = false;
  for (const auto& lane : lanes_) any = any || !lane->dispatcher.empty();
  if (!any) return InvalidArgument("receiver " + options_.name + " has no handlers");
  for (auto& lane : lanes_) {
    if (lane->dispatcher.empty() || lane->open) continue;
    if (!lane->source) lane->source = MakeSource(options_, lane->group);
    if (Status s = lane->source->Open(lane->dispatcher.patterns()); !s.ok()) {
      for (auto& opened : lanes_) {
        if (opened->open) opened->source->Close();
        opened->open = false;
      }
      return s;
    }
    lane->open = true;
    std::string patterns;
    for (const TopicPattern& p : lane->dispatcher.patterns()) {
      std::string text = " " + p.ToString();
      if ((patterns + " ").find(text + " ") == std::string::npos) patterns += text;
    }
    spdlog::info("receiver {} connected to {}, topics:{}", options_.name, lane->source->Describe(), patterns);
  }
  connected_ = true;
  return Status::Ok();
}

Status Receiver::Run() {
  if (!connected_ && StopRequested()) return Status::Ok();
  if (Status s = Connect(); !s.ok()) return s;
  std::vector<Lane*> serving;
  for (auto& lane : lanes_) {
    if (lane->open) serving.push_back(lane.get());
  }
  bool draining = false;
  bool busy = false;
  while (!serving.empty()) {
    if (!draining && StopRequested()) {
      // Take nothing new, finish what is in hand; kDrained comes once it is settled.
      for (Lane* lane : serving) lane->source->Drain();
      draining = true;
    }
    // One group: wait the whole poll interval on it. Several: take turns, with short
    // waits while none has anything, so that none waits long behind the others.
    const std::chrono::milliseconds wait =
        serving.size() == 1 ? options_.poll_interval : busy ? std::chrono::milliseconds(0) : kLaneWait;
    busy = false;
    for (auto it = serving.begin(); it != serving.end();) {
      bool got = false;
      Result<bool> open = Serve(**it, wait, &got);
      if (!open.ok()) return open.status();
      busy = busy || got;
      it = *open ? it + 1 : serving.erase(it);
    }
  }
  return Status::Ok();
}

Result<bool> Receiver::Serve(Lane& lane, std::chrono::milliseconds timeout, bool* got) {
  Result<Received> received = lane.source->Receive(timeout);
  if (!received.ok()) return received.status();
  switch (received->kind) {
    case Received::Kind::kNothing: break;
    case Received::Kind::kMalformed: *got = true; HandleMalformed(lane, received->problem); break;
    case Received::Kind::kMissed: *got = true; HandleMissed(lane, received->missed); break;
    case Received::Kind::kEvent: {
      *got = true;
      if (received->delivery.unit_size > 1 && lane.dispatcher.has_batch_handlers()) {
        return ServeUnit(lane, std::move(received->delivery));
      }
      const Delivery& delivery = received->delivery;
      received_.fetch_add(1, std::memory_order_relaxed);
      DispatchResult result = lane.dispatcher.Dispatch(delivery.topic, delivery.event);
      if (result.matched == 0) unmatched_.fetch_add(1, std::memory_order_relaxed);
      handled_.fetch_add(result.succeeded, std::memory_order_relaxed);
      handler_failures_.fetch_add(result.failed, std::memory_order_relaxed);
      lane.source->Settle(delivery, result.ok(), result.error);
      break;
    }
    case Received::Kind::kDrained:
      // Sends the last acks and leaves the group.
      lane.source->Close();
      lane.open = false;
      spdlog::info("receiver {} stopped ({})", options_.name, lane.source->Describe());
      return false;
  }
  return true;
}

Result<bool> Receiver::ServeUnit(Lane& lane, Delivery first) {
  std::vector<Delivery> unit;
  const std::uint32_t size = first.unit_size;
  unit.push_back(std::move(first));
  std::uint32_t taken = 1;
  bool drained = false;
  while (taken < size) {
    Result<Received> next = lane.source->Receive(std::chrono::milliseconds(0));
    if (!next.ok()) return next.status();
    if (next->kind == Received::Kind::kMalformed) {
      ++taken;  // nacked by the source already: the unit comes again, whole
      HandleMalformed(lane, next->problem);
      continue;
    }
    if (next->kind != Received::Kind::kEvent || next->delivery.unit_offset != unit.front().unit_offset ||
        next->delivery.attempt != unit.front().attempt) {
      drained = next->kind == Received::Kind::kDrained;
      if (next->kind == Received::Kind::kEvent) {
        // Not of this unit (never sent so): answered as failed, delivered again.
        lane.source->Settle(next->delivery, false, "delivered out of its unit");
      }
      break;
    }
    ++taken;
    unit.push_back(std::move(next->delivery));
  }
  received_.fetch_add(unit.size(), std::memory_order_relaxed);
  if (unit.size() < size) {
    for (const Delivery& d : unit) lane.source->Settle(d, false, "its atomic batch arrived incomplete");
  } else {
    std::vector<std::string> topics;
    std::vector<v1::Event> events;
    for (Delivery& d : unit) {
      topics.push_back(d.topic);
      events.push_back(std::move(d.event));
    }
    DispatchResult result = lane.dispatcher.DispatchUnit(topics, events);
    if (result.matched == 0) unmatched_.fetch_add(unit.size(), std::memory_order_relaxed);
    handled_.fetch_add(result.succeeded, std::memory_order_relaxed);
    handler_failures_.fetch_add(result.failed, std::memory_order_relaxed);
    for (const Delivery& d : unit) lane.source->Settle(d, result.ok(), result.error);
  }
  if (drained) {
    lane.source->Close();
    lane.open = false;
    spdlog::info("receiver {} stopped ({})", options_.name, lane.source->Describe());
    return false;
  }
  return true;
}

bool Receiver::StopRequested() const {
  return stop_requested_.load(std::memory_order_relaxed) || ShutdownRequested();
}

void Receiver::HandleMalformed(const Lane& lane, const std::string& problem) {
  malformed_.fetch_add(1, std::memory_order_relaxed);
  if (!malformed_log_limiter_.Allow()) return;
  std::string skipped;
  if (std::uint64_t n = malformed_log_limiter_.TakeSuppressed(); n > 0) {
    skipped = " (" + std::to_string(n) + " more not logged)";
  }
  spdlog::warn("receiver {} dropped a message from {}: {}{}", options_.name, lane.source->Describe(), problem,
               skipped);
}

void Receiver::HandleMissed(const Lane& lane, std::uint64_t n) {
  missed_.fetch_add(n, std::memory_order_relaxed);
  missed_unlogged_ += n;
  if (!missed_log_limiter_.Allow()) return;
  (void)missed_log_limiter_.TakeSuppressed();
  spdlog::warn("receiver {}: the broker dropped {} events for it from {} ({} in all): it fell behind its window",
               options_.name, missed_unlogged_, lane.source->Describe(), missed_.load(std::memory_order_relaxed));
  missed_unlogged_ = 0;
}

void Receiver::Stop() { stop_requested_.store(true, std::memory_order_relaxed); }

ReceiverStats Receiver::stats() const {
  ReceiverStats s;
  s.received = received_.load(std::memory_order_relaxed);
  s.unmatched = unmatched_.load(std::memory_order_relaxed);
  s.handled = handled_.load(std::memory_order_relaxed);
  s.handler_failures = handler_failures_.load(std::memory_order_relaxed);
  s.malformed = malformed_.load(std::memory_order_relaxed);
  s.missed = missed_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace signalbus
