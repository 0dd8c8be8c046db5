// Snapshot and Prometheus rendering of the broker's metrics.
#include "signalbus/broker/metrics.h"

#include <array>
#include <numeric>
#include <string_view>
#include <utility>

namespace signalbus::broker {
namespace {

void Header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

template <typename Int>
void Sample(std::string& out, const char* name, Int value, const char* label = nullptr,
            const char* label_name = "reason") {
  out += name;
  if (label != nullptr) {
    out += '{';
    out += label_name;
    out += "=\"";
    out += label;
    out += "\"}";
  }
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

constexpr std::array<GroupCounter, kGroupCounterCount> kAllGroupCounters = {
    GroupCounter::kDelivered, GroupCounter::kRedelivered, GroupCounter::kAcked,          GroupCounter::kNacked,
    GroupCounter::kStaleAcks, GroupCounter::kDeadLettered, GroupCounter::kMembersExpired, GroupCounter::kBadRequests,
    GroupCounter::kRepliesDropped};

const char* GroupCounterHelp(GroupCounter counter) {
  switch (counter) {
    case GroupCounter::kDelivered: return "Deliveries to consumer-group members, first attempts and retries.";
    case GroupCounter::kRedelivered: return "Deliveries with attempt > 1.";
    case GroupCounter::kAcked: return "Deliveries acknowledged.";
    case GroupCounter::kNacked: return "Deliveries a handler failed.";
    case GroupCounter::kStaleAcks: return "Acks or nacks refused because they named an earlier attempt.";
    case GroupCounter::kDeadLettered: return "Events moved to a dead-letter queue.";
    case GroupCounter::kMembersExpired: return "Members dropped after missed heartbeats.";
    case GroupCounter::kBadRequests: return "Malformed or refused group requests.";
    case GroupCounter::kRepliesDropped:
      return "Replies and deliveries not queued: the peer was gone or its queue full (--groups-peer-queue).";
  }
  return "";
}

// A Prometheus label value: backslash, double quote and newline escaped.
std::string LabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

void RenderGroupGauges(std::string& out, const std::vector<v1::GroupInfo>& groups) {
  struct Family {
    const char* name;
    const char* help;
    std::uint64_t (*value)(const v1::GroupInfo&);
  };
  static constexpr Family kFamilies[] = {
      {kGroupMembersMetric, "Members connected, per consumer group.", [](const v1::GroupInfo& g) { return std::uint64_t{g.members()}; }},
      {kGroupLagMetric, "Offsets up to the durable head the group has not finished (unread, waiting or in flight).",
       [](const v1::GroupInfo& g) { return g.lag(); }},
      {kGroupPendingMetric, "Deliveries sent to members and not yet acked.",
       [](const v1::GroupInfo& g) { return g.pending(); }},
      {kGroupDeadLettersMetric, "Events in the group's dead-letter queue.",
       [](const v1::GroupInfo& g) { return g.dead_lettered(); }},
      {kGroupAckFloorMetric, "Highest offset up to which every event is acked, dead-lettered or not subscribed.",
       [](const v1::GroupInfo& g) { return g.ack_floor(); }},
      {kGroupStalledMetric, "1 while the group cannot read the log at its position (see signalbus-admin groups).",
       [](const v1::GroupInfo& g) { return std::uint64_t{g.read_error().empty() ? 0u : 1u}; }},
  };
  for (const Family& family : kFamilies) {
    Header(out, family.name, "gauge", family.help);
    for (const v1::GroupInfo& g : groups) {
      out += family.name;
      out += "{group=\"";
      out += LabelValue(g.name());
      out += "\"} ";
      out += std::to_string(family.value(g));
      out += '\n';
    }
  }
}

}  // namespace

const char* GroupCounterMetric(GroupCounter counter) {
  switch (counter) {
    case GroupCounter::kDelivered: return "signalbus_group_delivered_total";
    case GroupCounter::kRedelivered: return "signalbus_group_redelivered_total";
    case GroupCounter::kAcked: return "signalbus_group_acked_total";
    case GroupCounter::kNacked: return "signalbus_group_nacked_total";
    case GroupCounter::kStaleAcks: return "signalbus_group_stale_acks_total";
    case GroupCounter::kDeadLettered: return "signalbus_group_dead_lettered_total";
    case GroupCounter::kMembersExpired: return "signalbus_group_members_expired_total";
    case GroupCounter::kBadRequests: return "signalbus_group_bad_requests_total";
    case GroupCounter::kRepliesDropped: return "signalbus_group_replies_dropped_total";
  }
  return "";
}

std::uint64_t MetricsSnapshot::rejected_total() const {
  return std::accumulate(rejected.begin(), rejected.end(), std::uint64_t{0});
}

void Metrics::SetGroups(std::vector<v1::GroupInfo> groups) {
  std::lock_guard lock(groups_mutex_);
  group_infos_ = std::move(groups);
}

std::vector<v1::GroupInfo> Metrics::GroupsSnapshot() const {
  std::lock_guard lock(groups_mutex_);
  return group_infos_;
}

MetricsSnapshot Metrics::Snapshot() const {
  MetricsSnapshot s;
  s.accepted = accepted_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kRejectReasonCount; ++i) s.rejected[i] = rejected_[i].load(std::memory_order_relaxed);
  s.ingest_bytes = ingest_bytes_.load(std::memory_order_relaxed);
  s.live = live_.Snapshot();
  s.logged = logged_.load(std::memory_order_relaxed);
  s.duplicates = duplicates_.load(std::memory_order_relaxed);
  s.out_of_order = out_of_order_.load(std::memory_order_relaxed);
  s.durable_offset = durable_offset_.load(std::memory_order_relaxed);
  s.confirms_sent = confirms_sent_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kRefusalCount; ++i) s.refused[i] = refused_[i].load(std::memory_order_relaxed);
  s.sessions_opened = sessions_opened_.load(std::memory_order_relaxed);
  s.sessions_taken_over = sessions_taken_over_.load(std::memory_order_relaxed);
  s.publishers = publishers_.load(std::memory_order_relaxed);
  s.publisher_sessions = publisher_sessions_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kGroupCounterCount; ++i) s.groups[i] = groups_[i].load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < groups::kRefusalCount; ++i) {
    s.group_refused[i] = group_refused_[i].load(std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < kAuthOpCount; ++i) {
    s.auth_refused[i] = auth_refused_[i].load(std::memory_order_relaxed);
  }
  s.auth_up = auth_up_.load(std::memory_order_relaxed);
  return s;
}

std::string Metrics::RenderPrometheus() const {
  MetricsSnapshot s = Snapshot();
  std::string out;
  out.reserve(1536);
  Header(out, kAcceptedMetric, "counter", "Events accepted on ingest.");
  Sample(out, kAcceptedMetric, s.accepted);
  Header(out, kRejectedMetric, "counter", "Messages dropped on ingest, by reason.");
  for (RejectReason reason : kAllRejectReasons) {
    Sample(out, kRejectedMetric, s.rejected[RejectReasonIndex(reason)], RejectReasonName(reason));
  }
  Header(out, kIngestBytesMetric, "counter", "Bytes of every frame read on ingest, accepted or not.");
  Sample(out, kIngestBytesMetric, s.ingest_bytes);
  Header(out, kLiveForwardedMetric, "counter", "Events sent to live listeners (one per listener and event).");
  Sample(out, kLiveForwardedMetric, s.live.forwarded);
  Header(out, kLiveDroppedMetric, "counter",
         "Events not sent to a live listener they matched, because its window was full (reported to it).");
  Sample(out, kLiveDroppedMetric, s.live.dropped);
  Header(out, kLiveExpiredMetric, "counter", "Live listeners expired after three silent heartbeat intervals.");
  Sample(out, kLiveExpiredMetric, s.live.expired);
  Header(out, kLiveRefusedMetric, "counter", "Live requests (or patterns of them) refused, by reason.");
  for (LiveRefusal refusal : kAllLiveRefusals) {
    Sample(out, kLiveRefusedMetric, s.live.refused[LiveRefusalIndex(refusal)], LiveRefusalName(refusal).data());
  }
  Header(out, kLiveListenersMetric, "gauge", "Live listeners held (expired ones until their connection is gone).");
  Sample(out, kLiveListenersMetric, s.live.listeners);
  Header(out, kLiveSubscriptionsMetric, "gauge", "Topic patterns held by live listeners that events are sent to.");
  Sample(out, kLiveSubscriptionsMetric, s.live.subscriptions);
  Header(out, kLiveUnreadBytesMetric, "gauge",
         "Bytes sent to live listeners and not yet credited, per message charged with its overhead.");
  Sample(out, kLiveUnreadBytesMetric, s.live.unread_bytes);
  Header(out, kLiveReservedBytesMetric, "gauge", "Windows granted to live listeners, in total.");
  Sample(out, kLiveReservedBytesMetric, s.live.reserved_bytes);
  Header(out, kLoggedMetric, "counter", "Events appended to the durable log.");
  Sample(out, kLoggedMetric, s.logged);
  Header(out, kDuplicatesMetric, "counter", "Events dropped as re-sends of logged ones (publisher_id, sequence).");
  Sample(out, kDuplicatesMetric, s.duplicates);
  Header(out, kOutOfOrderMetric, "counter",
         "Events dropped, not logged, because an earlier sequence of their publisher is missing (re-sent later).");
  Sample(out, kOutOfOrderMetric, s.out_of_order);
  Header(out, kDurableOffsetMetric, "gauge", "Highest log offset on disk (fdatasync'ed per the sync policy).");
  Sample(out, kDurableOffsetMetric, s.durable_offset);
  Header(out, kConfirmsSentMetric, "counter", "Publish confirms sent, each to the one connection it is for.");
  Sample(out, kConfirmsSentMetric, s.confirms_sent);
  Header(out, kRefusedMetric, "counter", "Hellos and events refused by the publisher-session rules, by reason.");
  for (Refusal refusal : kAllRefusals) {
    Sample(out, kRefusedMetric, s.refused[RefusalIndex(refusal)], RefusalName(refusal));
  }
  Header(out, kAuthRefusedMetric, "counter",
         "Connections, messages and requests refused by access control (CURVE on), by operation.");
  for (AuthOp op : kAllAuthOps) Sample(out, kAuthRefusedMetric, s.auth_refused[AuthOpIndex(op)], AuthOpName(op), "op");
  Header(out, kAuthUpMetric, "gauge", "1 while new clients can be authenticated (or CURVE is off); 0 when not.");
  Sample(out, kAuthUpMetric, s.auth_up ? 1 : 0);
  Header(out, kSessionsOpenedMetric, "counter", "Publisher sessions opened by a hello.");
  Sample(out, kSessionsOpenedMetric, s.sessions_opened);
  Header(out, kSessionsTakenOverMetric, "counter",
         "Publisher sessions closed because a newer connection opened one for the same publisher id.");
  Sample(out, kSessionsTakenOverMetric, s.sessions_taken_over);
  Header(out, kPublishersMetric, "gauge", "Publisher ids the broker remembers (for dedupe and sequence checks).");
  Sample(out, kPublishersMetric, s.publishers);
  Header(out, kPublisherSessionsMetric, "gauge", "Publisher sessions (connections speaking for a publisher id).");
  Sample(out, kPublisherSessionsMetric, s.publisher_sessions);
  for (GroupCounter counter : kAllGroupCounters) {
    Header(out, GroupCounterMetric(counter), "counter", GroupCounterHelp(counter));
    Sample(out, GroupCounterMetric(counter), s.groups[static_cast<std::size_t>(counter)]);
  }
  Header(out, kGroupRefusedMetric, "counter", "Group requests refused, by reason (also in bad_requests_total).");
  for (std::size_t i = 0; i < groups::kRefusalCount; ++i) {
    Sample(out, kGroupRefusedMetric, s.group_refused[i], groups::RefusalName(static_cast<groups::Refusal>(i)));
  }
  RenderGroupGauges(out, GroupsSnapshot());
  return out;
}

}  // namespace signalbus::broker
