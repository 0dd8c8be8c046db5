// e2e_bench: the durable path end to end — a signalbus::Publisher's confirmed publish,
// through the real signalbus-broker (journal, group-commit fdatasync, consumer group),
// to a group member's handler and its ack — beside bare ZeroMQ forwarding measured in
// the same run, so that figures from a noisy shared machine are quoted as a ratio.
//
//   e2e_bench [--events=N] [--members=1,3] [--runs=R] [--fsync=always|interval:1ms|never]
//             [--rate=EV_PER_S] [--pace-ticks=0,1000] [--latency-events=N] [--warmup=N]
//             [--credits=C] [--ack-batch=B] [--baseline-events=N] [--dir=PATH]
//             [--broker=PATH] [--only=throughput|latency] [--latency-trace=FILE.csv]
//             [--transport=tcp|ipc] [--batch=N] [--handler-us=US] [--groups=G]
//             [--lagging-groups=K]
//   e2e_bench --only=restart --restart-dir=DIR [--log-bytes=N] [--cold]
//
// --batch=N: the throughput test publishes with PublishBatch, N events per call (one
// $batch message, one log record each); 1 (default): one Publish per event.
// --handler-us=US: every handler call sleeps US µs first (a handler doing I/O: how
// members share work).
// --groups=G: G consumer groups (each with the members) get every event.
// --lagging-groups=K: K more groups are created before publishing and left with no
// member: they retain every event unread (a consumer that is down), which the broker
// must then hold; with a large --events, what the broker's memory does then.
//
// Each run: the throughput baseline (PUB -> zmq_proxy child -> SUB), then per member
// count a fresh broker (new --data-dir under PATH, ephemeral ports) for the throughput
// test; for the latency test at a fixed rate, per pacing the bare proxy at the same
// rate and pacing, then a fresh broker per member count. Prints medians over R runs,
// and a "result ..." line per run and case (key=value, for bench/compare). PATH must
// be on the disk to measure (not tmpfs). No assertions: a bench, not a test.
//
// --only=restart: the restart of a broker on a large log. The first time, a broker on
// DIR/data is fed PublishBatch calls of 64 events until its log holds --log-bytes (1
// GiB), then SIGKILLed; each run then starts the broker on that log (after dropping the
// page cache with --cold: root only) and times its ready line and the first event a
// publisher gets confirmed, and reads its VmRSS; then SIGKILLs it again (a crash).
#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
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
#include "signalbus/publisher/publisher.h"
#include "bench_stats.h"
#include "zmq_baseline.h"

namespace {

using namespace signalbus;
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
  int group_count = 1;
  int lagging_groups = 0;
  std::string restart_dir;  // --only=restart
  std::uint64_t log_bytes = std::uint64_t{1} << 30;
  bool cold = false;
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
    else if (const char* v = value("--groups=")) f->group_count = std::atoi(v);
    else if (const char* v = value("--lagging-groups=")) f->lagging_groups = std::atoi(v);
    else if (const char* v = value("--restart-dir=")) f->restart_dir = v;
    else if (const char* v = value("--log-bytes=")) f->log_bytes = std::strtoull(v, nullptr, 10);
    else if (a == "--cold") f->cold = true;
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
         f->ack_batch > 0 && f->batch > 0 && f->batch <= 1000 && f->handler_us >= 0 && f->group_count > 0 && f->lagging_groups >= 0 &&
         (f->only.empty() || f->only == "throughput" || f->only == "latency" ||
          (f->only == "restart" && !f->restart_dir.empty())) &&
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
  o.group_count = f.group_count;
  o.lagging_groups = f.lagging_groups;
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

// Bytes of every file under `dir`.
std::uint64_t DirBytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

std::unique_ptr<Publisher> ConnectPublisher(const std::string& ingest) {
  PublisherOptions po;
  po.endpoint = ingest;
  po.source = "accounts";
  po.connect_timeout = std::chrono::milliseconds(60'000);
  po.send_timeout = std::chrono::milliseconds(60'000);
  Result<std::unique_ptr<Publisher>> p = Publisher::Connect(std::move(po));
  if (!p.ok()) Fail("publisher: " + p.status().message());
  return std::move(p).value();
}

// Feeds a broker on `data` until its directory holds `bytes`, then SIGKILLs it.
void GenerateLog(const Flags& f, const std::string& data, std::uint64_t bytes) {
  std::string error;
  auto broker = BrokerChild::StartOn(f.broker, data, f.restart_dir, f.fsync, &error);
  if (!broker) Fail(error);
  auto publisher = ConnectPublisher(broker->ingest());
  std::uint64_t pk = 0;
  while (DirBytes(data) < bytes) {
    for (int call = 0; call < 1000; ++call) {  // 64,000 events between looks at the size
      std::vector<v1::Event> events(64);
      for (v1::Event& e : events) {
        e.set_sender(std::string(kUserSender));
        e.set_signal("post_save");
        *e.mutable_model_save()->mutable_instance() = UserInstance(++pk);
        e.mutable_model_save()->set_created(true);
      }
      if (Status s = publisher->PublishBatch(std::move(events), /*atomic=*/false); !s.ok()) Fail(s.message());
    }
    if (Status s = publisher->Flush(std::chrono::milliseconds(120'000)); !s.ok()) Fail("flush: " + s.message());
  }
  broker->Kill();
  std::ofstream(f.restart_dir + "/generated") << pk << " events " << DirBytes(data) << " bytes\n";
  std::fprintf(stderr, "e2e_bench: wrote a log of %llu events, %llu bytes in %s\n",
               static_cast<unsigned long long>(pk), static_cast<unsigned long long>(DirBytes(data)), data.c_str());
}

int RunRestart(const Flags& f) {
  const std::string data = f.restart_dir + "/data";
  if (!std::filesystem::exists(f.restart_dir + "/generated")) {
    std::error_code ec;
    std::filesystem::remove_all(data, ec);
    std::filesystem::create_directories(data);
    GenerateLog(f, data, f.log_bytes);
  }
  for (int run = 1; run <= f.runs; ++run) {
    if (f.cold) {
      ::sync();
      std::ofstream drop("/proc/sys/vm/drop_caches");
      drop << "3\n";
      if (!drop) Fail("--cold: cannot write /proc/sys/vm/drop_caches (root only)");
    }
    const std::uint64_t log_bytes = DirBytes(data);
    const auto spawned = std::chrono::steady_clock::now();
    std::string error;
    auto broker = BrokerChild::StartOn(f.broker, data, f.restart_dir, f.fsync, &error);
    if (!broker) Fail(error);
    auto publisher = ConnectPublisher(broker->ingest());
    if (Status s = publisher->PostSave(kUserSender, UserInstance(1), SaveInfo{.created = true}); !s.ok()) {
      Fail(s.message());
    }
    if (Status s = publisher->Flush(std::chrono::milliseconds(60'000)); !s.ok()) Fail("flush: " + s.message());
    const double accepting = std::chrono::duration<double>(std::chrono::steady_clock::now() - spawned).count();
    const long rss = broker->RssKib();
    publisher.reset();
    broker->Kill();
    std::printf("result kind=restart log_bytes=%llu cold=%d ready_s=%.3f accepting_s=%.3f rss_kib=%ld\n",
                static_cast<unsigned long long>(log_bytes), f.cold ? 1 : 0, broker->ready_seconds(), accepting, rss);
    std::fflush(stdout);
  }
  return 0;
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
                 "[--only=throughput|latency] [--latency-trace=FILE.csv] [--transport=tcp|ipc] [--batch=N] "
                 "[--handler-us=US] [--groups=G] [--lagging-groups=K]\n"
                 "       e2e_bench --only=restart --restart-dir=DIR [--log-bytes=N] [--cold] [--runs=R]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  if (f.only == "restart") return RunRestart(f);
  const std::string event = EncodedUserSaved(1, signalbus::NewEventId());
  const std::string topic(kUserTopic);
  const std::string log_path = f.dir + "/e2e_bench.log";

  Report report;
  report.fsync = f.fsync;
  report.batch = f.batch;
  report.group_count = f.group_count;
  report.handler_us = f.handler_us;
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
    double base = 0;
    if (f.only != "latency") {
      const std::string ipc_dir = f.transport == "ipc" ? IpcDir(f.dir) : std::string();
      base = MeasureProxyBaseline(f.baseline_events, topic, event, log_path, ipc_dir);
      if (!ipc_dir.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(ipc_dir, ignored);
      }
      if (base <= 0) Fail("the baseline proxy did not start; see " + log_path);
      report.baseline.push_back(base);
    }
    if (f.only != "throughput") {
      for (long tick : f.pace_ticks_us) {
        ProxyLatency p = MeasureProxyLatency(f.rate, f.latency_events, f.warmup, std::chrono::microseconds(tick), topic,
                                             event, log_path);
        if (!p.ok) Fail("the latency baseline proxy did not start; see " + log_path);
        report.proxy_latency[tick].Add(p);
        std::printf("result kind=latency system=proxy members=0 rate=%.0f tick_us=%ld events=%zu p50_us=%.1f "
                    "p99_us=%.1f p999_us=%.1f achieved=%.0f cpu_us=%.2f durability=none\n",
                    f.rate, tick, p.us.size(), Percentile(p.us, 50), Percentile(p.us, 99), Percentile(p.us, 99.9),
                    p.achieved_rate, p.cpu_us_per_event);
      }
    }
    for (long m : f.members) {
      const int members = static_cast<int>(m);
      if (f.only != "latency") {
        auto broker = StartBroker(f);
        ThroughputResult r = RunThroughput(OptionsFor(f, *broker, members), f.events);
        if (!r.ok) Fail("throughput, " + MembersLabel(members) + ": " + r.error);
        report.throughput[members].Add(r, base);
        std::printf("result kind=throughput members=%d groups=%d lagging_groups=%d batch=%zu handler_us=%ld "
                    "events=%llu events_per_s=%.0f confirmed_per_s=%.0f baseline_per_s=%.0f cpu_broker_us=%.2f "
                    "cpu_publisher_us=%.2f cpu_members_us=%.2f cpu_other_us=%.2f redelivered=%llu "
                    "broker_rss_kib=%ld broker_hwm_kib=%ld durability=fsync_%s\n",
                    members, f.group_count, f.lagging_groups, f.batch, f.handler_us,
                    static_cast<unsigned long long>(f.events), r.events_per_s, r.confirmed_per_s, base, r.cpu.broker,
                    r.cpu.publisher, r.cpu.members, r.cpu.other, static_cast<unsigned long long>(r.redelivered),
                    broker->RssKib(), broker->PeakRssKib(), f.fsync.c_str());
        std::fflush(stdout);
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
        std::printf("result kind=latency system=signalbus members=%d rate=%.0f tick_us=%ld events=%zu p50_us=%.1f "
                    "p99_us=%.1f p999_us=%.1f confirm_p50_us=%.1f confirm_p99_us=%.1f confirm_p999_us=%.1f "
                    "achieved=%.0f cpu_us=%.2f redelivered=%llu durability=fsync_%s\n",
                    members, f.rate, tick, r.handler_us.size(), Percentile(r.handler_us, 50),
                    Percentile(r.handler_us, 99), Percentile(r.handler_us, 99.9), Percentile(r.confirm_us, 50),
                    Percentile(r.confirm_us, 99), Percentile(r.confirm_us, 99.9), r.achieved_rate, r.cpu_us_per_event,
                    static_cast<unsigned long long>(r.redelivered), f.fsync.c_str());
        std::fflush(stdout);
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
