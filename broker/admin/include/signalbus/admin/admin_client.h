// AdminClient: what signalbus-admin says to the broker. One admin GroupRequest per call,
// over a fresh DEALER to the broker's groups endpoint, and one AdminReply back (see
// proto/signalbus/v1/groups.proto). A fresh socket per call keeps a late answer to an
// earlier call from being taken for the answer to this one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "signalbus/core/curve_config.h"
#include "signalbus/core/status.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::admin {

// Thread-compatible; each call blocks the calling thread for at most the timeout.
class AdminClient {
 public:
  // endpoint: the broker's groups endpoint (tcp://127.0.0.1:5557). curve: the broker's
  // public key and this client's key file (docs/security.md); empty fields come from
  // $SIGNALBUS_CURVE_SERVER_KEY and $SIGNALBUS_CURVE_KEY_FILE, none: no CURVE.
  AdminClient(std::string endpoint, std::chrono::milliseconds timeout, CurveClientSettings curve = {});

  // Sends `request` (an admin kind: list_groups, list_dead_letters, replay_dead_letters,
  // purge_dead_letters, seek_group, delete_group) and waits for the AdminReply. Errors:
  // kUnavailable "no broker answered at <endpoint> within <timeout>"; kInvalidArgument
  // carrying the broker's text when it refused the request (AdminReply.error or a
  // GroupError) or the endpoint is malformed.
  Result<v1::AdminReply> Call(const v1::GroupRequest& request) const;

  // Every group, fetched page after page (the broker answers in pages).
  Result<std::vector<v1::GroupInfo>> ListGroups() const;
  // The first `limit` dead letters, page after page; limit 0: the broker's default (100,
  // or what fits in one page).
  Result<std::vector<v1::DeadLetter>> ListDeadLetters(const std::string& group, std::uint32_t limit) const;
  // offsets empty: all of the group's dead letters. Returns how many were affected.
  Result<std::uint64_t> ReplayDeadLetters(const std::string& group, const std::vector<std::uint64_t>& offsets) const;
  Result<std::uint64_t> PurgeDeadLetters(const std::string& group, const std::vector<std::uint64_t>& offsets) const;
  // Moves the group to `position`; its pending deliveries are abandoned.
  Status Seek(const std::string& group, const v1::StartPosition& position) const;
  // Forgets a group that has no members connected: its position and dead letters.
  Status DeleteGroup(const std::string& group) const;
  // Changes the settings in force of a group (nonzero fields of `change`; its group is
  // set here).
  Status SetGroupSettings(const std::string& group, v1::SetGroupSettings change) const;

  const std::string& endpoint() const { return endpoint_; }

 private:
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  CurveClientSettings curve_;
};

}  // namespace signalbus::admin
