// One request, one reply, bounded by a timeout: the admin side of the groups endpoint.
#include "signalbus/admin/admin_client.h"

#include <cerrno>
#include <optional>
#include <utility>

#include <zmq.hpp>

#include "signalbus/core/connection_watch.h"
#include "signalbus/core/duration.h"
#include "signalbus/core/endpoints.h"
#include "signalbus/core/logging.h"
#include "signalbus/core/sockets.h"

namespace signalbus::admin {

AdminClient::AdminClient(std::string endpoint, std::chrono::milliseconds timeout, CurveClientSettings curve)
    : endpoint_(std::move(endpoint)), timeout_(timeout), curve_(std::move(curve)) {}

Result<v1::AdminReply> AdminClient::Call(const v1::GroupRequest& request) const {
  if (Status s = ValidateEndpoint(endpoint_); !s.ok()) return InvalidArgument("broker endpoint: " + s.message());
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + timeout_;
  Result<std::optional<CurveSecurity>> curve = LoadCurveClient(CurveClientFromEnv(curve_));
  if (!curve.ok()) return curve.status();
  SocketOptions options;
  options.curve = std::move(curve).value();
  std::optional<zmq::socket_t> socket_holder;
  try {
    socket_holder.emplace(MakeSocket(SharedContext(), zmq::socket_type::dealer, options));
  } catch (const SocketSecurityError& e) {
    return FailedPrecondition(e.what());
  }
  zmq::socket_t& socket = *socket_holder;
  ConnectionWatch watch(SharedContext(), socket);
  auto no_answer = [&] {
    if (!watch.refusal().empty()) return PermissionDenied(endpoint_ + ": " + watch.refusal());
    return Unavailable("no broker answered at " + endpoint_ + " within " + FormatDuration(timeout_));
  };
  try {
    if (Status s = Connect(socket, endpoint_); !s.ok()) return s;
    // The request waits in the socket until the connection is up; the timeout bounds it.
    const std::string bytes = request.SerializeAsString();
    if (!socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) return no_answer();
    while (true) {
      zmq::message_t frame;
      while (TryRecvFrame(socket, frame)) {
        v1::GroupReply reply;
        if (frame.more() || !reply.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
          return Internal("undecodable reply from " + endpoint_ + ": '" + Printable(frame.to_string_view()) + "'");
        }
        if (reply.has_admin()) {
          if (!reply.admin().error().empty()) return InvalidArgument(Printable(reply.admin().error(), 500));
          return std::move(*reply.mutable_admin());
        }
        if (reply.has_error()) return InvalidArgument(Printable(reply.error().message(), 500));
        // Anything else is not for an admin peer: keep waiting for the answer.
      }
      const Clock::time_point now = Clock::now();
      if (now >= deadline) return no_answer();
      if (watch.Drain() == ConnectionWatch::Change::kRefused) return no_answer();
      zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}, {watch.socket().handle(), 0, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, 2, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
      }
    }
  } catch (const zmq::error_t& e) {
    return Unavailable("broker at " + endpoint_ + ": " + e.what());
  }
}

Result<std::vector<v1::GroupInfo>> AdminClient::ListGroups() const {
  // The broker answers in pages (64 KiB each), so that replies nobody reads stay small.
  std::vector<v1::GroupInfo> out;
  v1::GroupRequest request;
  request.mutable_list_groups();
  while (true) {
    Result<v1::AdminReply> reply = Call(request);
    if (!reply.ok()) return reply.status();
    for (v1::GroupInfo& g : *reply->mutable_groups()) out.push_back(std::move(g));
    if (!reply->more()) return out;
    // Each page must move on, or this would ask for ever.
    if (reply->groups().empty() || out.back().name() <= request.list_groups().after()) {
      return Internal("the broker at " + endpoint_ + " said there were more groups but did not move on");
    }
    request.mutable_list_groups()->set_after(out.back().name());
  }
}

Result<std::vector<v1::DeadLetter>> AdminClient::ListDeadLetters(const std::string& group,
                                                                 std::uint32_t limit) const {
  std::vector<v1::DeadLetter> out;
  v1::GroupRequest request;
  request.mutable_list_dead_letters()->set_group(group);
  while (true) {
    request.mutable_list_dead_letters()->set_limit(limit == 0 ? 0 : limit - static_cast<std::uint32_t>(out.size()));
    Result<v1::AdminReply> reply = Call(request);
    if (!reply.ok()) return reply.status();
    for (v1::DeadLetter& d : *reply->mutable_dead_letters()) out.push_back(std::move(d));
    // limit 0 is the broker's default: one answer, however many pages it would take.
    if (!reply->more() || limit == 0 || out.size() >= limit) return out;
    if (reply->dead_letters().empty() || out.back().offset() <= request.list_dead_letters().after_offset()) {
      return Internal("the broker at " + endpoint_ + " said there were more dead letters but did not move on");
    }
    request.mutable_list_dead_letters()->set_after_offset(out.back().offset());
  }
}

Result<std::uint64_t> AdminClient::ReplayDeadLetters(const std::string& group,
                                                     const std::vector<std::uint64_t>& offsets) const {
  v1::GroupRequest request;
  request.mutable_replay_dead_letters()->set_group(group);
  for (std::uint64_t offset : offsets) request.mutable_replay_dead_letters()->add_offsets(offset);
  Result<v1::AdminReply> reply = Call(request);
  if (!reply.ok()) return reply.status();
  return reply->affected();
}

Result<std::uint64_t> AdminClient::PurgeDeadLetters(const std::string& group,
                                                    const std::vector<std::uint64_t>& offsets) const {
  v1::GroupRequest request;
  request.mutable_purge_dead_letters()->set_group(group);
  for (std::uint64_t offset : offsets) request.mutable_purge_dead_letters()->add_offsets(offset);
  Result<v1::AdminReply> reply = Call(request);
  if (!reply.ok()) return reply.status();
  return reply->affected();
}

Status AdminClient::Seek(const std::string& group, const v1::StartPosition& position) const {
  v1::GroupRequest request;
  request.mutable_seek_group()->set_group(group);
  *request.mutable_seek_group()->mutable_position() = position;
  return Call(request).status();
}

Status AdminClient::DeleteGroup(const std::string& group) const {
  v1::GroupRequest request;
  request.mutable_delete_group()->set_group(group);
  return Call(request).status();
}

Status AdminClient::SetGroupSettings(const std::string& group, v1::SetGroupSettings change) const {
  v1::GroupRequest request;
  change.set_group(group);
  *request.mutable_set_group_settings() = std::move(change);
  return Call(request).status();
}

}  // namespace signalbus::admin
