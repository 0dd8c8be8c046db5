// ProfileCreator: the classic Django receiver, out of process. A created auth.User gets
// an empty profile; a deleted one loses it. Wires ProfileStore operations to a Receiver.
#pragma once

#include <cstdint>

#include "profile_creator/profile_store.h"
#include "signalbus/receivers/receiver.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus::profile_creator {

inline constexpr const char* kUserSender = "auth.User";

struct ProfileCreatorStats {
  std::uint64_t created = 0;
  std::uint64_t deleted = 0;
  std::uint64_t unchanged = 0;   // processed, but the profile already / no longer existed
  std::uint64_t duplicates = 0;  // event ids seen before
  std::uint64_t ignored = 0;     // post_save of an existing user (created == false)
};

// Not thread-safe: its handlers run on the Receiver's Run() thread; read stats() there or
// after Run() returned.
class ProfileCreator {
 public:
  // `store` must outlive this object and the receiver it is registered on.
  explicit ProfileCreator(ProfileStore& store) : store_(store) {}

  // Registers auth.User/post_save and auth.User/post_delete on `receiver`.
  void Register(Receiver& receiver);

  // The handlers. They throw (std::runtime_error, std::invalid_argument) when the event
  // cannot be applied: a database error, a pk that is not an integer. The Receiver counts
  // that as a handler failure and, in a consumer group, nacks the event: it is retried
  // with backoff, then dead-lettered. Idempotent by event id, as a group member must be:
  // an event delivered again changes nothing.
  void OnUserSaved(const v1::Event& event);
  void OnUserDeleted(const v1::Event& event);

  const ProfileCreatorStats& stats() const { return stats_; }

 private:
  void Count(Outcome outcome, std::uint64_t* applied);

  ProfileStore& store_;
  ProfileCreatorStats stats_;
};

}  // namespace signalbus::profile_creator
