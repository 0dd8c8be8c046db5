// The allow-list (docs/security.md): the CURVE public keys of the clients that may
// connect, the principal (a service's name) each key authenticates as, and what each
// principal may do — publish which topics, read which topics, join which groups, make
// which admin requests. Read from a TOML file at start and on SIGHUP; an immutable value
// once loaded (a reload builds a new one).
//
//   [[principal]]
//   name = "accounts"                       # [A-Za-z0-9_.-]{1,100}, unique
//   keys = ["<40 Z85 characters>", ...]     # each key belongs to one principal
//   publish = ["auth.User/*"]               # topic patterns it may publish
//   subscribe = ["auth.User/post_save"]     # patterns it may read: live, and groups' subscriptions
//   join = ["profile-creator", "audit-*"]   # group names it may join ("x-*": a prefix; "*": any)
//   admin = ["list"]                        # list, dead-letters, replay, purge, seek, delete, settings; "*": all
//   publisher_ids = ["accounts-outbox*"]    # fixed publisher ids no other principal may use
//
// Anything not granted is refused; an unknown key in a table or a misspelt right is an
// error, never ignored.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/core/topic.h"

namespace signalbus::auth {

// The admin requests on the groups socket, as the allow-list names them.
// "list": the groups and their progress; "dead-letters": a group's dead letters, with
// their events.
inline constexpr std::string_view kAdminRights[] = {"list", "dead-letters", "replay", "purge", "seek", "delete",
                                                    "settings"};

struct Principal {
  std::string name;
  bool everything = false;  // every grant (the principal of all peers when CURVE is off)
  std::vector<TopicPattern> publish;
  std::vector<TopicPattern> subscribe;
  std::vector<std::string> join;   // exact names, "prefix*" or "*"
  std::vector<std::string> admin;  // members of kAdminRights, or "*"
  // Publisher ids reserved for this principal: exact ids or "prefix*". It may still use
  // others (a fresh id per process, say); no other principal may use these.
  std::vector<std::string> publisher_ids;

  bool MayPublish(std::string_view topic) const;
  // True when every topic `pattern` can match is one this principal may read.
  bool MaySubscribe(const TopicPattern& pattern) const;
  bool MayJoin(std::string_view group) const;
  bool MayAdmin(std::string_view right) const;
  bool Reserves(std::string_view publisher_id) const;
};

// The principal every peer is when CURVE is off: "everyone", with every grant.
const Principal& Everyone();

class AllowList {
 public:
  AllowList() = default;
  // `source` names the text in errors (its path). Errors say where ("principal 2
  // (billing): ...") and never print a key.
  static Result<AllowList> Parse(std::string_view toml, const std::string& source);
  static Result<AllowList> Load(const std::string& path);

  // The principal a client key (Z85) authenticates as; nullptr when it is not listed.
  const Principal* Find(std::string_view public_key) const;
  // The principal that reserved `publisher_id` (publisher_ids); nullptr when none did.
  // Reservations never overlap (Parse refuses a list where they do).
  const Principal* ReservedFor(std::string_view publisher_id) const;
  std::size_t principals() const { return principals_.size(); }
  std::size_t keys() const { return by_key_.size(); }

 private:
  std::vector<Principal> principals_;
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>()(key); }
  };
  // Z85 public key -> principals_ index; looked up without a copy of the key.
  std::unordered_map<std::string, std::size_t, KeyHash, std::equal_to<>> by_key_;
};

// What logs say about a key: its first 8 Z85 characters (a public key; never a secret).
std::string KeyFingerprint(std::string_view public_key);

}  // namespace signalbus::auth
