// Live listeners: admission, patterns, windows and expiry.
#include "live_listeners.h"

#include <algorithm>
#include <utility>

#include "signalbus/core/logging.h"

namespace signalbus::broker {
namespace {

std::string Bytes(std::uint64_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

LiveListeners::LiveListeners(const LiveOptions& options) : options_(options) {}

std::optional<LiveListeners::Slot> LiveListeners::Find(std::string_view peer) const {
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) return std::nullopt;
  return it->second;
}

void LiveListeners::Refuse(Outcome* out, LiveRefusal why, std::string_view pattern, std::string message) {
  ++out->refused[LiveRefusalIndex(why)];
  v1::LiveSubscribed* s = out->reply.mutable_subscribed();
  const std::uint32_t before = s->refused();
  s->set_refused(before + 1);
  if (before > 0) return;  // the first refusal is described, the others counted
  s->set_refused_pattern(Printable(pattern, 64));
  s->set_refused_reason(std::string(LiveRefusalName(why)));
  s->set_refused_message(std::move(message));
}

std::uint64_t LiveListeners::Grant(std::uint64_t want, std::uint64_t held, const std::string& principal) const {
  if (want == 0) want = kDefaultLiveWindowBytes;
  want = std::clamp(want, kMinLiveWindowBytes, std::max(kMinLiveWindowBytes, options_.max_window_bytes));
  std::uint64_t left = options_.total_window_bytes - reserved_ + held;
  if (const std::uint64_t share = options_.window_bytes_per_principal; share != 0) {
    auto it = shares_.find(principal);
    const std::uint64_t taken = it == shares_.end() ? 0 : it->second.window_bytes - held;
    left = std::min(left, share > taken ? share - taken : 0);
  }
  const std::uint64_t grant = std::min(want, left);
  return grant < kMinLiveWindowBytes ? 0 : grant;
}

std::optional<LiveListeners::Slot> LiveListeners::Create(std::string_view peer, std::uint64_t want_window,
                                                         Clock::time_point now, const std::string& principal,
                                                         Outcome* out) {
  auto refuse = [&](LiveRefusal why, std::string message) {
    ++out->refused[LiveRefusalIndex(why)];
    v1::LiveError* error = out->reply.mutable_error();
    error->set_code(v1::LiveError::TOO_MANY_LISTENERS);
    error->set_message(std::move(message));
    return std::nullopt;
  };
  if (by_peer_.size() >= options_.max_listeners) {
    return refuse(LiveRefusal::kTooManyListeners, "the broker holds " + std::to_string(by_peer_.size()) +
                                                      " live listeners, the most it allows (--live-max-listeners); "
                                                      "try again later");
  }
  if (const std::size_t bound = options_.max_listeners_per_principal; bound != 0) {
    if (auto held = shares_.find(principal); held != shares_.end() && held->second.listeners >= bound) {
      return refuse(LiveRefusal::kTooManyListeners,
                    "principal '" + principal + "' holds " + std::to_string(held->second.listeners) +
                        " live listeners, the most one principal may (--live-max-listeners-per-principal)");
    }
  }
  const std::uint64_t window = Grant(want_window, 0, principal);
  const bool total_left = reserved_ + kMinLiveWindowBytes <= options_.total_window_bytes;
  if (window == 0 && total_left) {  // so it is the principal's share that is taken
    auto share = shares_.find(principal);
    return refuse(LiveRefusal::kNoWindowLeft,
                  "the live listeners of principal '" + principal + "' hold " +
                      Bytes(share == shares_.end() ? 0 : share->second.window_bytes) +
                      " of windows, the most one principal may (--live-window-bytes-per-principal)");
  }
  if (window == 0) {
    return refuse(LiveRefusal::kNoWindowLeft, "the live listeners' windows take " + Bytes(reserved_) + " of the " +
                                                  Bytes(options_.total_window_bytes) +
                                                  " the broker allows (--live-total-window-bytes); try again later");
  }
  Slot slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<Slot>(slots_.size());
    slots_.emplace_back();
  }
  Listener& l = slots_[slot];
  l = Listener{};
  l.peer = std::string(peer);
  l.principal = principal;
  ++shares_[principal].listeners;
  l.number = next_number_++;
  Reserve(l, window);
  l.last_heard = now;
  l.in_use = true;
  by_peer_.emplace(l.peer, slot);
  out->created = true;
  return slot;
}

LiveListeners::Outcome LiveListeners::Subscribe(std::string_view peer, const v1::LiveSubscribe& request,
                                                Clock::time_point now, const auth::Principal& reader,
                                                std::string_view key) {
  Outcome out;
  std::optional<Slot> slot = Find(peer);
  if (!slot) {
    slot = Create(peer, request.window_bytes(), now, reader.name, &out);
    if (!slot) return out;
    slots_[*slot].key = std::string(key);
  }
  out.slot = slot;
  Listener& l = slots_[*slot];
  l.last_heard = now;
  if (l.expired) {
    // Back after a pause: it subscribes again with everything it wants.
    l.expired = false;
    l.probe_interval = std::chrono::milliseconds(0);
  }
  if (!out.created && request.window_bytes() != 0) {
    // A window that cannot grow keeps what it has.
    if (std::uint64_t grant = Grant(request.window_bytes(), l.window.limit(), l.principal); grant != 0) {
      Reserve(l, grant);
    }
  }
  if (request.heartbeat_ms() != 0) {
    l.heartbeat = std::clamp(std::chrono::milliseconds(request.heartbeat_ms()), kMinLiveHeartbeat,
                             options_.max_heartbeat);
  }
  v1::LiveSubscribed* s = out.reply.mutable_subscribed();
  for (const std::string& text : request.patterns()) AddPattern(*slot, text, reader, &out);
  s->set_patterns(static_cast<std::uint32_t>(l.pattern_list.size()));
  s->set_max_patterns(static_cast<std::uint32_t>(options_.max_patterns));
  s->set_window_bytes(l.window.limit());
  s->set_heartbeat_ms(static_cast<std::uint32_t>(l.heartbeat.count()));
  return out;
}

void LiveListeners::AddPattern(Slot slot, std::string_view text, const auth::Principal& reader, Outcome* out) {
  Listener& l = slots_[slot];
  Result<TopicPattern> pattern = TopicPattern::Parse(text);
  if (!pattern.ok()) {
    Refuse(out, LiveRefusal::kBadPattern, text, pattern.status().message());
    return;
  }
  if (!reader.MaySubscribe(*pattern)) {
    Refuse(out, LiveRefusal::kForbidden, text, "principal '" + reader.name + "' may not read " + pattern->ToString());
    return;
  }
  if (l.patterns.Contains(*pattern)) return;  // held already: nothing changes
  if (l.pattern_list.size() >= options_.max_patterns) {
    Refuse(out, LiveRefusal::kTooManyPatterns, text,
           "this listener holds " + std::to_string(l.pattern_list.size()) +
               " patterns, the most the broker allows (--live-max-patterns)");
    return;
  }
  l.patterns.Add(*pattern);
  index_.Add(*pattern, slot);
  l.pattern_list.push_back(std::move(pattern).value());
}

LiveListeners::Outcome LiveListeners::Unsubscribe(std::string_view peer, const v1::LiveUnsubscribe& request,
                                                  Clock::time_point now) {
  Outcome out;
  std::optional<Slot> slot = Find(peer);
  if (!slot || slots_[*slot].expired) {
    ++out.refused[LiveRefusalIndex(LiveRefusal::kUnknownListener)];
    v1::LiveError* error = out.reply.mutable_error();
    error->set_code(v1::LiveError::UNKNOWN_LISTENER);
    error->set_message("this connection is no live listener; subscribe first");
    if (slot) out.slot = slot;  // an expired listener's answer is charged like any other
    return out;
  }
  out.slot = slot;
  Listener& l = slots_[*slot];
  l.last_heard = now;
  v1::LiveSubscribed* s = out.reply.mutable_subscribed();
  for (const std::string& text : request.patterns()) {
    Result<TopicPattern> pattern = TopicPattern::Parse(text);
    // Only what this listener holds is removed; anything else is counted, and changes
    // nothing: no one can unsubscribe another listener, or drive a count below zero.
    if (!pattern.ok() || !l.patterns.Remove(*pattern)) {
      ++out.refused[LiveRefusalIndex(LiveRefusal::kNotSubscribed)];
      s->set_not_held(s->not_held() + 1);
      continue;
    }
    index_.Remove(*pattern, *slot);
    l.pattern_list.erase(std::find(l.pattern_list.begin(), l.pattern_list.end(), *pattern));
  }
  s->set_patterns(static_cast<std::uint32_t>(l.pattern_list.size()));
  s->set_max_patterns(static_cast<std::uint32_t>(options_.max_patterns));
  s->set_window_bytes(l.window.limit());
  s->set_heartbeat_ms(static_cast<std::uint32_t>(l.heartbeat.count()));
  return out;
}

void LiveListeners::ClearPatterns(Slot slot) {
  Listener& l = slots_[slot];
  for (const TopicPattern& p : l.pattern_list) index_.Remove(p, slot);
  l.pattern_list.clear();
  l.patterns = PatternSet();
}

void LiveListeners::Expire(Clock::time_point now, const std::function<void(Slot)>& fn) {
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    Listener& l = slots_[slot];
    if (!l.in_use || l.expired || now - l.last_heard < kLiveMissedHeartbeats * l.heartbeat) continue;
    ClearPatterns(slot);
    l.expired = true;
    fn(slot);
  }
}

void LiveListeners::ForEach(const std::function<void(Slot)>& fn) {
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].in_use) fn(slot);
  }
}

std::vector<LiveListeners::Revoked> LiveListeners::Revoke(
    const std::function<const auth::Principal*(std::string_view key)>& principal_of) {
  std::vector<Revoked> revoked;
  for (Slot slot = 0; slot < slots_.size(); ++slot) {
    Listener& l = slots_[slot];
    if (!l.in_use) continue;
    const auth::Principal* reader = principal_of(l.key);
    Revoked r{slot, reader == nullptr || reader->name != l.principal, {}};
    if (!r.whole) {
      std::vector<TopicPattern> kept;
      for (const TopicPattern& p : l.pattern_list) {
        if (reader->MaySubscribe(p)) {
          kept.push_back(p);
        } else {
          r.patterns.push_back(p.ToString());
        }
      }
      if (r.patterns.empty()) continue;
      r.whole = kept.empty();
      if (!r.whole) {
        ClearPatterns(slot);
        for (const TopicPattern& p : kept) {
          index_.Add(p, slot);
          l.patterns.Add(p);
        }
        l.pattern_list = std::move(kept);
      }
    }
    revoked.push_back(std::move(r));
  }
  return revoked;
}

// Sets the listener's window to `window`, keeping the totals in step.
void LiveListeners::Reserve(Listener& l, std::uint64_t window) {
  Share& share = shares_[l.principal];
  reserved_ = reserved_ - l.window.limit() + window;
  share.window_bytes = share.window_bytes - l.window.limit() + window;
  l.window.set_limit(window);
}

void LiveListeners::Forget(Slot slot) {
  Listener& l = slots_[slot];
  if (!l.in_use) return;
  ClearPatterns(slot);
  Reserve(l, 0);
  by_peer_.erase(l.peer);
  if (auto held = shares_.find(l.principal); held != shares_.end() && --held->second.listeners == 0) {
    shares_.erase(held);
  }
  l = Listener{};
  free_.push_back(slot);
}

}  // namespace signalbus::broker
