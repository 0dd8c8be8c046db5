// Handlers of the profile-creator: from auth.User events to profile store operations.
#include "profile_creator/profile_creator.h"

#include <charconv>
#include <stdexcept>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "signalbus/core/logging.h"

namespace signalbus::profile_creator {
namespace {

// auth.User has an integer pk; anything else cannot be stored in profile.user_id.
std::int64_t UserPk(const v1::Instance& instance, const v1::Event& event) {
  std::string_view pk = instance.pk();
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(pk.data(), pk.data() + pk.size(), value);
  if (pk.empty() || ec != std::errc() || end != pk.data() + pk.size()) {
    throw std::invalid_argument("event " + event.event_id() + ": auth.User pk '" + Printable(pk) +
                                "' is not an integer");
  }
  return value;
}

void ThrowIfFailed(const Status& status, const v1::Event& event) {
  if (!status.ok()) throw std::runtime_error("event " + event.event_id() + ": " + status.ToString());
}

}  // namespace

void ProfileCreator::Register(Receiver& receiver) {
  receiver.on("post_save", kUserSender, [this](const v1::Event& e) { OnUserSaved(e); })
      .on("post_delete", kUserSender, [this](const v1::Event& e) { OnUserDeleted(e); });
}

void ProfileCreator::OnUserSaved(const v1::Event& event) {
  if (!event.has_model_save()) throw std::invalid_argument("event " + event.event_id() + " has no model_save");
  if (!event.model_save().created()) {
    ++stats_.ignored;
    return;
  }
  std::int64_t user_pk = UserPk(event.model_save().instance(), event);
  Result<Outcome> outcome = store_.CreateForUser(event.event_id(), user_pk);
  ThrowIfFailed(outcome.status(), event);
  Count(*outcome, &stats_.created);
  spdlog::debug("user {} created (event {}): profile {}", user_pk, event.event_id(),
                *outcome == Outcome::kApplied ? "created" : OutcomeName(*outcome));
}

void ProfileCreator::OnUserDeleted(const v1::Event& event) {
  if (!event.has_model_delete()) throw std::invalid_argument("event " + event.event_id() + " has no model_delete");
  std::int64_t user_pk = UserPk(event.model_delete().instance(), event);
  Result<Outcome> outcome = store_.DeleteForUser(event.event_id(), user_pk);
  ThrowIfFailed(outcome.status(), event);
  Count(*outcome, &stats_.deleted);
  spdlog::debug("user {} deleted (event {}): profile {}", user_pk, event.event_id(),
                *outcome == Outcome::kApplied ? "deleted" : OutcomeName(*outcome));
}

void ProfileCreator::Count(Outcome outcome, std::uint64_t* applied) {
  switch (outcome) {
    case Outcome::kApplied: ++*applied; break;
    case Outcome::kNoChange: ++stats_.unchanged; break;
    case Outcome::kDuplicate: ++stats_.duplicates; break;
  }
}

}  // namespace signalbus::profile_creator
