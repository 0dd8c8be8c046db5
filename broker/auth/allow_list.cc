// The allow-list: its TOML form, and the rules each grant follows.
#include "signalbus/auth/allow_list.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "signalbus/core/codec.h"
#include "signalbus/core/curve_keys.h"
#include "signalbus/core/logging.h"

namespace signalbus::auth {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

// A segment of a granted pattern covers a requested one: "*" covers anything, a literal
// only itself.
bool Covers(const std::string& granted, bool granted_any, const std::string& asked, bool asked_any) {
  return granted_any || (!asked_any && granted == asked);
}

// Reads one array of strings from `table`; a missing key is an empty array.
Result<std::vector<std::string>> Strings(const toml::table& table, std::string_view key, const std::string& where) {
  std::vector<std::string> out;
  const toml::node* node = table.get(key);
  if (node == nullptr) return out;
  const toml::array* array = node->as_array();
  if (array == nullptr) return InvalidArgument(where + ": '" + std::string(key) + "' must be an array of strings");
  for (const toml::node& item : *array) {
    const auto* text = item.as_string();
    if (text == nullptr) return InvalidArgument(where + ": '" + std::string(key) + "' must be an array of strings");
    out.push_back(text->get());
  }
  return out;
}

Result<std::vector<TopicPattern>> Patterns(const toml::table& table, std::string_view key, const std::string& where) {
  Result<std::vector<std::string>> texts = Strings(table, key, where);
  if (!texts.ok()) return texts.status();
  std::vector<TopicPattern> out;
  for (const std::string& text : *texts) {
    Result<TopicPattern> pattern = TopicPattern::Parse(text);
    if (!pattern.ok()) {
      return InvalidArgument(where + ": " + std::string(key) + " '" + text + "': " + pattern.status().message());
    }
    out.push_back(std::move(pattern).value());
  }
  return out;
}

Status CheckJoin(const std::vector<std::string>& join, const std::string& where) {
  for (const std::string& name : join) {
    std::string_view stem = name;
    if (!stem.empty() && stem.back() == '*') stem.remove_suffix(1);
    if (name != "*" && !ValidName(stem)) {
      return InvalidArgument(where + ": join '" + name + "' is not a group name, a prefix ending in '*', or '*'");
    }
  }
  return Status::Ok();
}

// A name grant ("x", "x-*" or "*") covers `name`.
bool NameGranted(std::string_view granted, std::string_view name) {
  if (!granted.empty() && granted.back() == '*') {
    granted.remove_suffix(1);
    return name.substr(0, granted.size()) == granted;
  }
  return name == granted;
}

// Two reservations overlap when some publisher id matches both.
bool Overlap(std::string_view a, std::string_view b) {
  const bool a_prefix = !a.empty() && a.back() == '*', b_prefix = !b.empty() && b.back() == '*';
  if (a_prefix) a.remove_suffix(1);
  if (b_prefix) b.remove_suffix(1);
  if (a_prefix && b_prefix) return a.substr(0, b.size()) == b.substr(0, a.size());
  if (a_prefix) return b.substr(0, a.size()) == a;
  if (b_prefix) return a.substr(0, b.size()) == b;
  return a == b;
}

Status CheckPublisherIds(const std::vector<std::string>& ids, const std::string& where) {
  for (const std::string& id : ids) {
    std::string_view stem = id;
    if (!stem.empty() && stem.back() == '*') stem.remove_suffix(1);
    if (stem.empty() || !ValidatePublisherId(stem).ok()) {
      return InvalidArgument(where + ": publisher_ids '" + Printable(id, 40) +
                             "' is not a publisher id or a prefix of one ending in '*' (ASCII letters, digits and "
                             ". _ : -)");
    }
  }
  return Status::Ok();
}

Status CheckAdmin(const std::vector<std::string>& admin, const std::string& where) {
  for (const std::string& right : admin) {
    bool known = right == "*" || std::find(std::begin(kAdminRights), std::end(kAdminRights), right) !=
                                     std::end(kAdminRights);
    if (!known) {
      return InvalidArgument(where + ": admin '" + right +
                             "' is not one of list, dead-letters, replay, purge, seek, delete, settings or '*'");
    }
  }
  return Status::Ok();
}

constexpr std::string_view kFields[] = {"name", "keys", "publish", "subscribe", "join", "admin", "publisher_ids"};

}  // namespace

const Principal& Everyone() {
  static const Principal* everyone = [] {
    auto* p = new Principal;
    p->name = "everyone";
    p->everything = true;
    return p;
  }();
  return *everyone;
}

bool Principal::MayPublish(std::string_view topic) const {
  if (everything) return true;
  return std::any_of(publish.begin(), publish.end(), [&](const TopicPattern& p) { return p.Matches(topic); });
}

bool Principal::MaySubscribe(const TopicPattern& pattern) const {
  if (everything) return true;
  return std::any_of(subscribe.begin(), subscribe.end(), [&](const TopicPattern& granted) {
    return Covers(granted.sender(), granted.any_sender(), pattern.sender(), pattern.any_sender()) &&
           Covers(granted.signal(), granted.any_signal(), pattern.signal(), pattern.any_signal());
  });
}

bool Principal::MayJoin(std::string_view group) const {
  if (everything) return true;
  return std::any_of(join.begin(), join.end(), [&](const std::string& granted) { return NameGranted(granted, group); });
}

bool Principal::Reserves(std::string_view publisher_id) const {
  return std::any_of(publisher_ids.begin(), publisher_ids.end(),
                     [&](const std::string& reserved) { return NameGranted(reserved, publisher_id); });
}

bool Principal::MayAdmin(std::string_view right) const {
  if (everything) return true;
  return std::any_of(admin.begin(), admin.end(), [&](const std::string& r) { return r == "*" || r == right; });
}

Result<AllowList> AllowList::Parse(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return InvalidArgument(source + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
                           std::string(e.description()));
  }
  for (const auto& [key, node] : root) {
    if (key.str() != "principal") {
      return InvalidArgument(source + ": unknown top-level key '" + std::string(key.str()) +
                             "' (expected [[principal]] tables)");
    }
  }
  AllowList list;
  const toml::node* tables = root.get("principal");
  if (tables == nullptr) return list;
  const toml::array* array = tables->as_array();
  if (array == nullptr) return InvalidArgument(source + ": 'principal' must be an array of tables ([[principal]])");
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table* table = (*array)[i].as_table();
    std::string where = source + ": principal " + std::to_string(i + 1);
    if (table == nullptr) return InvalidArgument(where + " is not a table");
    for (const auto& [key, node] : *table) {
      if (std::find(std::begin(kFields), std::end(kFields), key.str()) == std::end(kFields)) {
        return InvalidArgument(where + ": unknown key '" + std::string(key.str()) +
                               "' (name, keys, publish, subscribe, join, admin, publisher_ids)");
      }
    }
    Principal principal;
    std::optional<std::string> name = table->get("name") ? table->get("name")->value<std::string>() : std::nullopt;
    if (!name || !ValidName(*name)) return InvalidArgument(where + ": 'name' must be [A-Za-z0-9_.-]{1,100}");
    principal.name = *name;
    where += " (" + principal.name + ")";
    for (const Principal& other : list.principals_) {
      if (other.name == principal.name) return InvalidArgument(where + ": a second principal of this name");
    }
    Result<std::vector<std::string>> keys = Strings(*table, "keys", where);
    if (!keys.ok()) return keys.status();
    auto publish = Patterns(*table, "publish", where);
    if (!publish.ok()) return publish.status();
    auto subscribe = Patterns(*table, "subscribe", where);
    if (!subscribe.ok()) return subscribe.status();
    auto join = Strings(*table, "join", where);
    if (!join.ok()) return join.status();
    if (Status s = CheckJoin(*join, where); !s.ok()) return s;
    auto admin = Strings(*table, "admin", where);
    if (!admin.ok()) return admin.status();
    if (Status s = CheckAdmin(*admin, where); !s.ok()) return s;
    auto publisher_ids = Strings(*table, "publisher_ids", where);
    if (!publisher_ids.ok()) return publisher_ids.status();
    if (Status s = CheckPublisherIds(*publisher_ids, where); !s.ok()) return s;
    for (const std::string& id : *publisher_ids) {
      for (const Principal& other : list.principals_) {
        for (const std::string& theirs : other.publisher_ids) {
          if (Overlap(id, theirs)) {
            return InvalidArgument(where + ": publisher_ids '" + id + "' overlaps principal " + other.name + "'s '" +
                                   theirs + "': a publisher id is reserved for one principal");
          }
        }
      }
    }
    principal.publish = std::move(publish).value();
    principal.subscribe = std::move(subscribe).value();
    principal.join = std::move(join).value();
    principal.admin = std::move(admin).value();
    principal.publisher_ids = std::move(publisher_ids).value();
    const std::size_t index = list.principals_.size();
    for (std::size_t k = 0; k < keys->size(); ++k) {
      const std::string& key = (*keys)[k];
      std::string what = "key " + std::to_string(k + 1);
      if (Status s = ValidateCurveKey(key, what); !s.ok()) return InvalidArgument(where + ": " + s.message());
      auto [it, inserted] = list.by_key_.emplace(key, index);
      if (!inserted) {
        return InvalidArgument(where + ": " + what + " (" + KeyFingerprint(key) + "...) is also principal " +
                               list.principals_[it->second].name + "'s: a key authenticates as one principal");
      }
    }
    list.principals_.push_back(std::move(principal));
  }
  return list;
}

Result<AllowList> AllowList::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read the allow-list " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Internal("cannot read the allow-list " + path);
  return Parse(text.str(), path);
}

const Principal* AllowList::Find(std::string_view public_key) const {
  auto it = by_key_.find(public_key);
  return it == by_key_.end() ? nullptr : &principals_[it->second];
}

const Principal* AllowList::ReservedFor(std::string_view publisher_id) const {
  for (const Principal& principal : principals_) {
    if (principal.Reserves(publisher_id)) return &principal;
  }
  return nullptr;
}

std::string KeyFingerprint(std::string_view public_key) { return std::string(public_key.substr(0, 8)); }

}  // namespace signalbus::auth
