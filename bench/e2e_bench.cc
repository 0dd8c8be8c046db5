// e2e_bench: the durable path end to end — a signalbus::Publisher's confirmed publish,
// through the real signalbus-broker (journal, group-commit fdatasync, consumer group),
// to a group member's handler and its ack — beside bare ZeroMQ forwarding measured in
// the same run, so that figures from a noisy shared machine are quoted as a ratio.
//
//   e2e_bench [--events=N] [--members=1,3] [--runs=R] [--fsync=always|interval:1ms|never]
//             [--rate=EV_PER_S] [--latency-events=N] [--warmup=N] [--credits=C]
//             [--ack-batch=B] [--baseline-events=N] [--dir=PATH] [--broker=PATH]
//             [--only=throughput|latency]
//
// Each run: the baseline (PUB -> zmq_proxy child -> SUB), then per member count a fresh
// broker (new --data-dir under PATH, ephemeral ports) for the throughput test and
// another for the latency test at a fixed rate. Prints medians over R runs. PATH must
// be on the disk to measure (not tmpfs). No assertions: a bench, not a test.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench_events.h"
#include "bench_stats.h"
#include "broker_child.h"
#include "child_process.h"
#include "e2e_run.h"
#include "signalbus/core/event_id.h"
#include "zmq_baseline.h"

namespace {

using namespace signalbus::bench;

struct Flags {
  std::uint64_t events = 200'000;
  std::vector<int> members = {1, 3};
  int runs = 5;
  std::string fsync = "always";
  double rate = 10'000;
  std::uint64_t latency_events = 20'000;
  std::uint64_t warmup = 2'000;
  std::uint32_t credits = 1024;
  std::size_t ack_batch = 256;
  std::uint64_t baseline_events = 0;  // 0: --events
  std::string dir = "/tmp";
  std::string broker;  // empty: signalbus-broker next to this program
  std::string only;    // empty: both tests
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return a.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    if (const char* v = value("--events=")) f->events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--members=")) {
      f->members.clear();
      for (const char* p = v; *p != '\0';) {
        char* end = nullptr;
        f->members.push_back(static_cast<int>(std::strtol(p, &end, 10)));
        if (end == p || f->members.back() <= 0) return false;
        p = *end == ',' ? end + 1 : end;
      }
    }
    else if (const char* v = value("--runs=")) f->runs = std::atoi(v);
    else if (const char* v = value("--fsync=")) f->fsync = v;
    else if (const char* v = value("--rate=")) f->rate = std::strtod(v, nullptr);
    else if (const char* v = value("--latency-events=")) f->latency_events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--warmup=")) f->warmup = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--credits=")) f->credits = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10));
    else if (const char* v = value("--ack-batch=")) f->ack_batch = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--baseline-events=")) f->baseline_events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--dir=")) f->dir = v;
    else if (const char* v = value("--broker=")) f->broker = v;
    else if (const char* v = value("--only=")) f->only = v;
    else {
      std::fprintf(stderr, "e2e_bench: unknown flag %s\n", argv[i]);
      return false;
    }
  }
  if (f->baseline_events == 0) f->baseline_events = f->events;
  if (f->broker.empty()) f->broker = SelfDir() + "/signalbus-broker";
  return f->events > 0 && f->runs > 0 && f->rate > 0 && f->latency_events > 0 && f->credits > 0 &&
         f->ack_batch > 0 && !f->members.empty() && (f->only.empty() || f->only == "throughput" || f->only == "latency");
}

// What one member count gathered over the runs.
struct Series {
  std::vector<double> rate, confirmed, ratio, redelivered;
  std::vector<double> cpu_broker, cpu_publisher, cpu_members, cpu_other;
  std::vector<double> p50, p99, p999, c50, c99, c999, achieved;
};

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
  o.broker_cpu = [&broker] { return broker.CpuSeconds(); };
  return o;
}

std::string Label(int members) { return std::to_string(members) + (members == 1 ? " member" : " members"); }

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == kProxyChildFlag) return RunProxyChild();
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr,
                 "usage: e2e_bench [--events=N] [--members=1,3] [--runs=R] [--fsync=always|interval:1ms|never] "
                 "[--rate=EV_PER_S] [--latency-events=N] [--warmup=N] [--credits=C] [--ack-batch=B] "
                 "[--baseline-events=N] [--dir=PATH] [--broker=PATH] [--only=throughput|latency]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  const std::string event = EncodedUserSaved(1, signalbus::NewEventId());
  const std::string topic(kUserTopic);
  const std::string log_path = f.dir + "/e2e_bench.log";
  const bool throughput = f.only != "latency";
  const bool latency = f.only != "throughput";

  std::vector<double> baseline;
  std::map<int, Series> series;
  for (int run = 0; run < f.runs; ++run) {
    const double base = MeasureProxyBaseline(f.baseline_events, topic, event, log_path);
    if (base <= 0) Fail("the baseline proxy did not start; see " + log_path);
    baseline.push_back(base);
    for (int members : f.members) {
      Series& s = series[members];
      std::string error;
      if (throughput) {
        auto broker = BrokerChild::Start(f.broker, f.dir, f.fsync, &error);
        if (!broker) Fail(error);
        ThroughputResult r = RunThroughput(OptionsFor(f, *broker, members), f.events);
        if (!r.ok) Fail("throughput, " + Label(members) + ": " + r.error);
        s.rate.push_back(r.events_per_s);
        s.confirmed.push_back(r.confirmed_per_s);
        s.ratio.push_back(r.events_per_s / base);
        s.redelivered.push_back(static_cast<double>(r.redelivered));
        s.cpu_broker.push_back(r.cpu.broker);
        s.cpu_publisher.push_back(r.cpu.publisher);
        s.cpu_members.push_back(r.cpu.members);
        s.cpu_other.push_back(r.cpu.other);
        std::fprintf(stderr, "run %d, %s: %.0f events/s (baseline %.0f/s)\n", run + 1, Label(members).c_str(),
                     r.events_per_s, base);
      }
      if (latency) {
        auto broker = BrokerChild::Start(f.broker, f.dir, f.fsync, &error);
        if (!broker) Fail(error);
        LatencyResult r = RunLatency(OptionsFor(f, *broker, members), f.latency_events, f.warmup, f.rate);
        if (!r.ok) Fail("latency, " + Label(members) + ": " + r.error);
        s.p50.push_back(Percentile(r.handler_us, 50));
        s.p99.push_back(Percentile(r.handler_us, 99));
        s.p999.push_back(Percentile(r.handler_us, 99.9));
        s.c50.push_back(Percentile(r.confirm_us, 50));
        s.c99.push_back(Percentile(r.confirm_us, 99));
        s.c999.push_back(Percentile(r.confirm_us, 99.9));
        s.achieved.push_back(r.achieved_rate);
        std::fprintf(stderr, "run %d, %s at %.0f/s: handler p50 %.0f p99 %.0f us\n", run + 1, Label(members).c_str(),
                     r.achieved_rate, s.p50.back(), s.p99.back());
      }
    }
  }

  std::printf("e2e_bench: confirmed publish -> broker (fsync %s) -> group member ack; event %zu bytes + %zu of "
              "topic; credits %u, acks of %zu; median of %d runs\n",
              f.fsync.c_str(), event.size(), topic.size(), f.credits, f.ack_batch, f.runs);
  std::printf("baseline: bare ZeroMQ PUB -> XSUB/XPUB proxy -> SUB, %llu messages: %.0f msgs/s\n\n",
              static_cast<unsigned long long>(f.baseline_events), Median(baseline));
  if (throughput) {
    std::printf("throughput, %llu events    %12s %14s %12s %12s\n", static_cast<unsigned long long>(f.events),
                "events/s", "confirmed/s", "x baseline", "redelivered");
    for (int members : f.members) {
      const Series& s = series[members];
      std::printf("  %-26s %12.0f %14.0f %12.3f %12.0f\n", Label(members).c_str(), Median(s.rate),
                  Median(s.confirmed), Median(s.ratio), Median(s.redelivered));
    }
    std::printf("  (events/s: first publish until every event is confirmed and acked)\n\n");
    std::printf("CPU per event, us           %12s %14s %12s %12s %10s\n", "broker", "publisher", "members",
                "bench I/O", "total");
    for (int members : f.members) {
      const Series& s = series[members];
      const double b = Median(s.cpu_broker), p = Median(s.cpu_publisher), m = Median(s.cpu_members),
                   o = Median(s.cpu_other);
      std::printf("  %-26s %12.2f %14.2f %12.2f %12.2f %10.2f\n", Label(members).c_str(), b, p, m, o, b + p + m + o);
    }
    std::printf("  (bench I/O: this process's ZeroMQ I/O threads and the end-of-run polling)\n\n");
  }
  if (latency) {
    std::printf("latency at %.0f events/s, %llu events after %llu warm-up, in us:\n", f.rate,
                static_cast<unsigned long long>(f.latency_events), static_cast<unsigned long long>(f.warmup));
    std::printf("  %-12s %10s %10s %10s   %10s %10s %10s %10s\n", "", "handler p50", "p99", "p99.9", "confirm p50",
                "p99", "p99.9", "sent/s");
    for (int members : f.members) {
      const Series& s = series[members];
      std::printf("  %-12s %11.0f %10.0f %10.0f   %11.0f %10.0f %10.0f %10.0f\n", Label(members).c_str(),
                  Median(s.p50), Median(s.p99), Median(s.p999), Median(s.c50), Median(s.c99), Median(s.c999),
                  Median(s.achieved));
    }
    std::printf("  (from the Publish call; a confirm is noticed at the publisher's next call, up to %.0f us late)\n",
                1e6 / f.rate);
  }
  return 0;
}
