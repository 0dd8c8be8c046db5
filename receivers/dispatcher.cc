// Matching events to handlers and running them robustly (Django's send_robust).
#include "signalbus/receivers/dispatcher.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

namespace signalbus {
namespace {

// A handler that fails on every event (the database is down) would otherwise write a
// line per event; bursts of 10, then one line a second, with a count of what was skipped.
constexpr double kFailureLogsPerSecond = 1.0;
constexpr double kFailureLogBurst = 10.0;

}  // namespace

Dispatcher::Dispatcher() : failure_log_limiter_(kFailureLogsPerSecond, kFailureLogBurst) {}

void Dispatcher::Add(std::vector<TopicPattern> patterns, Handler handler) {
  if (patterns.empty()) throw std::invalid_argument("a handler needs at least one topic pattern");
  if (!handler) throw std::invalid_argument("handler is empty");
  entries_.push_back(Entry{std::move(patterns), std::move(handler)});
}

bool Dispatcher::Entry::Matches(std::string_view topic) const {
  return std::any_of(patterns.begin(), patterns.end(), [&](const TopicPattern& p) { return p.Matches(topic); });
}

void Dispatcher::AddBatch(std::vector<TopicPattern> patterns, BatchHandler handler) {
  if (patterns.empty()) throw std::invalid_argument("a handler needs at least one topic pattern");
  if (!handler) throw std::invalid_argument("handler is empty");
  entries_.push_back(Entry{std::move(patterns), nullptr, std::move(handler)});
  ++batch_handlers_;
}

template <typename Call>
void Dispatcher::Run(std::size_t index, std::string_view topic, const v1::Event& event, Call&& call,
                     DispatchResult* result) {
  ++result->matched;
  // Exceptions stop here: one receiver's failure is not another's.
  try {
    call();
    ++result->succeeded;
  } catch (const std::exception& e) {
    RecordFailure(index, topic, event, e.what(), result);
  } catch (...) {
    RecordFailure(index, topic, event, "an exception that is not a std::exception", result);
  }
}

DispatchResult Dispatcher::Dispatch(std::string_view topic, const v1::Event& event) {
  DispatchResult result;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& entry = entries_[i];
    if (!entry.Matches(topic)) continue;
    if (entry.handler) {
      Run(i, topic, event, [&] { entry.handler(event); }, &result);
    } else {
      Run(i, topic, event, [&] { entry.batch(std::vector<v1::Event>{event}); }, &result);
    }
  }
  if (result.failed > 1) {
    result.error += " (and " + std::to_string(result.failed - 1) + " more failed handlers)";
  }
  return result;
}

DispatchResult Dispatcher::DispatchUnit(const std::vector<std::string>& topics, const std::vector<v1::Event>& events) {
  DispatchResult result;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& entry = entries_[i];
    if (entry.handler) {
      for (std::size_t j = 0; j < events.size(); ++j) {
        if (entry.Matches(topics[j])) Run(i, topics[j], events[j], [&] { entry.handler(events[j]); }, &result);
      }
      continue;
    }
    std::vector<v1::Event> mine;
    for (std::size_t j = 0; j < events.size(); ++j) {
      if (entry.Matches(topics[j])) mine.push_back(events[j]);
    }
    if (!mine.empty()) Run(i, topics.front(), events.front(), [&] { entry.batch(mine); }, &result);
  }
  if (result.failed > 1) {
    result.error += " (and " + std::to_string(result.failed - 1) + " more failed handlers)";
  }
  return result;
}

std::vector<TopicPattern> Dispatcher::patterns() const {
  std::vector<TopicPattern> out;
  for (const Entry& entry : entries_) out.insert(out.end(), entry.patterns.begin(), entry.patterns.end());
  return out;
}

void Dispatcher::RecordFailure(std::size_t index, std::string_view topic, const v1::Event& event,
                               std::string_view what, DispatchResult* result) {
  // As thrown, truncated: a consumer-group source makes it valid UTF-8 for its nack.
  if (++result->failed == 1) result->error = std::string(what.substr(0, kMaxErrorBytes));
  LogFailure(index, topic, event, what);
}

void Dispatcher::LogFailure(std::size_t index, std::string_view topic, const v1::Event& event, std::string_view what) {
  if (!failure_log_limiter_.Allow()) return;
  std::string skipped;
  if (std::uint64_t n = failure_log_limiter_.TakeSuppressed(); n > 0) {
    skipped = " (" + std::to_string(n) + " similar failures not logged)";
  }
  std::string patterns;
  for (const TopicPattern& p : entries_[index].patterns) {
    if (!patterns.empty()) patterns += ",";
    patterns += p.ToString();
  }
  spdlog::error("handler #{} ({}) failed on event {} topic {}: {}{}", index + 1, patterns, Printable(event.event_id()),
                Printable(topic), Printable(what, 300), skipped);
}

}  // namespace signalbus
