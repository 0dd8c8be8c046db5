// Coordinator: routes each request to its group, keeps the peer -> member table and
// member expiry, applies the limits a Join must meet, creates groups (from a first
// Join, or from state files at Open), and schedules persistence. What runs on every
// poll walks the groups with members only. The per-group work is in group.cc; admin
// requests in admin.cc.
#include "signalbus/groups/coordinator.h"

#include <spdlog/spdlog.h>

#include "coordinator_impl.h"
#include "signalbus/core/logging.h"
#include "state_file.h"

namespace signalbus::groups {

namespace {

// Cuts `runs` (first, count: sorted, disjoint, as DecodeGroupState checked) to the
// offsets <= last; returns how many offsets were cut.
std::uint64_t CutRunsAfter(std::vector<std::pair<std::uint64_t, std::uint64_t>>& runs, std::uint64_t last) {
  std::uint64_t cut = 0;
  while (!runs.empty()) {
    auto& [first, count] = runs.back();
    if (first > last) {
      cut += count;
      runs.pop_back();
      continue;
    }
    if (first + count - 1 > last) {
      cut += first + count - 1 - last;
      count = last - first + 1;
    }
    break;
  }
  return cut;
}

}  // namespace

const char* RefusalName(Refusal reason) {
  switch (reason) {
    case Refusal::kMalformed: return "malformed";
    case Refusal::kGroupName: return "group_name";
    case Refusal::kMemberName: return "member_name";
    case Refusal::kHeartbeat: return "heartbeat";
    case Refusal::kConfig: return "config";
    case Refusal::kSubscriptions: return "subscriptions";
    case Refusal::kGroups: return "groups";
    case Refusal::kMembers: return "members";
    case Refusal::kPosition: return "position";
  }
  return "unknown";
}

Coordinator::Impl::Impl(eventlog::EventStore* store, CoordinatorOptions options, SendFn send)
    : store_(store),
      options_(std::move(options)),
      send_(std::move(send)),
      io_(options_.file_io != nullptr ? options_.file_io : eventlog::DefaultFileIo()),
      keys_(options_.key_cache_size),
      durable_(store->durable_offset()) {
  if (options_.max_batch == 0) options_.max_batch = 1;
  if (options_.max_batch_bytes == 0) options_.max_batch_bytes = 1;
  if (options_.max_scan == 0) options_.max_scan = 1;
  if (options_.max_window_bytes == 0) options_.max_window_bytes = 1;
  options_.default_window_bytes = std::clamp<std::uint64_t>(options_.default_window_bytes, 1, options_.max_window_bytes);
  env_.store = store_;
  env_.options = &options_;
  env_.keys = &keys_;
  env_.counters = &counters_;
  env_.send = &send_;
  env_.wall_clock = options_.wall_clock ? options_.wall_clock : [] { return std::chrono::system_clock::now(); };
}

Coordinator::Impl::~Impl() = default;

bool Coordinator::Impl::persistent() const { return !options_.state_dir.empty(); }

Status Coordinator::Impl::Open() {
  if (!persistent()) return Status::Ok();
  const std::string& dir = options_.state_dir;
  writer_ = std::make_unique<StateWriter>(io_, dir);
  if (Status s = io_->CreateDir(dir); !s.ok()) return s;
  Result<std::vector<std::string>> names = io_->List(dir);
  if (!names.ok()) return names.status();
  std::sort(names->begin(), names->end());
  for (const std::string& file : *names) {
    const std::string path = dir + "/" + file;
    if (file.ends_with(".tmp")) {
      // A replacement that a crash interrupted before its rename; the old file stands.
      (void)io_->Remove(path);
      continue;
    }
    if (!file.ends_with(kStateSuffix)) continue;
    std::string name = file.substr(0, file.size() - kStateSuffix.size());
    Result<GroupStateData> state = ReadGroupState(*io_, path);
    if (!state.ok()) return state.status();
    if (state->name != name) {
      return DataLoss(path + ": file is damaged: it names group \"" + state->name + "\"");
    }
    Result<GroupSettings> settings = ResolveSettings(state->config);  // kept whatever today's limits
    if (!settings.ok()) return DataLoss(path + ": bad group config: " + settings.status().message());
    auto dead_letters = std::make_unique<DeadLetterStore>(io_, dir, name);
    if (Status s = dead_letters->Load(); !s.ok()) return s;
    std::uint64_t log_end = store_->next_offset() - 1;
    if (state->ack_floor > log_end) {
      // Offsets at or below a durable offset survive any crash, so a floor past the end
      // of the log means the log was replaced under the groups. Its new offsets would
      // all look acked: restart the group at the log's end instead, loudly.
      spdlog::error("group {}: ack floor {} is past the end of the log ({}); was the log replaced? "
                    "restarting the group at the end of the log",
                    name, state->ack_floor, log_end);
      state->ack_floor = log_end;
      state->finished_runs.clear();
    } else if (std::uint64_t cut = CutRunsAfter(state->finished_runs, log_end); cut > 0) {
      // The same, for offsets finished above the floor: kept, the events that get these
      // offsets would never be delivered (and a damaged run could ask for gigabytes).
      spdlog::error("group {}: {} offsets recorded as finished are past the end of the log ({}); "
                    "was the log replaced? they will be delivered when they are written",
                    name, cut, log_end);
    }
    groups_[name] = std::make_unique<Group>(std::move(*settings), *state, std::move(dead_letters), env_);
    spdlog::info("group {}: resuming at ack floor {}", name, state->ack_floor);
  }
  return Status::Ok();
}

void Coordinator::Impl::Send(std::string_view peer, const v1::GroupReply& reply) { send_(peer, reply); }

void Coordinator::Impl::SendError(std::string_view peer, std::string message, bool fatal) {
  v1::GroupReply reply;
  reply.mutable_error()->set_message(std::move(message));
  reply.mutable_error()->set_fatal(fatal);
  Send(peer, reply);
}

void Coordinator::Impl::Refuse(std::string_view peer, Refusal reason, std::string message, bool fatal) {
  ++counters_.bad_requests;
  ++counters_.refused[static_cast<std::size_t>(reason)];
  if (refusal_log_.Allow(last_now_)) {
    spdlog::warn("refused a request from peer {} ({}): {} ({} similar lines suppressed)", Printable(peer, 16),
                 RefusalName(reason), Printable(message, 200), refusal_log_.TakeSuppressed());
  }
  SendError(peer, std::move(message), fatal);
}

void Coordinator::Impl::HandleRequest(std::string_view peer, const v1::GroupRequest& request, TimePoint now,
                                      Caller caller) {
  last_now_ = std::max(last_now_, now);
  auto it = peers_.find(peer);
  if (it != peers_.end()) it->second.last_seen = now;
  switch (request.kind_case()) {
    case v1::GroupRequest::kJoin:
      HandleJoin(peer, request.join(), now, caller);
      return;
    case v1::GroupRequest::kCredit:
    case v1::GroupRequest::kAck:
    case v1::GroupRequest::kNack:
    case v1::GroupRequest::kHeartbeat:
    case v1::GroupRequest::kLeave:
      if (it == peers_.end()) {
        // How members notice a broker restart (or that they were expired).
        SendError(peer, "unknown member; join again", /*fatal=*/true);
        return;
      }
      HandleMember(it, request, now);
      return;
    case v1::GroupRequest::kListGroups:
    case v1::GroupRequest::kListDeadLetters:
    case v1::GroupRequest::kReplayDeadLetters:
    case v1::GroupRequest::kPurgeDeadLetters:
    case v1::GroupRequest::kSeekGroup:
    case v1::GroupRequest::kSetGroupSettings:
    case v1::GroupRequest::kDeleteGroup:
      HandleAdmin(peer, request, now);
      return;
    case v1::GroupRequest::KIND_NOT_SET:
      break;
  }
  Refuse(peer, Refusal::kMalformed, "empty or unknown request", /*fatal=*/false);
}

void Coordinator::Impl::HandleMember(PeerMap::iterator it, const v1::GroupRequest& request, TimePoint now) {
  Peer& p = it->second;
  Group& group = *p.group;
  switch (request.kind_case()) {
    case v1::GroupRequest::kCredit:
      group.AddCredit(p.member, request.credit().credits());
      break;
    case v1::GroupRequest::kAck: {
      const v1::Ack& ack = request.ack();
      std::uint64_t named = static_cast<std::uint64_t>(ack.deliveries_size());
      for (const v1::AckRange& range : ack.ranges()) named += range.count();
      if (named > kMaxAckRefs) {
        Refuse(it->first, Refusal::kMalformed,
               "an ack naming " + std::to_string(named) + " deliveries (at most " + std::to_string(kMaxAckRefs) + ")",
               /*fatal=*/false);
        break;
      }
      for (const v1::DeliveryRef& ref : ack.deliveries()) group.Ack(p.member, ref.offset(), ref.attempt());
      for (const v1::AckRange& range : ack.ranges()) {
        group.AckRange(p.member, range.first(), range.count(), range.attempt());
      }
      break;
    }
    case v1::GroupRequest::kNack:
      // The text is kept with a dead letter: bounded like the names the broker keeps.
      group.Nack(p.member, request.nack().delivery(), TruncateUtf8(request.nack().error(), kMaxNackErrorBytes),
                 now);
      break;
    case v1::GroupRequest::kHeartbeat: {
      v1::GroupReply reply;
      reply.mutable_heartbeat();
      Send(it->first, reply);
      return;
    }
    case v1::GroupRequest::kLeave:
      if (member_log_.Allow(now)) spdlog::info("group {}: member {} ({}) left", group.name(), p.member, p.name);
      RemoveMember(it, /*expired=*/false, now);
      return;
    default:
      return;
  }
  group.Pump(now, durable_);
}

Result<std::uint64_t> Coordinator::Impl::ResolvePosition(const v1::StartPosition& position) {
  const std::uint64_t head = durable_ + 1;  // the next offset to be made durable
  switch (position.position_case()) {
    case v1::StartPosition::kEarliest:
      return std::min(store_->first_offset(), head);
    case v1::StartPosition::kOffset:
      // Past the head the group would wait for offsets that may never come, and its
      // floor would be above the head: lag would read 0 however far behind it falls.
      if (position.offset() > head) {
        return InvalidArgument("offset " + std::to_string(position.offset()) +
                               " is past the head of the log: the next offset is " + std::to_string(head));
      }
      return std::max<std::uint64_t>(position.offset(), 1);
    case v1::StartPosition::kTime: {
      std::int64_t ms = position.time().seconds() * 1000 + position.time().nanos() / 1'000'000;
      Result<std::uint64_t> offset = store_->OffsetForTime(ms);
      if (!offset.ok()) return offset.status();
      return std::min(*offset, head);  // a time not reached yet: from the head on
    }
    case v1::StartPosition::kLatest:
    case v1::StartPosition::POSITION_NOT_SET:
      break;
  }
  return head;
}

std::optional<Coordinator::Impl::JoinRefusal> Coordinator::Impl::CheckJoin(std::string_view peer,
                                                                           const v1::Join& join, Group* existing,
                                                                           const GroupSettings& settings,
                                                                           std::string_view principal) const {
  const std::string& name = join.group();
  if (join.member_name().size() > kMaxMemberNameBytes) {
    return JoinRefusal{Refusal::kMemberName, "member_name is longer than " + std::to_string(kMaxMemberNameBytes) +
                                                 " bytes (" + std::to_string(join.member_name().size()) + ")"};
  }
  if (join.heartbeat_ms() != 0) {
    if (Status s = ValidateHeartbeat(std::chrono::milliseconds(join.heartbeat_ms())); !s.ok()) {
      return JoinRefusal{Refusal::kHeartbeat, "group " + name + ": heartbeat_ms " +
                                                  std::to_string(join.heartbeat_ms()) + ": " + s.message()};
    }
  }
  if (const std::size_t bound = options_.max_members_per_principal; bound != 0 && !principal.empty()) {
    std::size_t members = 0;
    if (auto held = members_of_.find(principal); held != members_of_.end()) members = held->second;
    if (auto pit = peers_.find(peer); pit != peers_.end() && pit->second.principal == principal) --members;  // a re-join
    if (members >= bound) {
      return JoinRefusal{Refusal::kMembers, "principal '" + std::string(principal) + "' has " +
                                                std::to_string(members) +
                                                " members in all groups, the broker's limit per principal"};
    }
  }
  if (existing == nullptr) {
    if (groups_.size() >= options_.max_groups) {
      return JoinRefusal{Refusal::kGroups, "group " + name + " would be one more than the broker's limit of " +
                                               std::to_string(options_.max_groups) + " groups"};
    }
    return std::nullopt;
  }
  // Other subscriptions than the group's change the group's (a deploy): the union of its
  // members' must stay within the limit.
  if (std::size_t in_force = existing->UnionSizeWith(settings.subscriptions); in_force > options_.max_subscriptions) {
    return JoinRefusal{Refusal::kSubscriptions, "group " + name + ": its members would subscribe to " +
                                                    std::to_string(in_force) +
                                                    " patterns, more than the broker's limit of " +
                                                    std::to_string(options_.max_subscriptions)};
  }
  std::size_t members = existing->member_count();
  if (auto pit = peers_.find(peer); pit != peers_.end() && pit->second.group == existing) --members;  // a re-join
  if (members >= options_.max_members) {
    return JoinRefusal{Refusal::kMembers, "group " + name + " has " + std::to_string(members) +
                                              " members, the broker's limit"};
  }
  return std::nullopt;
}

void Coordinator::Impl::HandleJoin(std::string_view peer, const v1::Join& join, TimePoint now, Caller caller) {
  const std::string& name = join.group();
  if (Status s = ValidateGroupName(name); !s.ok()) return Refuse(peer, Refusal::kGroupName, s.message(), true);
  // Counted before anything is parsed: a hundred thousand patterns cost nothing more.
  if (static_cast<std::size_t>(join.config().subscriptions_size()) > options_.max_subscriptions) {
    return Refuse(peer, Refusal::kSubscriptions,
                  "group " + name + ": " + std::to_string(join.config().subscriptions_size()) +
                      " subscriptions, more than the broker's limit of " + std::to_string(options_.max_subscriptions),
                  true);
  }
  Result<GroupSettings> settings = ResolveSettings(join.config());
  if (!settings.ok()) return Refuse(peer, Refusal::kConfig, "group " + name + ": " + settings.status().message(), true);
  Group* group = nullptr;
  if (auto git = groups_.find(name); git != groups_.end()) group = git->second.get();
  if (std::optional<JoinRefusal> refusal = CheckJoin(peer, join, group, *settings, caller.principal)) {
    return Refuse(peer, refusal->reason, std::move(refusal->message), true);
  }
  std::uint64_t start = 0;
  if (group == nullptr) {
    Result<std::uint64_t> resolved = ResolvePosition(join.config().start());
    if (!resolved.ok()) {
      return Refuse(peer, Refusal::kPosition, "group " + name + ": start position: " + resolved.status().message(),
                    true);
    }
    start = *resolved;
  }

  // A Join from a peer that is already a member: the receiver restarted behind the same
  // routing id, so whatever it had in flight is lost with it.
  if (auto pit = peers_.find(peer); pit != peers_.end()) RemoveMember(pit, /*expired=*/false, now);

  if (group == nullptr) {
    Result<Group*> created = CreateGroup(name, *settings, start);
    if (!created.ok()) {
      SendError(peer, "group " + name + ": " + created.status().message(), /*fatal=*/true);
      return;
    }
    group = *created;
  }
  AddMember(group, peer, join, *settings, now, caller);
}

void Coordinator::Impl::AddMember(Group* group, std::string_view peer, const v1::Join& join,
                                  const GroupSettings& subscriptions, TimePoint now, Caller caller) {
  MemberId id = ++next_member_id_;
  std::chrono::milliseconds heartbeat =
      join.heartbeat_ms() > 0 ? std::chrono::milliseconds(join.heartbeat_ms()) : kDefaultHeartbeat;
  std::uint64_t window_bytes = join.window_bytes() > 0 ? std::min(join.window_bytes(), options_.max_window_bytes)
                                                       : options_.default_window_bytes;
  group->AddMember(id, std::string(peer), join.member_name(), join.credits(), window_bytes, subscriptions);
  auto [pit, inserted] =
      peers_.emplace(std::string(peer), Peer{id, group, join.member_name(), heartbeat, now,
                                             std::string(caller.principal), std::string(caller.key)});
  if (!caller.principal.empty()) ++members_of_[pit->second.principal];
  expiries_.push(Expiry{now + kMissedHeartbeats * heartbeat, id, pit->first});
  active_.insert(group);
  Watch(group);
  if (member_log_.Allow(now)) {
    spdlog::info("group {}: member {} ({}) joined with {} credits and a window of {} bytes ({} similar lines "
                 "suppressed)",
                 group->name(), id, Printable(join.member_name()), join.credits(), window_bytes,
                 member_log_.TakeSuppressed());
  }
  v1::GroupReply reply;
  reply.mutable_joined()->set_group(group->name());
  reply.mutable_joined()->set_member_id(std::to_string(id));
  reply.mutable_joined()->set_credits(static_cast<std::uint32_t>(std::min<std::uint64_t>(join.credits(), kMaxCredits)));
  reply.mutable_joined()->set_window_bytes(window_bytes);
  reply.mutable_joined()->set_ack_ranges(true);
  Send(peer, reply);
  group->Pump(now, durable_);
}

void Coordinator::Impl::ForEachMember(const std::function<void(const MemberView&)>& fn) const {
  for (const auto& [peer, p] : peers_) {
    const std::vector<std::string>* subscriptions = p.group->MemberSubscriptions(p.member);
    if (subscriptions == nullptr) continue;
    fn(MemberView{peer, p.group->name(), *subscriptions, p.principal, p.key});
  }
}

void Coordinator::Impl::Expel(std::string_view peer, const std::string& why, TimePoint now) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  spdlog::warn("group {}: member {} ({}) expelled: {}", it->second.group->name(), it->second.member,
               Printable(it->second.name), why);
  RemoveMember(it, /*expired=*/false, now);
  SendError(peer, why, /*fatal=*/true);
}

void Coordinator::Impl::RemoveMember(PeerMap::iterator it, bool expired, TimePoint now) {
  Group* group = it->second.group;
  group->RemoveMember(it->second.member, expired, now);
  if (auto held = members_of_.find(it->second.principal); held != members_of_.end() && --held->second == 0) {
    members_of_.erase(held);
  }
  peers_.erase(it);
  if (group->member_count() == 0) {
    active_.erase(group);
    // It stays watched while it has changes to write.
    if (!group->needs_snapshot()) watched_.erase(group);
  }
  group->Pump(now, durable_);
}

Result<Group*> Coordinator::Impl::CreateGroup(const std::string& name, GroupSettings settings,
                                              std::uint64_t start) {
  GroupStateData state;
  state.name = name;
  state.config = settings.config;
  state.ack_floor = start - 1;
  auto dead_letters = std::make_unique<DeadLetterStore>(persistent() ? io_ : nullptr, options_.state_dir, name);
  // Dead letters left by an earlier group of this name (its state file was deleted by
  // hand) are kept, not overwritten. Usually there is no file: one failed stat.
  if (persistent()) {
    if (Status s = dead_letters->Load(); !s.ok()) return s;
  }
  auto group = std::make_unique<Group>(std::move(settings), state, std::move(dead_letters), env_);
  Group* raw = group.get();
  groups_[name] = std::move(group);
  if (persistent()) {
    // The state file exists before anything else of the group does (a delivery, its
    // dead-letter file, a position): the group waits for the writer to report it.
    raw->AwaitFirstStateFile();
    LogPersistFailure(SubmitState(*raw), last_now_);
  }
  if (member_log_.Allow(last_now_)) {
    spdlog::info("group {}: created, starting at offset {} ({} similar lines suppressed)", name, start,
                 member_log_.TakeSuppressed());
  }
  return raw;
}

Status Coordinator::Impl::DeleteGroup(const std::string& name) {
  if (persistent()) {
    // Whatever the writer holds for the group lands first and is taken in while the
    // group still exists; then nothing of it is in flight. The dead letters go before
    // the state file: a crash in between leaves the group, with an empty queue, never a
    // queue that a later group of the same name would inherit.
    writer_->WaitIdle();
    LogPersistFailure(TakeWriteOutcomes(), last_now_);
    const std::string dir = options_.state_dir + "/";
    for (const std::string& file : {DeadLetterFileName(name), StateFileName(name)}) {
      Status s = io_->Remove(dir + file);
      if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
    }
    if (Status s = io_->SyncDir(options_.state_dir); !s.ok()) return s;
    writer_->Forget(StateFileName(name));
  }
  auto it = groups_.find(name);
  active_.erase(it->second.get());
  watched_.erase(it->second.get());
  groups_.erase(it);
  return Status::Ok();
}

void Coordinator::Impl::OnDurable(std::uint64_t durable_offset, TimePoint now) {
  last_now_ = std::max(last_now_, now);
  if (durable_offset <= durable_) return;  // nothing new: timers and requests pump the rest
  durable_ = durable_offset;
  // Keys of offsets every active group has read are no longer needed (a group that
  // gets members later, or one that seeks back, decodes what it reads below the window).
  std::uint64_t lowest = durable_ + 1;
  for (Group* group : active_) {
    group->Pump(now, durable_);
    lowest = std::min(lowest, group->next_unread());
  }
  keys_.ForgetBelow(lowest);
}

void Coordinator::Impl::ExpireMembers(TimePoint now) {
  while (!expiries_.empty() && expiries_.top().at <= now) {
    Expiry e = expiries_.top();
    expiries_.pop();
    auto it = peers_.find(e.peer);
    if (it == peers_.end() || it->second.member != e.member) continue;  // left or re-joined
    Peer& p = it->second;
    TimePoint due = p.last_seen + kMissedHeartbeats * p.heartbeat;
    if (due > now) {
      // Heard from since this entry was queued: one entry per member, moved forward.
      expiries_.push(Expiry{due, e.member, std::move(e.peer)});
      continue;
    }
    if (member_log_.Allow(now)) {
      spdlog::warn("group {}: member {} ({}) expired: nothing heard for {} ms ({} similar lines suppressed)",
                   p.group->name(), p.member, Printable(p.name),
                   std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_seen).count(),
                   member_log_.TakeSuppressed());
    }
    ++counters_.members_expired;
    RemoveMember(it, /*expired=*/true, now);
  }
}

void Coordinator::Impl::Tick(TimePoint now) {
  last_now_ = std::max(last_now_, now);
  ExpireMembers(now);
  for (Group* group : active_) group->Tick(now, durable_);
  if (!persistent()) return;
  Status failed = TakeWriteOutcomes();
  // At most every persist_interval (the first change after a quiet spell at once), and
  // only among the groups that may have changed: watched_ holds the active groups and
  // those changed since their last snapshot. Writes under way need no timer: the
  // writer's wake fd brings their outcomes.
  if (now >= last_persist_ + options_.persist_interval && AnyDirty()) {
    last_persist_ = now;
    if (Status s = SubmitDirty(); !s.ok() && failed.ok()) failed = s;
  }
  LogPersistFailure(failed, now);
}

void Coordinator::Impl::LogPersistFailure(const Status& failed, TimePoint now) {
  if (failed.ok() || !persist_log_.Allow(now)) return;
  spdlog::error("cannot persist group state (retrying every {} ms): {}", options_.persist_interval.count(),
                failed.ToString());
}

bool Coordinator::Impl::AnyDirty() const {
  for (const Group* group : watched_) {
    if (group->needs_snapshot()) return true;
  }
  return false;
}

TimePoint Coordinator::Impl::NextDeadline() const {
  TimePoint next = TimePoint::max();
  if (!expiries_.empty()) next = expiries_.top().at;
  for (const Group* group : active_) next = std::min(next, group->NextDeadline(last_now_, durable_));
  // A failed write makes its group need a snapshot again: retried then.
  if (persistent() && AnyDirty()) next = std::min(next, last_persist_ + options_.persist_interval);
  return next;
}

Status Coordinator::Impl::SubmitState(Group& group) {
  Result<std::optional<Group::StateFileContents>> file = group.TakeStateFile();
  if (!file.ok()) return file.status();
  if (*file) writer_->Submit(StateFileName(group.name()), (*file)->version, std::move((*file)->bytes));
  return Status::Ok();
}

Status Coordinator::Impl::SubmitDirty() {
  Status first;
  for (auto it = watched_.begin(); it != watched_.end();) {
    Group* group = *it;
    if (group->needs_snapshot()) {
      if (Status s = SubmitState(*group); !s.ok() && first.ok()) first = s;
    }
    // Groups without members leave the watch once their changes are handed over.
    it = group->needs_snapshot() || active_.contains(group) ? std::next(it) : watched_.erase(it);
  }
  return first;
}

Status Coordinator::Impl::TakeWriteOutcomes() {
  Status first;
  for (StateWriter::Outcome& outcome : writer_->TakeOutcomes()) {
    std::string_view name = std::string_view(outcome.name).substr(0, outcome.name.size() - kStateSuffix.size());
    auto it = groups_.find(name);
    if (it == groups_.end()) continue;  // cannot happen: a group is deleted only once its writes are taken in
    Group& group = *it->second;
    const bool was_on_disk = group.on_disk();
    Status s = group.OnStateFileWritten(outcome.version, outcome.status);
    if (!s.ok() && first.ok()) first = s;
    if (group.needs_snapshot()) Watch(&group);  // a failed write: retried at the next round
    // A new group's file is on disk: it may deliver now, to members that joined meanwhile.
    if (!was_on_disk && group.on_disk()) group.Pump(last_now_, durable_);
  }
  return first;
}

Status Coordinator::Impl::PersistAll() {
  if (!persistent()) return Status::Ok();
  // Earlier outcomes first: a failed write makes its group dirty, so it is taken again.
  (void)TakeWriteOutcomes();
  Status first = SubmitDirty();
  writer_->WaitIdle();
  if (Status s = TakeWriteOutcomes(); !s.ok() && first.ok()) first = s;
  return first;
}

void Coordinator::Impl::WaitForStateWrites() {
  if (!persistent()) return;
  writer_->WaitIdle();
  LogPersistFailure(TakeWriteOutcomes(), last_now_);
}

std::vector<v1::GroupInfo> Coordinator::Impl::ListGroups() const {
  std::vector<v1::GroupInfo> out;
  for (const auto& [name, group] : groups_) out.push_back(group->Info(durable_));
  return out;
}

// ---- Coordinator ------------------------------------------------------------------------

Coordinator::Coordinator(eventlog::EventStore* store, CoordinatorOptions options, SendFn send)
    : impl_(std::make_unique<Impl>(store, std::move(options), std::move(send))) {}

Coordinator::~Coordinator() = default;

Status Coordinator::Open() { return impl_->Open(); }

void Coordinator::HandleRequest(std::string_view peer, const v1::GroupRequest& request, TimePoint now,
                                Caller caller) {
  impl_->HandleRequest(peer, request, now, caller);
}

void Coordinator::ForEachMember(const std::function<void(const MemberView&)>& fn) const { impl_->ForEachMember(fn); }

void Coordinator::Expel(std::string_view peer, const std::string& why, TimePoint now) {
  impl_->Expel(peer, why, now);
}

void Coordinator::OnDurable(std::uint64_t durable_offset, TimePoint now) { impl_->OnDurable(durable_offset, now); }

void Coordinator::NoteKey(std::uint64_t offset, std::string_view ordering_key) {
  impl_->NoteKey(offset, ordering_key);
}

void Coordinator::Tick(TimePoint now) { impl_->Tick(now); }

TimePoint Coordinator::NextDeadline() const { return impl_->NextDeadline(); }

int Coordinator::wake_fd() const { return impl_->wake_fd(); }

Status Coordinator::Persist() { return impl_->PersistAll(); }

void Coordinator::WaitForStateWrites() { impl_->WaitForStateWrites(); }

std::vector<v1::GroupInfo> Coordinator::ListGroups() const { return impl_->ListGroups(); }

CoordinatorCounters Coordinator::counters() const { return impl_->counters(); }

void Coordinator::CheckInvariants() const { impl_->CheckInvariants(); }

}  // namespace signalbus::groups
