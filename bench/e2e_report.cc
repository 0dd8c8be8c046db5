// e2e_bench's tables.
#include "e2e_report.h"

#include <cstdio>

#include "bench_stats.h"

namespace signalbus::bench {

void ThroughputSeries::Add(const ThroughputResult& r, double baseline) {
  rate.push_back(r.events_per_s);
  confirmed.push_back(r.confirmed_per_s);
  ratio.push_back(r.events_per_s / baseline);
  redelivered.push_back(static_cast<double>(r.redelivered));
  cpu_broker.push_back(r.cpu.broker);
  cpu_publisher.push_back(r.cpu.publisher);
  cpu_members.push_back(r.cpu.members);
  cpu_other.push_back(r.cpu.other);
}

void LatencySeries::Add(const LatencyResult& r) {
  p50.push_back(Percentile(r.handler_us, 50));
  p99.push_back(Percentile(r.handler_us, 99));
  p999.push_back(Percentile(r.handler_us, 99.9));
  c50.push_back(Percentile(r.confirm_us, 50));
  c99.push_back(Percentile(r.confirm_us, 99));
  c999.push_back(Percentile(r.confirm_us, 99.9));
  achieved.push_back(r.achieved_rate);
  cpu.push_back(r.cpu_us_per_event);
}

void LatencySeries::Add(const ProxyLatency& r) {
  p50.push_back(Percentile(r.us, 50));
  p99.push_back(Percentile(r.us, 99));
  p999.push_back(Percentile(r.us, 99.9));
  achieved.push_back(r.achieved_rate);
  cpu.push_back(r.cpu_us_per_event);
}

std::string MembersLabel(int members) {
  return std::to_string(members) + (members == 1 ? " member" : " members");
}

namespace {

void PrintThroughput(const Report& r) {
  std::printf("throughput, %llu events    %12s %14s %12s %12s\n", static_cast<unsigned long long>(r.events),
              "events/s", "confirmed/s", "x baseline", "redelivered");
  for (const auto& [members, s] : r.throughput) {
    std::printf("  %-26s %12.0f %14.0f %12.3f %12.0f\n", MembersLabel(members).c_str(), Median(s.rate),
                Median(s.confirmed), Median(s.ratio), Median(s.redelivered));
  }
  std::printf("  (events/s: first publish until every event is confirmed and acked; x baseline: the median of\n"
              "   each run's ratio to the baseline measured just before it)\n\n");
  std::printf("CPU per event, us           %12s %14s %12s %12s %10s\n", "broker", "publisher", "members",
              "bench I/O", "total");
  for (const auto& [members, s] : r.throughput) {
    const double b = Median(s.cpu_broker), p = Median(s.cpu_publisher), m = Median(s.cpu_members),
                 o = Median(s.cpu_other);
    std::printf("  %-26s %12.2f %14.2f %12.2f %12.2f %10.2f\n", MembersLabel(members).c_str(), b, p, m, o,
                b + p + m + o);
  }
  std::printf("  (bench I/O: this process's ZeroMQ I/O threads and the end-of-run polling)\n\n");
}

void PrintLatency(const Report& r) {
  std::printf("latency at %.0f events/s, %llu events after %llu warm-up, in us:\n", r.rate,
              static_cast<unsigned long long>(r.latency_events), static_cast<unsigned long long>(r.warmup));
  std::printf("  %-24s %11s %8s %8s   %11s %8s %8s %9s %10s\n", "", "handler p50", "p99", "p99.9", "confirm p50",
              "p99", "p99.9", "sent/s", "CPU us/ev");
  auto pacing = [](long tick) { return tick > 0 ? ", " + std::to_string(tick) + " us ticks" : std::string(", each event"); };
  for (const auto& [tick, s] : r.proxy_latency) {
    std::printf("  %-24s %11.0f %8.0f %8.0f   %11s %8s %8s %9.0f %10.1f\n", ("bare proxy" + pacing(tick)).c_str(),
                Median(s.p50), Median(s.p99), Median(s.p999), "-", "-", "-", Median(s.achieved), Median(s.cpu));
  }
  for (const auto& [key, s] : r.latency) {
    const auto [members, tick] = key;
    const std::string label = MembersLabel(members) + pacing(tick);
    std::printf("  %-24s %11.0f %8.0f %8.0f   %11.0f %8.0f %8.0f %9.0f %10.1f\n", label.c_str(), Median(s.p50),
                Median(s.p99), Median(s.p999), Median(s.c50), Median(s.c99), Median(s.c999), Median(s.achieved),
                Median(s.cpu));
  }
  std::printf("  (from the Publish call. Paced 'each event': one sleep per event; 'N us ticks': the publisher\n"
              "   wakes every N us and publishes the events due. A confirm is noticed at the publisher's next\n"
              "   call, up to one pacing step late. CPU: broker and bench processes, per event published; for the\n"
              "   bare proxy: the proxy and bench processes, PUB -> proxy -> SUB latency)\n");
}

}  // namespace

void PrintReport(const Report& r) {
  std::printf("e2e_bench: confirmed publish -> broker (fsync %s) -> group member ack over %s; event %zu bytes + "
              "%zu of topic; credits %u, acks of %zu; %zu events per publish call; %d group%s; handler %ld us; "
              "median of %d runs\n",
              r.fsync.c_str(), r.transport == "ipc" ? "ipc://" : "loopback TCP", r.event_bytes, r.topic_bytes,
              r.credits, r.ack_batch, r.batch, r.group_count, r.group_count == 1 ? "" : "s", r.handler_us, r.runs);
  if (!r.baseline.empty()) {
    std::printf("baseline: bare ZeroMQ PUB -> XSUB/XPUB proxy -> SUB, %llu messages: %.0f msgs/s\n",
                static_cast<unsigned long long>(r.baseline_events), Median(r.baseline));
  }
  std::printf("\n");
  if (!r.throughput.empty()) PrintThroughput(r);
  if (!r.latency.empty()) PrintLatency(r);
}

}  // namespace signalbus::bench
