// Coordinator::Impl: requests from signalbus-admin. Each gets one AdminReply, with the
// error text filled in when it cannot be done; none needs the sender to be a member.
// Lists are paged (max_admin_reply_bytes), so that replies a client never reads cost
// the broker at most its queue of pages.
#include <spdlog/spdlog.h>

#include "coordinator_impl.h"

namespace signalbus::groups {

namespace {
constexpr std::uint32_t kDefaultDeadLetterLimit = 100;
}  // namespace

void Coordinator::Impl::HandleAdmin(std::string_view peer, const v1::GroupRequest& request, TimePoint now) {
  v1::GroupReply reply;
  v1::AdminReply& admin = *reply.mutable_admin();
  auto find = [&](const std::string& name) -> Group* {
    auto it = groups_.find(name);
    if (it != groups_.end()) return it->second.get();
    admin.set_error("no group named \"" + name + "\"");
    return nullptr;
  };
  Group* touched = nullptr;
  switch (request.kind_case()) {
    case v1::GroupRequest::kListGroups: {
      const v1::ListGroups& list = request.list_groups();
      std::size_t bytes = 0;
      std::size_t count = 0;
      for (auto it = groups_.upper_bound(list.after()); it != groups_.end(); ++it) {
        v1::GroupInfo info = it->second->Info(durable_);
        std::size_t size = info.ByteSizeLong();
        if ((list.limit() > 0 && count == list.limit()) || (count > 0 && bytes + size > options_.max_admin_reply_bytes)) {
          admin.set_more(true);
          break;
        }
        bytes += size;
        ++count;
        *admin.add_groups() = std::move(info);
      }
      break;
    }
    case v1::GroupRequest::kListDeadLetters:
      if (Group* g = find(request.list_dead_letters().group())) {
        std::uint32_t limit = request.list_dead_letters().limit();
        g->ListDeadLetters(request.list_dead_letters().after_offset(), limit > 0 ? limit : kDefaultDeadLetterLimit,
                           options_.max_admin_reply_bytes, &admin);
      }
      break;
    case v1::GroupRequest::kReplayDeadLetters:
      if (Group* g = find(request.replay_dead_letters().group())) {
        const auto& offsets = request.replay_dead_letters().offsets();
        admin.set_affected(g->Replay({offsets.begin(), offsets.end()}));
        spdlog::info("group {}: {} dead letters replayed", g->name(), admin.affected());
        touched = g;
      }
      break;
    case v1::GroupRequest::kPurgeDeadLetters:
      if (Group* g = find(request.purge_dead_letters().group())) {
        const auto& offsets = request.purge_dead_letters().offsets();
        admin.set_affected(g->Purge({offsets.begin(), offsets.end()}));
        spdlog::info("group {}: {} dead letters purged", g->name(), admin.affected());
        touched = g;
      }
      break;
    case v1::GroupRequest::kSetGroupSettings:
      if (Group* g = find(request.set_group_settings().group())) {
        if (Status s = g->SetSettings(request.set_group_settings()); !s.ok()) {
          ++counters_.bad_requests;
          admin.set_error("group " + g->name() + ": " + s.message());
        } else {
          touched = g;
        }
      }
      break;
    case v1::GroupRequest::kSeekGroup:
      if (!request.seek_group().has_position() ||
          request.seek_group().position().position_case() == v1::StartPosition::POSITION_NOT_SET) {
        admin.set_error("seek needs a position");
      } else if (Group* g = find(request.seek_group().group())) {
        Result<std::uint64_t> position = ResolvePosition(request.seek_group().position());
        if (!position.ok()) {
          ++counters_.bad_requests;
          ++counters_.refused[static_cast<std::size_t>(Refusal::kPosition)];
          admin.set_error("group " + g->name() + " cannot seek: " + position.status().message());
        } else {
          admin.set_affected(g->Seek(*position));
          touched = g;
        }
      }
      break;
    case v1::GroupRequest::kDeleteGroup:
      if (Group* g = find(request.delete_group().group())) {
        const std::string name = g->name();
        if (std::size_t members = g->member_count(); members > 0) {
          admin.set_error("group \"" + name + "\" has " + std::to_string(members) +
                          (members == 1 ? " member" : " members") + " connected; stop them first");
        } else if (Status s = DeleteGroup(name); !s.ok()) {
          admin.set_error("cannot delete group \"" + name + "\": " + s.message());
          spdlog::error("group {}: cannot delete it: {}", name, s.ToString());
        } else {
          admin.set_affected(1);
          spdlog::info("group {}: deleted (position and dead letters forgotten)", name);
        }
      }
      break;
    default:
      break;
  }
  Send(peer, reply);
  if (touched != nullptr) {
    Watch(touched);
    touched->Pump(now, durable_);
  }
}

void Coordinator::Impl::CheckInvariants() const {
  for (const auto& [name, group] : groups_) group->CheckInvariants();
}

}  // namespace signalbus::groups
