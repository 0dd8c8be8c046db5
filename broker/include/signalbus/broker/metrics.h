// The broker's counters and gauges, and their Prometheus text exposition. Written by
// the poll thread, read by the metrics HTTP thread: every single value is an atomic used
// with relaxed ordering (each is an independent count; no reader needs a consistent
// cut); the per-group gauges are a list replaced whole under a mutex.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "signalbus/broker/auth_refusal.h"
#include "signalbus/broker/live_metrics.h"
#include "signalbus/broker/session_refusal.h"
#include "signalbus/broker/validator.h"
#include "signalbus/groups/coordinator.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::broker {

// Metric names, as they appear on /metrics.
inline constexpr const char* kAcceptedMetric = "signalbus_ingest_accepted_total";
inline constexpr const char* kRejectedMetric = "signalbus_ingest_rejected_total";  // {reason="..."}
inline constexpr const char* kIngestBytesMetric = "signalbus_ingest_bytes_total";
inline constexpr const char* kLoggedMetric = "signalbus_log_appended_total";
inline constexpr const char* kDuplicatesMetric = "signalbus_ingest_duplicates_total";
inline constexpr const char* kOutOfOrderMetric = "signalbus_ingest_out_of_order_total";
inline constexpr const char* kDurableOffsetMetric = "signalbus_log_durable_offset";
inline constexpr const char* kConfirmsSentMetric = "signalbus_publish_confirms_sent_total";
// Publisher sessions on ingest.
inline constexpr const char* kRefusedMetric = "signalbus_ingest_refused_total";  // {reason="..."}
inline constexpr const char* kSessionsOpenedMetric = "signalbus_publisher_sessions_opened_total";
inline constexpr const char* kSessionsTakenOverMetric = "signalbus_publisher_sessions_taken_over_total";
inline constexpr const char* kPublishersMetric = "signalbus_publishers";
inline constexpr const char* kPublisherSessionsMetric = "signalbus_publisher_sessions";
// Access control (CURVE on): refusals by AuthOp, signalbus_auth_refused_total{op="..."}.
inline constexpr const char* kAuthRefusedMetric = "signalbus_auth_refused_total";
// 1 while the ZAP handler answers (or CURVE is off); 0: no new client can connect.
inline constexpr const char* kAuthUpMetric = "signalbus_auth_handler_up";

// Consumer-group totals, copied from the coordinator by the poll thread.
enum class GroupCounter { kDelivered, kRedelivered, kAcked, kNacked, kStaleAcks, kDeadLettered, kMembersExpired,
                          kBadRequests, kRepliesDropped };
inline constexpr std::size_t kGroupCounterCount = 9;
const char* GroupCounterMetric(GroupCounter counter);
// Group requests refused, by groups::Refusal: signalbus_group_refused_total{reason="..."}.
inline constexpr const char* kGroupRefusedMetric = "signalbus_group_refused_total";

// Per-group gauges, labelled {group="..."}.
inline constexpr const char* kGroupMembersMetric = "signalbus_group_members";
inline constexpr const char* kGroupLagMetric = "signalbus_group_lag";
inline constexpr const char* kGroupPendingMetric = "signalbus_group_pending";
inline constexpr const char* kGroupDeadLettersMetric = "signalbus_group_dead_letters";
inline constexpr const char* kGroupAckFloorMetric = "signalbus_group_ack_floor";
inline constexpr const char* kGroupStalledMetric = "signalbus_group_stalled";


// A copy of every value, taken one by one.
struct MetricsSnapshot {
  std::uint64_t accepted = 0;
  std::array<std::uint64_t, kRejectReasonCount> rejected{};
  std::uint64_t ingest_bytes = 0;
  LiveMetricsSnapshot live;
  std::uint64_t logged = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t durable_offset = 0;
  std::uint64_t confirms_sent = 0;
  std::array<std::uint64_t, kRefusalCount> refused{};
  std::uint64_t sessions_opened = 0;
  std::uint64_t sessions_taken_over = 0;
  std::uint64_t publishers = 0;
  std::uint64_t publisher_sessions = 0;
  std::array<std::uint64_t, kGroupCounterCount> groups{};
  std::array<std::uint64_t, groups::kRefusalCount> group_refused{};
  std::array<std::uint64_t, kAuthOpCount> auth_refused{};
  bool auth_up = true;

  std::uint64_t rejected_total() const;
};

// Thread-safe.
class Metrics {
 public:
  void CountAccepted() { accepted_.fetch_add(1, std::memory_order_relaxed); }
  void CountRejected(RejectReason reason) {
    rejected_[RejectReasonIndex(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  // Every byte of every frame read on ingest, including frames that were dropped.
  void AddIngestBytes(std::uint64_t bytes) { ingest_bytes_.fetch_add(bytes, std::memory_order_relaxed); }
  // The live fan-out's own counters and gauges.
  LiveMetrics& live() { return live_; }
  void CountLogged(std::uint64_t n = 1) { logged_.fetch_add(n, std::memory_order_relaxed); }
  // Events dropped because their (publisher_id, sequence) was already logged.
  void CountDuplicate() { duplicates_.fetch_add(1, std::memory_order_relaxed); }
  // Events dropped because an earlier sequence of their publisher never arrived.
  void CountOutOfOrder() { out_of_order_.fetch_add(1, std::memory_order_relaxed); }
  void SetDurableOffset(std::uint64_t offset) { durable_offset_.store(offset, std::memory_order_relaxed); }
  void CountConfirmSent() { confirms_sent_.fetch_add(1, std::memory_order_relaxed); }
  // Hellos and events the publisher-session rules refused.
  void CountRefused(Refusal refusal) { refused_[RefusalIndex(refusal)].fetch_add(1, std::memory_order_relaxed); }
  void CountSessionOpened() { sessions_opened_.fetch_add(1, std::memory_order_relaxed); }
  void CountSessionTakenOver() { sessions_taken_over_.fetch_add(1, std::memory_order_relaxed); }
  void SetPublisherGauges(std::uint64_t publishers, std::uint64_t sessions) {
    publishers_.store(publishers, std::memory_order_relaxed);
    publisher_sessions_.store(sessions, std::memory_order_relaxed);
  }
  void SetGroupCounter(GroupCounter counter, std::uint64_t value) {
    groups_[static_cast<std::size_t>(counter)].store(value, std::memory_order_relaxed);
  }
  void SetGroupRefused(groups::Refusal reason, std::uint64_t value) {
    group_refused_[static_cast<std::size_t>(reason)].store(value, std::memory_order_relaxed);
  }

  void CountAuthRefused(AuthOp op) { auth_refused_[AuthOpIndex(op)].fetch_add(1, std::memory_order_relaxed); }
  // Totals counted elsewhere (the ZAP handler's thread counts connects).
  void SetAuthRefused(AuthOp op, std::uint64_t value) {
    auth_refused_[AuthOpIndex(op)].store(value, std::memory_order_relaxed);
  }
  void SetAuthUp(bool up) { auth_up_.store(up, std::memory_order_relaxed); }
  bool auth_up() const { return auth_up_.load(std::memory_order_relaxed); }

  // Replaces the groups behind the per-group gauges, as the coordinator lists them
  // (groups that are gone disappear from /metrics).
  void SetGroups(std::vector<v1::GroupInfo> groups);
  std::vector<v1::GroupInfo> GroupsSnapshot() const;

  MetricsSnapshot Snapshot() const;
  // Prometheus text format 0.0.4, with HELP and TYPE lines.
  std::string RenderPrometheus() const;

 private:
  std::atomic<std::uint64_t> accepted_{0};
  std::array<std::atomic<std::uint64_t>, kRejectReasonCount> rejected_{};
  std::atomic<std::uint64_t> ingest_bytes_{0};
  LiveMetrics live_;
  std::atomic<std::uint64_t> logged_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::uint64_t> out_of_order_{0};
  std::atomic<std::uint64_t> durable_offset_{0};
  std::atomic<std::uint64_t> confirms_sent_{0};
  std::array<std::atomic<std::uint64_t>, kRefusalCount> refused_{};
  std::atomic<std::uint64_t> sessions_opened_{0};
  std::atomic<std::uint64_t> sessions_taken_over_{0};
  std::atomic<std::uint64_t> publishers_{0};
  std::atomic<std::uint64_t> publisher_sessions_{0};
  std::array<std::atomic<std::uint64_t>, kGroupCounterCount> groups_{};
  std::array<std::atomic<std::uint64_t>, groups::kRefusalCount> group_refused_{};
  std::array<std::atomic<std::uint64_t>, kAuthOpCount> auth_refused_{};
  std::atomic<bool> auth_up_{true};
  mutable std::mutex groups_mutex_;
  std::vector<v1::GroupInfo> group_infos_;  // guarded by groups_mutex_
};

}  // namespace signalbus::broker
