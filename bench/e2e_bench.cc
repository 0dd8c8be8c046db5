// e2e_bench: the durable path end to end — a signalbus::Publisher's confirmed publish,
// through the real signalbus-broker (journal, group-commit fdatasync, consumer group),
// to a group member's handler and its ack — beside bare ZeroMQ forwarding measured in
// the same run, so that figures from a noisy shared machine are quoted as a ratio.
//
//   e2e_bench [--events=N] [--members=1,3] [--runs=R] [--fsync=always|interval:1ms|never]
//             [--rate=EV_PER_S] [--pace-ticks=0,1000] [--latency-events=N] [--warmup=N]
//             [--credits=C] [--ack-batch=B] [--baseline-events=N] [--dir=PATH]
//             [--broker=PATH] [--only=throughput|latency] [--latency-trace=FILE.csv]
//             [--transport=tcp|ipc] [--batch=N] [--handler-us=US]
//
// --batch=N: the throughput test publishes with PublishBatch, N events per call (one
// $batch message, one log record each); 1 (default): one Publish per event.
// --handler-us=US: every handler call sleeps US µs first (a handler doing I/O: how
// members share work).
//
// Each run: the baseline (PUB -> zmq_proxy child -> SUB), then per member count a fresh
// broker (new --data-dir under PATH, ephemeral ports) for the throughput test and one
// per pacing for the latency test at a fixed rate. Prints medians over R runs. PATH must
// be on the disk to measure (not tmpfs). No assertions: a bench, not a test.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench_events.h"
#include "broker_child.h"
#include "child_process.h"
#include "e2e_report.h"
#include "e2e_run.h"
#include "signalbus/core/event_id.h"
#include "bench_stats.h"
#include "zmq_baseline.h"

namespace {

using namespace signalbus::bench;

struct Flags {
  std::uint64_t events = 200'000;
  std::vector<long> members = {1, 3};
  int runs = 5;
  std::string fsync = "always";
  double rate = 10'000;
  std::vector<long> pace_ticks_us = {0, 1000};  // 0: one sleep per event
  std::uint64_t latency_events = 20'000;
  std::uint64_t warmup = 2'000;
  std::uint32_t credits = 1024;
  std::size_t ack_batch = 256;
  std::size_t batch = 1;  // events per PublishBatch in the throughput test
  long handler_us = 0;    // each handler call sleeps this long
  std::uint64_t baseline_events = 0;  // 0: --events
  std::string dir = "/tmp";
  std::string broker;  // empty: signalbus-broker next to this program
  std::string only;    // empty: both tests
  std::string trace;   // non-empty: latency samples of every run, as CSV, go here
  std::string transport = "tcp";  // or ipc: every socket, the baseline's too
};

// "1,3" -> {1, 3}; false on anything else or a negative number.
bool ParseList(const char* text, std::vector<long>* out) {
  out->clear();
  for (const char* p = text; *p != '\0';) {
    char* end = nullptr;
    out->push_back(std::strtol(p, &end, 10));
    if (end == p || out->back() < 0) return false;
    p = *end == ',' ? end + 1 : end;
  }
  return !out->empty();
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return a.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    if (const char* v = value("--events=")) f->events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--members=")) { if (!ParseList(v, &f->members)) return false; }
    else if (const char* v = value("--runs=")) f->runs = std::atoi(v);
    else if (const char* v = value("--fsync=")) f->fsync = v;
    else if (const char* v = value("--rate=")) f->rate = std::strtod(v, nullptr);
    else if (const char* v = value("--pace-ticks=")) { if (!ParseList(v, &f->pace_ticks_us)) return false; }
    else if (const char* v = value("--latency-events=")) f->latency_events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--warmup=")) f->warmup = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--credits=")) f->credits = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10));
    else if (const char* v = value("--ack-batch=")) f->ack_batch = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--batch=")) f->batch = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--handler-us=")) f->handler_us = std::strtol(v, nullptr, 10);
    else if (const char* v = value("--baseline-events=")) f->baseline_events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--dir=")) f->dir = v;
    else if (const char* v = value("--broker=")) f->broker = v;
    else if (const char* v = value("--only=")) f->only = v;
    else if (const char* v = value("--latency-trace=")) f->trace = v;
    else if (const char* v = value("--transport=")) f->transport = v;
    else {
      std::fprintf(stderr, "e2e_bench: unknown flag %s\n", argv[i]);
      return false;
    }
  }
  if (f->baseline_events == 0) f->baseline_events = f->events;
  if (f->broker.empty()) f->broker = SelfDir() + "/signalbus-broker";
  for (long m : f->members) {
    if (m == 0) return false;
  }
  return f->events > 0 && f->runs > 0 && f->rate > 0 && f->latency_events > 0 && f->credits > 0 &&
         f->ack_batch > 0 && f->batch > 0 && f->batch <= 1000 && f->handler_us >= 0 && (f->only.empty() || f->only == "throughput" || f->only == "latency") &&
         (f->transport == "tcp" || f->transport == "ipc");
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "e2e_bench: %s\n", what.c_str());
  std::exit(1);
}

E2eOptions OptionsFor(const Flags& f, const BrokerChild& broker, int members) {
  E2eOptions o;
  o.ingest = broker.ingest();
  o.groups = broker.groups();
  o.members = members;
  o.credits = f.credits;
  o.ack_batch = f.ack_batch;
  o.batch = f.batch;
  o.handler_time = std::chrono::microseconds(f.handler_us);
  o.broker_cpu = [&broker] { return broker.CpuSeconds(); };
  return o;
}

// A fresh directory under `base` for the baseline proxy's ipc:// sockets.
std::string IpcDir(const std::string& base) {
  std::string pattern = base + "/e2e-proxy-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) Fail("cannot create a directory under " + base);
  return pattern;
}

std::unique_ptr<BrokerChild> StartBroker(const Flags& f) {
  std::string error;
  auto broker = BrokerChild::Start(f.broker, f.dir, f.fsync, f.transport == "ipc", &error);
  if (!broker) Fail(error);
  return broker;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && argc <= 3 && std::string_view(argv[1]) == kProxyChildFlag) {
    return RunProxyChild(argc == 3 ? argv[2] : "");
  }
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr,
                 "usage: e2e_bench [--events=N] [--members=1,3] [--runs=R] [--fsync=always|interval:1ms|never] "
                 "[--rate=EV_PER_S] [--pace-ticks=0,1000] [--latency-events=N] [--warmup=N] [--credits=C] "
                 "[--ack-batch=B] [--baseline-events=N] [--dir=PATH] [--broker=PATH] "
                 "[--only=throughput|latency] [--latency-trace=FILE.csv] [--transport=tcp|ipc] [--batch=N] [--handler-us=US]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  const std::string event = EncodedUserSaved(1, signalbus::NewEventId());
  const std::string topic(kUserTopic);
  const std::string log_path = f.dir + "/e2e_bench.log";

  Report report;
  report.fsync = f.fsync;
  report.batch = f.batch;
  report.transport = f.transport;
  report.event_bytes = event.size();
  report.topic_bytes = topic.size();
  report.credits = f.credits;
  report.ack_batch = f.ack_batch;
  report.runs = f.runs;
  report.events = f.events;
  report.baseline_events = f.baseline_events;
  report.latency_events = f.latency_events;
  report.warmup = f.warmup;
  report.rate = f.rate;
  std::FILE* trace = f.trace.empty() ? nullptr : std::fopen(f.trace.c_str(), "w");
  if (trace) std::fprintf(trace, "run,members,tick_us,sequence,published_ms,confirm_us,handler_us\n");
  for (int run = 1; run <= f.runs; ++run) {
    const std::string ipc_dir = f.transport == "ipc" ? IpcDir(f.dir) : std::string();
    const double base = MeasureProxyBaseline(f.baseline_events, topic, event, log_path, ipc_dir);
    if (!ipc_dir.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(ipc_dir, ignored);
    }
    if (base <= 0) Fail("the baseline proxy did not start; see " + log_path);
    report.baseline.push_back(base);
    for (long m : f.members) {
      const int members = static_cast<int>(m);
      if (f.only != "latency") {
        auto broker = StartBroker(f);
        ThroughputResult r = RunThroughput(OptionsFor(f, *broker, members), f.events);
        if (!r.ok) Fail("throughput, " + MembersLabel(members) + ": " + r.error);
        report.throughput[members].Add(r, base);
        std::fprintf(stderr, "run %d, %s: %.0f events/s (baseline %.0f/s)\n", run, MembersLabel(members).c_str(),
                     r.events_per_s, base);
      }
      if (f.only == "throughput") continue;
      for (long tick : f.pace_ticks_us) {
        auto broker = StartBroker(f);
        LatencyResult r = RunLatency(OptionsFor(f, *broker, members), f.latency_events, f.warmup, f.rate,
                                     std::chrono::microseconds(tick));
        if (!r.ok) Fail("latency, " + MembersLabel(members) + ": " + r.error);
        report.latency[{members, tick}].Add(r);
        for (const LatencySample& t : trace ? r.trace : std::vector<LatencySample>{}) {
          std::fprintf(trace, "%d,%d,%ld,%llu,%.3f,%.1f,%.1f\n", run, members, tick,
                       static_cast<unsigned long long>(t.sequence), t.published_ms, t.confirm_us, t.handler_us);
        }
        std::fprintf(stderr, "run %d, %s, tick %ld us, at %.0f/s: handler p50 %.0f p99 %.0f us\n", run,
                     MembersLabel(members).c_str(), tick, r.achieved_rate, Percentile(r.handler_us, 50),
                     Percentile(r.handler_us, 99));
      }
    }
  }
  if (trace) std::fclose(trace);
  PrintReport(report);
  return 0;
}
