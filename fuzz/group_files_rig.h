// For the group state and dead-letter targets: a log of a few events, a Coordinator
// that opens a state directory holding the fuzzed files, and a member that works
// through everything the group "orders" delivers. Test-only.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "signalbus/groups/coordinator.h"
#include "signalbus/log/memory_store.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::fuzz {

inline constexpr const char* kFuzzGroup = "orders";

// A log of 24 events (offsets 1-24), 19-21 one atomic batch; events 5 and 13 are not
// protobuf (a group reads their key as none).
inline void FillLog(eventlog::MemoryStore& store) {
  for (int i = 1; i <= 24; ++i) {
    const std::string topic = i % 3 == 0 ? "shop.Order/order_paid" : "auth.User/post_save";
    std::string event = "\x6a\x01";
    event.push_back(static_cast<char>('a' + i % 4));
    if (i == 5 || i == 13) event = "\xff garbage";
    if (i == 19) {
      std::vector<eventlog::EventRef> unit = {{topic, event}, {topic, event}, {topic, event}};
      (void)store.AppendBatch(unit, /*atomic=*/true, i);
      i = 21;
      continue;
    }
    (void)store.Append(topic, event, i);
  }
  (void)store.Sync();
}

class GroupFilesRig {
 public:
  explicit GroupFilesRig(const std::string& state_dir) {
    options_.state_dir = state_dir;
    options_.max_batch = 4;
    options_.wall_clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1'764'000'000)); };
    FillLog(store_);
  }

  // A Coordinator over the state directory; nullopt-like false if Open refused it.
  bool Open() {
    coord_.reset();
    coord_ = std::make_unique<groups::Coordinator>(
        &store_, options_, [this](std::string_view peer, const v1::GroupReply& reply) {
          if (peer == "member" && reply.has_deliveries()) {
            for (const v1::Delivery& d : reply.deliveries().deliveries()) held_.push_back(d);
          }
          if (peer == "admin" && reply.has_admin()) admin_ = reply.admin();
        });
    return coord_->Open().ok();
  }

  groups::Coordinator& coord() { return *coord_; }
  groups::TimePoint now() const { return now_; }

  void Request(const std::string& peer, const v1::GroupRequest& r) {
    coord_->HandleRequest(peer, r, now_);
    coord_->Tick(now_);
    coord_->CheckInvariants();
  }

  // What the last admin request was answered.
  const v1::AdminReply& admin() const { return admin_; }

  // Joins "member" to the group, and acks what it gets (nacking every `nack_every`-th
  // delivery, which may dead-letter it), for `rounds` rounds of 1 s.
  void Work(int rounds, int nack_every) {
    v1::GroupRequest join;
    join.mutable_join()->set_group(kFuzzGroup);
    join.mutable_join()->mutable_config()->add_subscriptions("*");
    join.mutable_join()->mutable_config()->set_max_deliver(2);
    join.mutable_join()->set_credits(8);
    Request("member", join);
    int seen = 0;
    for (int round = 0; round < rounds; ++round) {
      std::vector<v1::Delivery> held = std::move(held_);
      held_.clear();
      for (const v1::Delivery& d : held) {
        const std::uint64_t ref = d.unit_size() > 0 ? d.unit_offset() : d.offset();
        v1::GroupRequest r;
        if (nack_every > 0 && ++seen % nack_every == 0) {
          r.mutable_nack()->mutable_delivery()->set_offset(ref);
          r.mutable_nack()->mutable_delivery()->set_attempt(d.attempt());
        } else {
          r.mutable_ack()->add_deliveries()->set_offset(ref);
          r.mutable_ack()->mutable_deliveries(0)->set_attempt(d.attempt());
        }
        Request("member", r);
      }
      now_ += std::chrono::seconds(1);
      v1::GroupRequest beat;
      beat.mutable_heartbeat();
      Request("member", beat);
    }
  }

  // The group's info, if it exists.
  std::optional<v1::GroupInfo> Info() const {
    for (const v1::GroupInfo& g : coord_->ListGroups()) {
      if (g.name() == kFuzzGroup) return g;
    }
    return std::nullopt;
  }

 private:
  eventlog::MemoryStore store_;
  groups::CoordinatorOptions options_;
  std::unique_ptr<groups::Coordinator> coord_;
  groups::TimePoint now_{std::chrono::seconds(1000)};
  std::vector<v1::Delivery> held_;
  v1::AdminReply admin_;
};

}  // namespace signalbus::fuzz
