// Topic patterns indexed by their segments, so that finding what matches a topic costs
// four hash lookups however many patterns there are: the exact topic
// ("auth.User/post_save"), its sender ("auth.User/*"), its signal ("*/post_save") and
// everything ("*"). PatternSet answers "does any of these patterns match"; a group's
// subscriptions are one. PatternIndex<Id> finds the subscribers whose patterns match; the
// live fan-out's listeners are in one.
//
// Not thread-safe (each has one owner, the broker's poll thread).
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "signalbus/core/topic.h"

namespace signalbus {

namespace pattern_index_internal {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// "auth.User/post_save" -> {"auth.User", "post_save"}; a topic without '/' matches nothing
// but "*" (it never reaches here from the broker: topics are validated first).
inline bool SplitTopic(std::string_view topic, std::string_view* sender, std::string_view* signal) {
  std::size_t slash = topic.find('/');
  if (slash == std::string_view::npos) return false;
  *sender = topic.substr(0, slash);
  *signal = topic.substr(slash + 1);
  return true;
}

// Which bucket a pattern goes in, and its key there.
enum class Bucket { kAll, kExact, kSender, kSignal };
inline std::pair<Bucket, std::string> BucketOf(const TopicPattern& p) {
  if (p.any_sender() && p.any_signal()) return {Bucket::kAll, {}};
  if (p.any_signal()) return {Bucket::kSender, p.sender()};
  if (p.any_sender()) return {Bucket::kSignal, p.signal()};
  return {Bucket::kExact, p.sender() + "/" + p.signal()};
}

}  // namespace pattern_index_internal

class PatternSet {
 public:
  // False if the pattern was there already.
  bool Add(const TopicPattern& pattern) {
    auto [bucket, key] = pattern_index_internal::BucketOf(pattern);
    bool added = false;
    if (bucket == pattern_index_internal::Bucket::kAll) {
      added = !all_;
      all_ = true;
    } else {
      added = Set(bucket).insert(std::move(key)).second;
    }
    size_ += added ? 1 : 0;
    return added;
  }
  // False if the pattern was not there.
  bool Remove(const TopicPattern& pattern) {
    auto [bucket, key] = pattern_index_internal::BucketOf(pattern);
    bool removed = false;
    if (bucket == pattern_index_internal::Bucket::kAll) {
      removed = all_;
      all_ = false;
    } else {
      removed = Set(bucket).erase(key) > 0;
    }
    size_ -= removed ? 1 : 0;
    return removed;
  }
  bool Contains(const TopicPattern& pattern) const {
    auto [bucket, key] = pattern_index_internal::BucketOf(pattern);
    if (bucket == pattern_index_internal::Bucket::kAll) return all_;
    const Strings& set = const_cast<PatternSet*>(this)->Set(bucket);
    return set.find(std::string_view(key)) != set.end();
  }
  // Whether any pattern matches `topic`.
  bool Matches(std::string_view topic) const {
    if (all_) return true;
    std::string_view sender, signal;
    if (!pattern_index_internal::SplitTopic(topic, &sender, &signal)) return false;
    return exact_.find(topic) != exact_.end() || senders_.find(sender) != senders_.end() ||
           signals_.find(signal) != signals_.end();
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  using Strings = std::unordered_set<std::string, pattern_index_internal::StringHash, std::equal_to<>>;
  Strings& Set(pattern_index_internal::Bucket bucket) {
    switch (bucket) {
      case pattern_index_internal::Bucket::kSender: return senders_;
      case pattern_index_internal::Bucket::kSignal: return signals_;
      default: return exact_;
    }
  }

  bool all_ = false;
  Strings exact_;    // "sender/signal"
  Strings senders_;  // sender of "sender/*"
  Strings signals_;  // signal of "*/signal"
  std::size_t size_ = 0;
};

// Subscribers (any copyable, equality-comparable Id) by pattern.
template <typename Id>
class PatternIndex {
 public:
  // Adding the same (pattern, id) twice makes ForEachMatch visit it twice: callers keep
  // each subscriber's patterns in a PatternSet of their own and add only new ones.
  void Add(const TopicPattern& pattern, Id id) {
    auto [bucket, key] = pattern_index_internal::BucketOf(pattern);
    if (bucket == pattern_index_internal::Bucket::kAll) {
      all_.push_back(std::move(id));
    } else {
      Map(bucket)[std::move(key)].push_back(std::move(id));
    }
    ++size_;
  }
  // False if (pattern, id) was not there.
  bool Remove(const TopicPattern& pattern, const Id& id) {
    auto [bucket, key] = pattern_index_internal::BucketOf(pattern);
    if (bucket == pattern_index_internal::Bucket::kAll) return Erase(all_, id);
    Ids& map = Map(bucket);
    auto it = map.find(std::string_view(key));
    if (it == map.end() || !Erase(it->second, id)) return false;
    if (it->second.empty()) map.erase(it);
    return true;
  }
  // Calls fn(id) once per (pattern, id) that matches `topic`: a subscriber with two
  // matching patterns is visited twice. `fn` must not change the index.
  template <typename Fn>
  void ForEachMatch(std::string_view topic, Fn&& fn) const {
    for (const Id& id : all_) fn(id);
    std::string_view sender, signal;
    if (!pattern_index_internal::SplitTopic(topic, &sender, &signal)) return;
    Visit(exact_, topic, fn);
    Visit(senders_, sender, fn);
    Visit(signals_, signal, fn);
  }
  // (pattern, id) pairs held.
  std::size_t size() const { return size_; }

 private:
  using Ids = std::unordered_map<std::string, std::vector<Id>, pattern_index_internal::StringHash, std::equal_to<>>;
  Ids& Map(pattern_index_internal::Bucket bucket) {
    switch (bucket) {
      case pattern_index_internal::Bucket::kSender: return senders_;
      case pattern_index_internal::Bucket::kSignal: return signals_;
      default: return exact_;
    }
  }
  bool Erase(std::vector<Id>& ids, const Id& id) {
    auto it = std::find(ids.begin(), ids.end(), id);
    if (it == ids.end()) return false;
    *it = std::move(ids.back());
    ids.pop_back();
    --size_;
    return true;
  }
  template <typename Fn>
  static void Visit(const Ids& map, std::string_view key, Fn& fn) {
    auto it = map.find(key);
    if (it == map.end()) return;
    for (const Id& id : it->second) fn(id);
  }

  std::vector<Id> all_;
  Ids exact_;
  Ids senders_;
  Ids signals_;
  std::size_t size_ = 0;
};

}  // namespace signalbus
