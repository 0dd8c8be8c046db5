// Table and NDJSON rendering for signalbus-admin.
#include "admin_output.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include <google/protobuf/util/time_util.h>

#include "signalbus/core/event_json.h"
#include "signalbus/v1/event.pb.h"

namespace signalbus::admin {
namespace {

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (std::size_t rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out.push_back(c);  // protobuf strings are UTF-8 already
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string GroupsTable(const std::vector<v1::GroupInfo>& groups) {
  constexpr std::size_t kColumns = 9;
  using Row = std::array<std::string, kColumns>;
  std::vector<Row> rows;
  rows.push_back(
      Row{"GROUP", "MEMBERS", "HEAD", "ACK-FLOOR", "LAG", "PENDING", "REDELIVERED", "DEAD-LETTERED", "ACKED"});
  for (const v1::GroupInfo& g : groups) {
    rows.push_back(Row{g.name(), std::to_string(g.members()), std::to_string(g.head_offset()),
                       std::to_string(g.ack_floor()), std::to_string(g.lag()), std::to_string(g.pending()),
                       std::to_string(g.redelivered()), std::to_string(g.dead_lettered()), std::to_string(g.acked())});
  }
  std::array<std::size_t, kColumns> width{};
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < kColumns; ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < kColumns; ++c) {
      line += row[c];
      if (c + 1 < kColumns) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  // A group that cannot read the log says so under the table: it delivers nothing until
  // the log is readable at its position again or it is moved past (seek).
  for (const v1::GroupInfo& g : groups) {
    if (g.read_error().empty()) continue;
    out += "group " + g.name() + " is stalled: " + g.read_error() + " (retried every second; `signalbus-admin seek " +
           g.name() + " --offset N` moves it past)\n";
  }
  return out;
}

std::string GroupJson(const v1::GroupInfo& g) {
  std::string subscriptions;
  for (const std::string& s : g.subscriptions()) {
    if (!subscriptions.empty()) subscriptions += ",";
    subscriptions += JsonString(s);
  }
  return "{\"group\":" + JsonString(g.name()) + ",\"subscriptions\":[" + subscriptions +
         "],\"members\":" + std::to_string(g.members()) + ",\"head\":" + std::to_string(g.head_offset()) +
         ",\"ack_floor\":" + std::to_string(g.ack_floor()) + ",\"lag\":" + std::to_string(g.lag()) +
         ",\"pending\":" + std::to_string(g.pending()) + ",\"redelivered\":" + std::to_string(g.redelivered()) +
         ",\"dead_lettered\":" + std::to_string(g.dead_lettered()) + ",\"acked\":" + std::to_string(g.acked()) +
         (g.max_deliver() == 0 ? std::string()  // a broker from before settings were listed
                               : ",\"ack_timeout_ms\":" + std::to_string(g.ack_timeout_ms()) +
                                     ",\"max_deliver\":" + std::to_string(g.max_deliver()) +
                                     ",\"backoff_initial_ms\":" + std::to_string(g.backoff_initial_ms()) +
                                     ",\"backoff_max_ms\":" + std::to_string(g.backoff_max_ms())) +
         (g.read_error().empty() ? std::string() : ",\"read_error\":" + JsonString(g.read_error())) + "}";
}

std::string DeadLetterJson(const v1::DeadLetter& d) {
  std::string out = "{\"offset\":" + std::to_string(d.offset()) + ",\"attempts\":" + std::to_string(d.attempts()) +
                    ",\"error\":" + JsonString(d.error()) + ",\"topic\":" + JsonString(d.topic());
  if (d.has_dead_lettered_at()) {
    out += ",\"dead_lettered_at\":" + JsonString(google::protobuf::util::TimeUtil::ToString(d.dead_lettered_at()));
  }
  // Parsed without validation: an event dead-lettered for being invalid is shown too.
  v1::Event event;
  Result<std::string> json = Status(StatusCode::kDataLoss, "not parsed");
  if (event.ParseFromString(d.event())) json = EventToJson(event);
  if (json.ok()) {
    out += ",\"event\":" + *json;
  } else {
    out += ",\"event\":null,\"event_base64\":" + JsonString(Base64(d.event()));
  }
  return out + "}";
}

std::string DescribePosition(const v1::StartPosition& position) {
  switch (position.position_case()) {
    case v1::StartPosition::kEarliest: return "earliest";
    case v1::StartPosition::kLatest: return "latest";
    case v1::StartPosition::kOffset: return "offset " + std::to_string(position.offset());
    case v1::StartPosition::kTime: return google::protobuf::util::TimeUtil::ToString(position.time());
    case v1::StartPosition::POSITION_NOT_SET: break;
  }
  return "the default position";
}

}  // namespace signalbus::admin
