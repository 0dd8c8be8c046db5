// Coordinator::Impl: the coordinator's state — groups by name, the peer -> member
// table, member expiry, persistence scheduling. Internal to signalbus_groups; defined
// across coordinator.cc (requests, timers, persistence) and admin.cc (admin requests).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "group.h"
#include "group_config.h"
#include "key_cache.h"
#include "state_writer.h"
#include "signalbus/core/group_rules.h"
#include "signalbus/core/logging.h"
#include "signalbus/groups/coordinator.h"

namespace signalbus::groups {

class Coordinator::Impl {
 public:
  Impl(eventlog::EventStore* store, CoordinatorOptions options, SendFn send);
  ~Impl();

  Status Open();
  void HandleRequest(std::string_view peer, const v1::GroupRequest& request, TimePoint now, Caller caller);
  void ForEachMember(const std::function<void(const MemberView&)>& fn) const;
  void Expel(std::string_view peer, const std::string& why, TimePoint now);
  void OnDurable(std::uint64_t durable_offset, TimePoint now);
  void NoteKey(std::uint64_t offset, std::string_view key) { keys_.Put(offset, KeyHash(key)); }
  void Tick(TimePoint now);
  TimePoint NextDeadline() const;
  int wake_fd() const { return writer_ ? writer_->wake_fd() : -1; }
  // Hands every changed group's state to the writer and waits until it is on disk.
  Status PersistAll();
  void WaitForStateWrites();
  std::vector<v1::GroupInfo> ListGroups() const;
  CoordinatorCounters counters() const { return counters_; }
  void CheckInvariants() const;

 private:
  // A member, as its peer (routing id) is known. A peer is one member of one group.
  struct Peer {
    MemberId member = 0;
    Group* group = nullptr;
    std::string name;
    std::chrono::milliseconds heartbeat{kDefaultHeartbeat};
    TimePoint last_seen;
    std::string principal;  // who it authenticated as ("": no one), in members_of_
    std::string key;        // with which CURVE key ("": none)
  };
  // Groups in name order, so that walks over a subset are deterministic.
  struct ByName {
    bool operator()(const Group* a, const Group* b) const { return a->name() < b->name(); }
  };
  using GroupSet = std::set<Group*, ByName>;
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using PeerMap = std::unordered_map<std::string, Peer, StringHash, std::equal_to<>>;
  // When to check a member; a member heard from since is re-queued, not expired.
  struct Expiry {
    TimePoint at;
    MemberId member = 0;
    std::string peer;
  };
  struct Later {
    bool operator()(const Expiry& a, const Expiry& b) const { return a.at > b.at; }
  };

  bool persistent() const;
  void Send(std::string_view peer, const v1::GroupReply& reply);
  void SendError(std::string_view peer, std::string message, bool fatal);
  // Counts the refusal and answers it with a GroupError.
  void Refuse(std::string_view peer, Refusal reason, std::string message, bool fatal);
  void HandleJoin(std::string_view peer, const v1::Join& join, TimePoint now, Caller caller);
  // Why `join` may not be accepted as it is (before anything changes), or nullopt.
  struct JoinRefusal {
    Refusal reason;
    std::string message;
  };
  std::optional<JoinRefusal> CheckJoin(std::string_view peer, const v1::Join& join, Group* existing,
                                       const GroupSettings& settings, std::string_view principal) const;
  void HandleMember(PeerMap::iterator it, const v1::GroupRequest& request, TimePoint now);
  void HandleAdmin(std::string_view peer, const v1::GroupRequest& request, TimePoint now);
  // The first offset to deliver from `position`; InvalidArgument for an offset past the
  // head of the log (the next offset to be written is the latest position there is).
  Result<std::uint64_t> ResolvePosition(const v1::StartPosition& position);
  // A new group, in memory at once. Its state file is written by the writer thread; it
  // delivers nothing until that file is reported on disk, so a restart finds every
  // group that delivered anything.
  Result<Group*> CreateGroup(const std::string& name, GroupSettings settings, std::uint64_t start);
  void AddMember(Group* group, std::string_view peer, const v1::Join& join, const GroupSettings& subscriptions,
                 TimePoint now, Caller caller);
  void RemoveMember(PeerMap::iterator it, bool expired, TimePoint now);
  // A group that may have changed: looked at by the next persistence round.
  void Watch(Group* group) { watched_.insert(group); }
  // Removes a group that has no members, with its state and dead-letter files.
  Status DeleteGroup(const std::string& name);
  void ExpireMembers(TimePoint now);
  // Some watched group has changes to hand to the writer.
  bool AnyDirty() const;
  // Syncs the group's dead letters and hands its changed state (if any) to the writer.
  Status SubmitState(Group& group);
  // SubmitState for every watched group with changes (poll thread, no fsync of a state
  // file); groups without members leave the watch. The first dead-letter sync error.
  Status SubmitDirty();
  // Takes in the writer's outcomes; the first failed write that left a group dirty.
  Status TakeWriteOutcomes();
  void LogPersistFailure(const Status& failed, TimePoint now);

  eventlog::EventStore* const store_;
  CoordinatorOptions options_;
  const SendFn send_;
  eventlog::FileIo* const io_;
  KeyCache keys_;
  CoordinatorCounters counters_;
  GroupEnv env_;

  std::map<std::string, std::unique_ptr<Group>, std::less<>> groups_;
  // Groups with members: the only ones that read the log, deliver or have timers, so
  // what runs on every poll (OnDurable, Tick, NextDeadline) walks these alone.
  GroupSet active_;
  // Groups that may have changes no snapshot covers: every active group, and others
  // since they changed (an admin request, a write that failed), until a snapshot of
  // them is handed to the writer.
  GroupSet watched_;
  PeerMap peers_;
  // Members per principal, for max_members_per_principal.
  std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> members_of_;
  std::priority_queue<Expiry, std::vector<Expiry>, Later> expiries_;
  MemberId next_member_id_ = 0;
  std::uint64_t durable_ = 0;
  TimePoint last_now_{};
  TimePoint last_persist_{};
  RateLimiter persist_log_{1.0 / 10, 1};
  // Joins, leaves and creations: a flood of joins must not flood the log.
  RateLimiter member_log_{20, 100};
  RateLimiter refusal_log_{5, 20};
  // Writes the state files off the poll thread; only when persistent(). Declared last:
  // destroyed (its queue written out) while the groups still exist.
  std::unique_ptr<StateWriter> writer_;
};

}  // namespace signalbus::groups
