// Test harness for the Coordinator: a MemoryStore, a fake clock (the harness passes
// every TimePoint), and a SendFn that records each reply by peer. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sample_events.h"
#include "signalbus/core/codec.h"
#include "signalbus/groups/coordinator.h"
#include "signalbus/log/memory_store.h"

namespace signalbus::groups::testing {

using namespace std::chrono_literals;

inline constexpr std::string_view kUserSaved = "auth.User/post_save";

// A valid event for `topic` whose ordering key is `key` (may be empty). auth.User/post_save
// is a real UserCreated; any other topic is a custom signal.
inline std::string MakeEvent(std::string_view topic, const std::string& key, const std::string& pk = "1") {
  v1::Event e;
  auto slash = topic.find('/');
  std::string sender(topic.substr(0, slash));
  std::string signal(topic.substr(slash + 1));
  if (topic == kUserSaved) {
    e = signalbus::testing::UserCreated(pk);
  } else {
    e = signalbus::testing::UserCreated(pk);
    e.clear_model_save();
    e.set_sender(sender);
    e.set_signal(signal);
    e.mutable_custom()->set_pk(pk);
  }
  e.set_ordering_key(key);
  return EncodeEvent(e);
}

// The harness's MemoryStore as the Coordinator sees it: every call passes through, except
// that Read fails with DataLoss while a failure is set for the offset it starts at (a
// record whose checksum no longer matches, found after the broker started).
class ReadFaultStore : public eventlog::EventStore {
 public:
  explicit ReadFaultStore(eventlog::EventStore* inner) : inner_(inner) {}
  void FailReadsAt(std::uint64_t offset) { failing_ = offset; }
  void Heal() { failing_ = 0; }

  Result<std::uint64_t> Append(std::string_view topic, std::string_view event, std::int64_t ts) override {
    return inner_->Append(topic, event, ts);
  }
  Result<std::uint64_t> AppendBatch(const std::vector<eventlog::EventRef>& events, bool atomic,
                                    std::int64_t ts) override {
    return inner_->AppendBatch(events, atomic, ts);
  }
  Status Flush() override { return inner_->Flush(); }
  Result<std::uint64_t> Sync() override { return inner_->Sync(); }
  std::uint64_t durable_offset() const override { return inner_->durable_offset(); }
  std::uint64_t flushed_offset() const override { return inner_->flushed_offset(); }
  std::uint64_t first_offset() const override { return inner_->first_offset(); }
  std::uint64_t next_offset() const override { return inner_->next_offset(); }
  Result<std::vector<eventlog::Record>> Read(std::uint64_t from, std::size_t max_records,
                                             std::size_t max_bytes) override {
    if (failing_ != 0 && from == failing_) {
      return Status(StatusCode::kDataLoss, "checksum mismatch at offset " + std::to_string(from));
    }
    return inner_->Read(from, max_records, max_bytes);
  }
  Result<std::uint64_t> OffsetForTime(std::int64_t timestamp_ms) override {
    return inner_->OffsetForTime(timestamp_ms);
  }
  Status ApplyRetention(std::int64_t now_ms) override { return inner_->ApplyRetention(now_ms); }

 private:
  eventlog::EventStore* inner_;
  std::uint64_t failing_ = 0;
};

struct Sent {
  std::string peer;
  v1::GroupReply reply;
};

class Harness {
 public:
  explicit Harness(CoordinatorOptions options = {}, eventlog::MemoryStore* shared_store = nullptr)
      : options_(std::move(options)),
        store_(shared_store != nullptr ? shared_store : &own_store_),
        reads_(store_) {
    open_status_ = Reopen();
  }
  // What the constructor's Open() returned.
  const Status& open_status() const { return open_status_; }

  // A new Coordinator over the same store and state_dir (a broker restart).
  Status Reopen() {
    coord_.reset();
    coord_ = std::make_unique<Coordinator>(&reads_, options_,
                                           [this](std::string_view peer, const v1::GroupReply& reply) {
                                             sent_.push_back(Sent{std::string(peer), reply});
                                           });
    Status s = coord_->Open();
    return s;
  }

  Coordinator& coord() { return *coord_; }
  eventlog::MemoryStore& store() { return *store_; }
  // The coordinator's view of the store, where read failures are injected.
  ReadFaultStore& reads() { return reads_; }
  TimePoint now() const { return now_; }
  CoordinatorOptions& options() { return options_; }

  // Appends an event, makes it durable and tells the coordinator. Returns its offset.
  std::uint64_t Publish(std::string_view topic, const std::string& key, std::int64_t timestamp_ms = 0) {
    std::uint64_t offset = *store_->Append(topic, MakeEvent(topic, key), timestamp_ms);
    Durable();
    return offset;
  }
  // Appends (topic, ordering key) pairs as one atomic batch, durable; its first offset.
  std::uint64_t PublishUnit(const std::vector<std::pair<std::string, std::string>>& events) {
    std::vector<std::string> bytes;
    for (const auto& [topic, key] : events) bytes.push_back(MakeEvent(topic, key));
    std::vector<eventlog::EventRef> refs;
    for (std::size_t i = 0; i < events.size(); ++i) refs.push_back({events[i].first, bytes[i]});
    std::uint64_t first = *store_->AppendBatch(refs, /*atomic=*/true, 0);
    Durable();
    return first;
  }
  std::uint64_t PublishUser(const std::string& pk) {
    return Publish(kUserSaved, OrderingKeyFor("auth.User", pk));
  }
  void Durable() {
    std::uint64_t durable = *store_->Sync();
    coord_->OnDurable(durable, now_);
    Settle();
  }

  void Request(const std::string& peer, const v1::GroupRequest& request, const std::string& principal = "") {
    coord_->HandleRequest(peer, request, now_, Coordinator::Caller{principal, ""});
    Settle();
  }

  static v1::GroupConfig Config(std::vector<std::string> subscriptions) {
    v1::GroupConfig c;
    for (const std::string& s : subscriptions) c.add_subscriptions(s);
    return c;
  }

  void Join(const std::string& peer, const std::string& group, std::uint32_t credits,
            v1::GroupConfig config = Config({std::string(kUserSaved)}), std::uint32_t heartbeat_ms = 1000,
            std::uint64_t window_bytes = 0, const std::string& principal = "") {
    v1::GroupRequest r;
    r.mutable_join()->set_group(group);
    r.mutable_join()->set_member_name(peer);
    *r.mutable_join()->mutable_config() = std::move(config);
    r.mutable_join()->set_credits(credits);
    r.mutable_join()->set_heartbeat_ms(heartbeat_ms);
    r.mutable_join()->set_window_bytes(window_bytes);
    Request(peer, r, principal);
  }
  void Ack(const std::string& peer, std::uint64_t offset, std::uint32_t attempt) {
    v1::GroupRequest r;
    auto* ref = r.mutable_ack()->add_deliveries();
    ref->set_offset(offset);
    ref->set_attempt(attempt);
    Request(peer, r);
  }
  void AckAll(const std::string& peer, const std::vector<v1::Delivery>& deliveries) {
    v1::GroupRequest r;
    for (const v1::Delivery& d : deliveries) {
      auto* ref = r.mutable_ack()->add_deliveries();
      ref->set_offset(d.offset());
      ref->set_attempt(d.attempt());
    }
    Request(peer, r);
  }
  void Nack(const std::string& peer, std::uint64_t offset, std::uint32_t attempt, const std::string& error) {
    v1::GroupRequest r;
    r.mutable_nack()->mutable_delivery()->set_offset(offset);
    r.mutable_nack()->mutable_delivery()->set_attempt(attempt);
    r.mutable_nack()->set_error(error);
    Request(peer, r);
  }
  void Credit(const std::string& peer, std::uint32_t credits) {
    v1::GroupRequest r;
    r.mutable_credit()->set_credits(credits);
    Request(peer, r);
  }
  void Heartbeat(const std::string& peer) {
    v1::GroupRequest r;
    r.mutable_heartbeat();
    Request(peer, r);
  }
  void Leave(const std::string& peer) {
    v1::GroupRequest r;
    r.mutable_leave();
    Request(peer, r);
  }
  v1::AdminReply Admin(const v1::GroupRequest& request) {
    std::size_t before = sent_.size();
    Request("admin", request);
    for (std::size_t i = before; i < sent_.size(); ++i) {
      if (sent_[i].peer == "admin" && sent_[i].reply.has_admin()) return sent_[i].reply.admin();
    }
    ADD_FAILURE() << "no AdminReply";
    return {};
  }

  // Every dead letter of `group`, page after page.
  std::vector<v1::DeadLetter> AllDeadLetters(const std::string& group) {
    std::vector<v1::DeadLetter> out;
    v1::GroupRequest list;
    list.mutable_list_dead_letters()->set_group(group);
    list.mutable_list_dead_letters()->set_limit(1'000'000);
    for (int page = 0; page < 100'000; ++page) {
      v1::AdminReply reply = Admin(list);
      out.insert(out.end(), reply.dead_letters().begin(), reply.dead_letters().end());
      if (!reply.more() || reply.dead_letters().empty()) break;
      list.mutable_list_dead_letters()->set_after_offset(out.back().offset());
    }
    return out;
  }

  // Moves the fake clock and runs the timers.
  void Advance(std::chrono::milliseconds d) {
    now_ += d;
    Settle();
  }
  // Runs Tick until nothing more is due now (a real broker polls with NextDeadline),
  // then waits for the state files it handed to the background writer.
  void Settle() {
    for (int i = 0; i < 10'000 && coord_->NextDeadline() <= now_; ++i) coord_->Tick(now_);
    coord_->Tick(now_);
    coord_->WaitForStateWrites();
  }

  // Deliveries sent to `peer` since the last call, in order; they are consumed.
  std::vector<v1::Delivery> Take(const std::string& peer) {
    std::vector<v1::Delivery> out;
    std::vector<Sent> rest;
    for (Sent& s : sent_) {
      if (s.peer == peer && s.reply.has_deliveries()) {
        for (const v1::Delivery& d : s.reply.deliveries().deliveries()) out.push_back(d);
      } else {
        rest.push_back(std::move(s));
      }
    }
    sent_ = std::move(rest);
    return out;
  }
  // Other replies to `peer` (errors, joined, heartbeats) since the last call; consumed.
  std::vector<v1::GroupReply> Replies(const std::string& peer) {
    std::vector<v1::GroupReply> out;
    std::vector<Sent> rest;
    for (Sent& s : sent_) {
      if (s.peer == peer && !s.reply.has_deliveries()) {
        out.push_back(std::move(s.reply));
      } else {
        rest.push_back(std::move(s));
      }
    }
    sent_ = std::move(rest);
    return out;
  }
  std::vector<Sent>& sent() { return sent_; }

  v1::GroupInfo Info(const std::string& group) {
    for (const v1::GroupInfo& g : coord_->ListGroups()) {
      if (g.name() == group) return g;
    }
    ADD_FAILURE() << "no group " << group;
    return {};
  }

 private:
  CoordinatorOptions options_;
  Status open_status_;
  eventlog::MemoryStore own_store_;
  eventlog::MemoryStore* store_;
  ReadFaultStore reads_;
  std::unique_ptr<Coordinator> coord_;
  std::vector<Sent> sent_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
};

inline std::vector<std::uint64_t> Offsets(const std::vector<v1::Delivery>& deliveries) {
  std::vector<std::uint64_t> out;
  for (const v1::Delivery& d : deliveries) out.push_back(d.offset());
  return out;
}

// A fresh directory under the test temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("groups-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace signalbus::groups::testing
