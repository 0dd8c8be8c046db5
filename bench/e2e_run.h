// One end-to-end run against a running broker: a signalbus::Publisher publishing
// user-created post_save events, and a consumer group of M members, each a real
// signalbus::Receiver (GroupSource + dispatcher) on its own thread of this process.
//
// Why threads in this process rather than separate processes: the CPU work is the same
// (every piece still talks to the broker process over loopback TCP through its own
// ZeroMQ sockets), the publish time of each event can be shared with the handlers
// through memory, with one steady clock, instead of being carried inside the event, and
// the bench stays one command. The broker is the real binary in its own process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace signalbus::bench {

struct E2eOptions {
  std::string ingest;  // the broker's endpoints
  std::string groups;
  std::string group = "e2e";  // a fresh group per run: starts at the earliest offset
  // Consumer groups, each with `members` members; every group gets every event. More
  // than one: named <group>-0, <group>-1, ...
  int group_count = 1;
  int members = 1;
  // Groups created before publishing whose only member leaves at once: they retain
  // every event unread (a consumer that is down), what the broker must then hold.
  int lagging_groups = 0;
  std::uint32_t credits = 64;     // per member (GroupOptions::credits)
  std::size_t ack_batch = 64;     // GroupOptions::ack_batch
  // Throughput: events per Publisher::PublishBatch call (not atomic); 1: Publish each.
  std::size_t batch = 1;
  // Each handler call sleeps this long first (a handler doing I/O); 0: returns at once.
  std::chrono::microseconds handler_time{0};
  // CPU seconds the broker process has used so far (for the per-event CPU figures).
  std::function<double()> broker_cpu;
};

// CPU time per event, in µs, of each party during a throughput run.
struct CpuPerEvent {
  double broker = 0;     // the whole broker process
  double publisher = 0;  // the thread calling Publish and Flush
  double members = 0;    // the member threads (receive, decode, dispatch, ack)
  double other = 0;      // the rest of this process: ZeroMQ I/O threads, waiting for the end
};

struct ThroughputResult {
  bool ok = false;
  std::string error;
  double events_per_s = 0;     // N / (first publish .. every event confirmed and acked)
  double confirmed_per_s = 0;  // N / (first publish .. Flush returned: all durable)
  std::uint64_t handled = 0;   // handler invocations (N x groups when nothing was redelivered)
  std::uint64_t redelivered = 0;
  CpuPerEvent cpu;
};

// Publishes `events` as fast as Publish() returns, then waits until all are confirmed
// (Flush) and the broker counts `events` acks for every group.
ThroughputResult RunThroughput(const E2eOptions& options, std::uint64_t events);

// One measured event of a latency run.
struct LatencySample {
  std::uint64_t sequence = 0;
  double published_ms = 0;  // since the first event was published
  double confirm_us = 0;    // publish call -> confirm noticed
  double handler_us = 0;    // publish call -> handler
};

struct LatencyResult {
  bool ok = false;
  std::string error;
  double achieved_rate = 0;        // events/s actually published
  std::vector<double> handler_us;  // publish call -> a member's handler runs, per event
  std::vector<double> confirm_us;  // publish call -> the publisher sees it confirmed
  std::vector<LatencySample> trace;  // the same, by sequence
  double cpu_us_per_event = 0;       // broker + this process, over the paced publishing
  std::uint64_t redelivered = 0;
};

// Publishes `warmup + events` at `rate` events/s (paced by the clock); latencies of the
// last `events` are returned, ascending. A confirm is noticed by the publisher when it
// next runs (its next Publish), so confirm latencies are late by up to 1/rate.
// `tick` > 0: the publisher sleeps until the next multiple of `tick` and then publishes
// every event due by then (fewer wake-ups than one sleep per event; the average rate is
// the same).
LatencyResult RunLatency(const E2eOptions& options, std::uint64_t events, std::uint64_t warmup, double rate,
                         std::chrono::microseconds tick = std::chrono::microseconds(0));

}  // namespace signalbus::bench
