// Snapshot and Prometheus rendering of the broker's metrics.
#include "signalbus/broker/metrics.h"

#include <numeric>

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
void Sample(std::string& out, const char* name, Int value, const char* label = nullptr) {
  out += name;
  if (label != nullptr) {
    out += "{reason=\"";
    out += label;
    out += "\"}";
  }
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

}  // namespace

std::uint64_t MetricsSnapshot::rejected_total() const {
  return std::accumulate(rejected.begin(), rejected.end(), std::uint64_t{0});
}

MetricsSnapshot Metrics::Snapshot() const {
  MetricsSnapshot s;
  s.accepted = accepted_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kRejectReasonCount; ++i) s.rejected[i] = rejected_[i].load(std::memory_order_relaxed);
  s.ingest_bytes = ingest_bytes_.load(std::memory_order_relaxed);
  s.live_forwarded = live_forwarded_.load(std::memory_order_relaxed);
  s.live_subscriptions = live_subscriptions_.load(std::memory_order_relaxed);
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
  Header(out, kLiveForwardedMetric, "counter", "Events handed to the live XPUB socket.");
  Sample(out, kLiveForwardedMetric, s.live_forwarded);
  Header(out, kLiveSubscriptionsMetric, "gauge", "Active live subscriptions (subscribes minus unsubscribes).");
  Sample(out, kLiveSubscriptionsMetric, s.live_subscriptions);
  return out;
}

}  // namespace signalbus::broker
