// Receiver: registration, the poll loop, draining, and the counters. The loop waits at
// most one poll interval at a time so that Stop() and SIGINT/SIGTERM are noticed promptly.
#include "signalbus/receivers/receiver.h"

#include <stdexcept>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "signalbus/core/endpoints.h"
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

std::unique_ptr<EventSource> MakeSource(const ReceiverOptions& options) {
  if (options.mode == ReceiveMode::kLive) {
    return std::make_unique<LiveSource>(options.live_endpoint, options.max_event_bytes, options.live);
  }
  return std::make_unique<GroupSource>(options.groups_endpoint, options.name, options.group, options.max_event_bytes);
}

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

// options_ is declared before source_, so the source is made from the resolved options.
Receiver::Receiver(ReceiverOptions options)
    : options_(Resolved(std::move(options))),
      source_(MakeSource(options_)),
      malformed_log_limiter_(kMalformedLogsPerSecond, kMalformedLogBurst),
      missed_log_limiter_(kMalformedLogsPerSecond, kMalformedLogBurst) {}

Receiver::Receiver(ReceiverOptions options, std::unique_ptr<EventSource> source)
    : options_(std::move(options)),
      source_(std::move(source)),
      malformed_log_limiter_(kMalformedLogsPerSecond, kMalformedLogBurst),
      missed_log_limiter_(kMalformedLogsPerSecond, kMalformedLogBurst) {
  if (!source_) throw std::invalid_argument("receiver needs an event source");
}

Receiver::~Receiver() { source_->Close(); }

void Receiver::RequireNotConnected() const {
  if (connected_)
    throw std::logic_error("receiver " + options_.name + ": handlers must be registered before Connect()");
}

Receiver& Receiver::on(std::string_view signal, std::string_view sender, Handler handler) {
  return on({signal}, sender, std::move(handler));
}

Receiver& Receiver::on(std::initializer_list<std::string_view> signals, std::string_view sender, Handler handler) {
  if (signals.size() == 0) throw std::invalid_argument("receiver needs at least one signal");
  std::vector<TopicPattern> patterns;
  for (std::string_view signal : signals) patterns.push_back(PatternFor(signal, sender));
  return on(std::move(patterns), std::move(handler));
}

Receiver& Receiver::on(std::vector<TopicPattern> patterns, Handler handler) {
  RequireNotConnected();
  dispatcher_.Add(std::move(patterns), std::move(handler));
  return *this;
}

Status Receiver::Connect() {
  if (connected_) return Status::Ok();
  if (dispatcher_.empty()) return InvalidArgument("receiver " + options_.name + " has no handlers");
  if (Status s = source_->Open(dispatcher_.patterns()); !s.ok()) return s;
  connected_ = true;
  std::string patterns;
  for (const TopicPattern& p : dispatcher_.patterns()) {
    std::string text = " " + p.ToString();
    if ((patterns + " ").find(text + " ") == std::string::npos) patterns += text;
  }
  spdlog::info("receiver {} connected to {}, topics:{}", options_.name, source_->Describe(), patterns);
  return Status::Ok();
}

Status Receiver::Run() {
  if (!connected_ && StopRequested()) return Status::Ok();
  if (Status s = Connect(); !s.ok()) return s;
  bool draining = false;
  while (true) {
    if (!draining && StopRequested()) {
      // Take nothing new, finish what is in hand; kDrained comes once it is settled.
      source_->Drain();
      draining = true;
    }
    Result<Received> received = source_->Receive(options_.poll_interval);
    if (!received.ok()) return received.status();
    switch (received->kind) {
      case Received::Kind::kNothing: break;
      case Received::Kind::kMalformed: HandleMalformed(received->problem); break;
      case Received::Kind::kMissed: HandleMissed(received->missed); break;
      case Received::Kind::kEvent: {
        const Delivery& delivery = received->delivery;
        received_.fetch_add(1, std::memory_order_relaxed);
        DispatchResult result = dispatcher_.Dispatch(delivery.topic, delivery.event);
        if (result.matched == 0) unmatched_.fetch_add(1, std::memory_order_relaxed);
        handled_.fetch_add(result.succeeded, std::memory_order_relaxed);
        handler_failures_.fetch_add(result.failed, std::memory_order_relaxed);
        source_->Settle(delivery, result.ok(), result.error);
        break;
      }
      case Received::Kind::kDrained:
        // Sends the last acks and leaves the group.
        source_->Close();
        spdlog::info("receiver {} stopped ({})", options_.name, source_->Describe());
        return Status::Ok();
    }
  }
}

bool Receiver::StopRequested() const {
  return stop_requested_.load(std::memory_order_relaxed) || ShutdownRequested();
}

void Receiver::HandleMalformed(const std::string& problem) {
  malformed_.fetch_add(1, std::memory_order_relaxed);
  if (!malformed_log_limiter_.Allow()) return;
  std::string skipped;
  if (std::uint64_t n = malformed_log_limiter_.TakeSuppressed(); n > 0) {
    skipped = " (" + std::to_string(n) + " more not logged)";
  }
  spdlog::warn("receiver {} dropped a message from {}: {}{}", options_.name, source_->Describe(), problem, skipped);
}

void Receiver::HandleMissed(std::uint64_t n) {
  missed_.fetch_add(n, std::memory_order_relaxed);
  missed_unlogged_ += n;
  if (!missed_log_limiter_.Allow()) return;
  (void)missed_log_limiter_.TakeSuppressed();
  spdlog::warn("receiver {}: the broker dropped {} events for it from {} ({} in all): it fell behind its window",
               options_.name, missed_unlogged_, source_->Describe(), missed_.load(std::memory_order_relaxed));
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
