// Coordinator: routes each request to its group, keeps the peer -> member table and
// member expiry, creates groups (from a first Join, or from state files at Open), and
// schedules persistence. The per-group work is in group.cc; admin requests in admin.cc.
#include "signalbus/groups/coordinator.h"

#include <spdlog/spdlog.h>

#include "coordinator_impl.h"
#include "state_file.h"

namespace signalbus::groups {

Coordinator::Impl::Impl(eventlog::EventStore* store, CoordinatorOptions options, SendFn send)
    : store_(store),
      options_(std::move(options)),
      send_(std::move(send)),
      io_(options_.file_io != nullptr ? options_.file_io : eventlog::DefaultFileIo()),
      keys_(options_.key_cache_size),
      durable_(store->durable_offset()) {
  if (options_.max_batch == 0) options_.max_batch = 1;
  if (options_.max_scan == 0) options_.max_scan = 1;
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
    Result<GroupSettings> settings = ResolveSettings(state->config);
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

void Coordinator::Impl::HandleRequest(std::string_view peer, const v1::GroupRequest& request, TimePoint now) {
  last_now_ = std::max(last_now_, now);
  auto it = peers_.find(peer);
  if (it != peers_.end()) it->second.last_seen = now;
  switch (request.kind_case()) {
    case v1::GroupRequest::kJoin:
      HandleJoin(peer, request.join(), now);
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
    case v1::GroupRequest::kDeleteGroup:
      HandleAdmin(peer, request, now);
      return;
    case v1::GroupRequest::KIND_NOT_SET:
      break;
  }
  ++counters_.bad_requests;
  SendError(peer, "empty or unknown request", /*fatal=*/false);
}

void Coordinator::Impl::HandleMember(PeerMap::iterator it, const v1::GroupRequest& request, TimePoint now) {
  Peer& p = it->second;
  Group& group = *p.group;
  switch (request.kind_case()) {
    case v1::GroupRequest::kCredit:
      group.AddCredit(p.member, request.credit().credits());
      break;
    case v1::GroupRequest::kAck:
      for (const v1::DeliveryRef& ref : request.ack().deliveries()) group.Ack(p.member, ref);
      break;
    case v1::GroupRequest::kNack:
      group.Nack(p.member, request.nack().delivery(), request.nack().error(), now);
      break;
    case v1::GroupRequest::kHeartbeat: {
      v1::GroupReply reply;
      reply.mutable_heartbeat();
      Send(it->first, reply);
      return;
    }
    case v1::GroupRequest::kLeave:
      spdlog::info("group {}: member {} ({}) left", group.name(), p.member, p.name);
      group.RemoveMember(p.member, /*expired=*/false, now);
      peers_.erase(it);
      break;
    default:
      return;
  }
  group.Pump(now, durable_);
}

Result<std::uint64_t> Coordinator::Impl::ResolvePosition(const v1::StartPosition& position) {
  switch (position.position_case()) {
    case v1::StartPosition::kEarliest:
      return store_->first_offset();
    case v1::StartPosition::kOffset:
      return std::max<std::uint64_t>(position.offset(), 1);
    case v1::StartPosition::kTime: {
      std::int64_t ms = position.time().seconds() * 1000 + position.time().nanos() / 1'000'000;
      return store_->OffsetForTime(ms);
    }
    case v1::StartPosition::kLatest:
    case v1::StartPosition::POSITION_NOT_SET:
      break;
  }
  return durable_ + 1;
}

void Coordinator::Impl::HandleJoin(std::string_view peer, const v1::Join& join, TimePoint now) {
  auto refuse = [&](std::string message) {
    ++counters_.bad_requests;
    SendError(peer, std::move(message), /*fatal=*/true);
  };
  if (Status s = ValidateGroupName(join.group()); !s.ok()) return refuse("bad group name: " + s.message());
  Result<GroupSettings> settings = ResolveSettings(join.config());
  if (!settings.ok()) return refuse("group " + join.group() + ": " + settings.status().message());

  Group* group = nullptr;
  if (auto git = groups_.find(join.group()); git != groups_.end()) {
    group = git->second.get();
    if (group->settings().subscriptions != settings->subscriptions) {
      return refuse("group " + join.group() + " subscribes to [" +
                    JoinSubscriptions(group->settings().subscriptions) + "], not [" +
                    JoinSubscriptions(settings->subscriptions) + "]");
    }
  }

  // A Join from a peer that is already a member: the receiver restarted behind the same
  // routing id, so whatever it had in flight is lost with it.
  if (auto pit = peers_.find(peer); pit != peers_.end()) {
    pit->second.group->RemoveMember(pit->second.member, /*expired=*/false, now);
    pit->second.group->Pump(now, durable_);
    peers_.erase(pit);
  }

  if (group == nullptr) {
    Result<std::uint64_t> start = ResolvePosition(join.config().start());
    if (!start.ok()) return refuse("group " + join.group() + ": start position: " + start.status().message());
    Result<Group*> created = CreateGroup(join.group(), std::move(*settings), *start);
    if (!created.ok()) {
      SendError(peer, "group " + join.group() + ": " + created.status().message(), /*fatal=*/true);
      return;
    }
    group = *created;
  }

  MemberId id = ++next_member_id_;
  std::chrono::milliseconds heartbeat(join.heartbeat_ms() > 0 ? join.heartbeat_ms() : kDefaultHeartbeatMs);
  group->AddMember(id, std::string(peer), join.member_name(), join.credits());
  auto [pit, inserted] = peers_.emplace(std::string(peer), Peer{id, group, join.member_name(), heartbeat, now});
  expiries_.push(Expiry{now + kMissedHeartbeats * heartbeat, id, pit->first});
  spdlog::info("group {}: member {} ({}) joined with {} credits", group->name(), id, join.member_name(),
               join.credits());

  v1::GroupReply reply;
  reply.mutable_joined()->set_group(group->name());
  reply.mutable_joined()->set_member_id(std::to_string(id));
  Send(peer, reply);
  group->Pump(now, durable_);
}

Result<Group*> Coordinator::Impl::CreateGroup(const std::string& name, GroupSettings settings,
                                              std::uint64_t start) {
  GroupStateData state;
  state.name = name;
  state.config = settings.config;
  state.ack_floor = start - 1;
  auto dead_letters = std::make_unique<DeadLetterStore>(persistent() ? io_ : nullptr, options_.state_dir, name);
  if (persistent()) {
    // The state file exists before anything else of the group does (its dead-letter
    // file, a position), so a restart always finds the group: written here, on the
    // poll thread, not by the writer. Joins that create a group are rare: the
    // synchronous write is affordable.
    if (Status s = WriteGroupState(*io_, options_.state_dir, state); !s.ok()) {
      spdlog::error("group {}: cannot create its state file: {}", name, s.ToString());
      return Unavailable("cannot create its state file: " + s.message());
    }
    // Dead letters left by an earlier group of this name (its state file was deleted by
    // hand) are kept, not overwritten.
    if (Status s = dead_letters->Load(); !s.ok()) return s;
  }
  auto group = std::make_unique<Group>(std::move(settings), state, std::move(dead_letters), env_);
  Group* raw = group.get();
  groups_[name] = std::move(group);
  spdlog::info("group {}: created, starting at offset {}", name, start);
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
  groups_.erase(name);
  return Status::Ok();
}

void Coordinator::Impl::OnDurable(std::uint64_t durable_offset, TimePoint now) {
  last_now_ = std::max(last_now_, now);
  durable_ = std::max(durable_, durable_offset);
  // Keys of offsets every group has read are no longer needed (a group created later,
  // or one that seeks back, decodes what it reads below the window).
  std::uint64_t lowest = durable_ + 1;
  for (auto& [name, group] : groups_) {
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
    spdlog::warn("group {}: member {} ({}) expired: nothing heard for {} ms", p.group->name(), p.member, p.name,
                 std::chrono::duration_cast<std::chrono::milliseconds>(now - p.last_seen).count());
    ++counters_.members_expired;
    Group* group = p.group;
    group->RemoveMember(p.member, /*expired=*/true, now);
    peers_.erase(it);
    group->Pump(now, durable_);
  }
}

void Coordinator::Impl::Tick(TimePoint now) {
  last_now_ = std::max(last_now_, now);
  ExpireMembers(now);
  for (auto& [name, group] : groups_) group->Tick(now, durable_);
  if (!persistent()) return;
  Status failed = TakeWriteOutcomes();
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
  for (const auto& [name, group] : groups_) {
    if (group->dirty()) return true;
  }
  return false;
}

TimePoint Coordinator::Impl::NextDeadline() const {
  TimePoint next = TimePoint::max();
  if (!expiries_.empty()) next = expiries_.top().at;
  for (const auto& [name, group] : groups_) next = std::min(next, group->NextDeadline(last_now_, durable_));
  // Also while a write is under way: its outcome is taken in, and a failure retried, then.
  if (persistent() && AnyDirty()) next = std::min(next, last_persist_ + options_.persist_interval);
  return next;
}

Status Coordinator::Impl::SubmitDirty() {
  Status first;
  for (auto& [name, group] : groups_) {
    if (!group->dirty()) continue;
    Result<std::optional<Group::StateFileContents>> file = group->TakeStateFile();
    if (!file.ok()) {
      if (first.ok()) first = file.status();
      continue;
    }
    if (*file) writer_->Submit(StateFileName(name), (*file)->version, std::move((*file)->bytes));
  }
  return first;
}

Status Coordinator::Impl::TakeWriteOutcomes() {
  Status first;
  for (StateWriter::Outcome& outcome : writer_->TakeOutcomes()) {
    std::string_view name = std::string_view(outcome.name).substr(0, outcome.name.size() - kStateSuffix.size());
    auto it = groups_.find(name);
    if (it == groups_.end()) continue;  // cannot happen: a group is deleted only once its writes are taken in
    Status s = it->second->OnStateFileWritten(outcome.version, outcome.status);
    if (!s.ok() && first.ok()) first = s;
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

void Coordinator::HandleRequest(std::string_view peer, const v1::GroupRequest& request, TimePoint now) {
  impl_->HandleRequest(peer, request, now);
}

void Coordinator::OnDurable(std::uint64_t durable_offset, TimePoint now) { impl_->OnDurable(durable_offset, now); }

void Coordinator::NoteKey(std::uint64_t offset, std::string_view ordering_key) {
  impl_->NoteKey(offset, ordering_key);
}

void Coordinator::Tick(TimePoint now) { impl_->Tick(now); }

TimePoint Coordinator::NextDeadline() const { return impl_->NextDeadline(); }

Status Coordinator::Persist() { return impl_->PersistAll(); }

void Coordinator::WaitForStateWrites() { impl_->WaitForStateWrites(); }

std::vector<v1::GroupInfo> Coordinator::ListGroups() const { return impl_->ListGroups(); }

CoordinatorCounters Coordinator::counters() const { return impl_->counters(); }

void Coordinator::CheckInvariants() const { impl_->CheckInvariants(); }

}  // namespace signalbus::groups
