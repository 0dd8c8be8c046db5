// What e2e_bench gathers over its runs, and the tables it prints (medians).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "e2e_run.h"
#include "zmq_baseline.h"

namespace signalbus::bench {

// The throughput runs of one member count.
struct ThroughputSeries {
  std::vector<double> rate, confirmed, ratio, redelivered;
  std::vector<double> cpu_broker, cpu_publisher, cpu_members, cpu_other;
  void Add(const ThroughputResult& r, double baseline);
};

// The latency runs of one (member count, pacing tick).
struct LatencySeries {
  std::vector<double> p50, p99, p999, c50, c99, c999, achieved, cpu;
  void Add(const LatencyResult& r);
  void Add(const ProxyLatency& r);  // the bare proxy at the same rate (no confirms)
};

struct Report {
  std::string fsync;
  std::size_t batch = 1;  // events per publish call in the throughput test
  int group_count = 1;    // consumer groups, each with the members
  long handler_us = 0;
  std::string transport;  // "tcp" (loopback) or "ipc"
  std::size_t event_bytes = 0, topic_bytes = 0;
  std::uint32_t credits = 0;
  std::size_t ack_batch = 0;
  int runs = 0;
  std::uint64_t events = 0, baseline_events = 0, latency_events = 0, warmup = 0;
  double rate = 0;
  std::vector<double> baseline;                            // msgs/s, one per run
  std::map<int, ThroughputSeries> throughput;              // by members
  std::map<std::pair<int, long>, LatencySeries> latency;   // by (members, tick in µs)
  std::map<long, LatencySeries> proxy_latency;             // the bare proxy, by tick in µs
};

void PrintReport(const Report& report);

// "1 member", "3 members".
std::string MembersLabel(int members);

}  // namespace signalbus::bench
