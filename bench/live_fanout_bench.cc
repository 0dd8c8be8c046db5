// live_fanout_bench: the broker's cost per event on the live fan-out — LiveFanout::Accept
// on the poll thread plus the broker's ZeroMQ I/O thread, in CPU microseconds per event —
// with 0, 1 and 4 LiveSource listeners (each on its own thread, in another ZeroMQ
// context, so their work is not counted). The sender keeps at most --ahead events ahead
// of the slowest listener, so a run measures the steady state, not drops.
//
//   live_fanout_bench [--events=N] [--listeners=0,1,4] [--runs=R] [--ahead=A] [--transport=tcp|ipc]
//
// Prints the median over R runs of: events/s (wall), broker CPU µs per event (poll
// thread + I/O thread), and what each listener received.
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "bench_events.h"
#include "bench_stats.h"
#include "signalbus/broker/access_control.h"
#include "signalbus/broker/live_fanout.h"
#include "signalbus/broker/metrics.h"
#include "signalbus/core/sockets.h"
#include "signalbus/receivers/live_source.h"

namespace {

using namespace signalbus;
using bench::Median;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::uint64_t events = 200'000;
  std::vector<int> listeners = {0, 1, 4};
  int runs = 5;
  std::uint64_t ahead = 2000;
  std::string transport = "tcp";
};

std::vector<int> ParseList(const char* text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return a.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    if (const char* v = value("--events=")) f->events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--listeners=")) f->listeners = ParseList(v);
    else if (const char* v = value("--runs=")) f->runs = std::atoi(v);
    else if (const char* v = value("--ahead=")) f->ahead = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--transport=")) f->transport = v;
    else {
      std::fprintf(stderr, "live_fanout_bench: unknown flag %s\n", argv[i]);
      return false;
    }
  }
  return f->events > 0 && f->runs > 0 && f->ahead > 0 && (f->transport == "tcp" || f->transport == "ipc");
}

double ThisThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU seconds of this process's threads named `comm` (from /proc/self/task/*/stat).
double ThreadsCpuSeconds(const std::string& comm) {
  double total = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + entry->d_name;
    std::ifstream name_file(base + "/comm");
    std::string name;
    std::getline(name_file, name);
    if (name != comm) continue;
    std::ifstream stat_file(base + "/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // Fields after the ")" that closes the name: state is field 3, utime 14, stime 15.
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) fields >> skip;
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    total += (utime + stime) / ticks;
  }
  closedir(dir);
  return total;
}

// The broker's context's I/O thread; listeners' contexts carry a name prefix.
constexpr const char* kBrokerIoThread = "ZMQbg/IO/0";

struct Listener {
  std::unique_ptr<LiveSource> source;
  std::atomic<std::uint64_t> received{0};
  std::thread thread;
};

struct RunResult {
  double events_per_second = 0;
  double broker_cpu_us_per_event = 0;
  std::uint64_t min_received = 0;
};

RunResult RunOnce(const Flags& flags, int listener_count, const std::string& event_bytes, int run) {
  zmq::context_t broker_context(1);
  broker::Metrics metrics;
  std::string endpoint = flags.transport == "ipc"
                             ? "ipc:///tmp/live_fanout_bench_" + std::to_string(getpid()) + "_" + std::to_string(run)
                             : "tcp://127.0.0.1:*";
  broker::AccessControl access(metrics);  // CURVE off: every listener may read everything
  broker::LiveFanout live(broker_context, endpoint, broker::LiveOptions{}, metrics.live(), access);
  // What the poll loop does between bursts: listeners' requests (credits), then timers.
  auto drain = [&] {
    auto now = Clock::now();
    live.Drain(256, now);
    live.Tick(now);
  };
  if (!live.Bind().ok()) std::abort();

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Listener>> listeners;
  for (int i = 0; i < listener_count; ++i) {
    auto l = std::make_unique<Listener>();
    l->source = std::make_unique<LiveSource>(live.endpoint());
    if (!l->source->Open({*TopicPattern::Parse("auth.User/*")}).ok()) std::abort();
    Listener* raw = l.get();
    l->thread = std::thread([raw, &stop] {
      while (!stop.load(std::memory_order_relaxed)) {
        auto r = raw->source->Receive(std::chrono::milliseconds(20));
        if (!r.ok()) std::abort();
        if (r->kind == Received::Kind::kEvent) raw->received.fetch_add(1, std::memory_order_relaxed);
      }
    });
    listeners.push_back(std::move(l));
  }
  // Every listener's subscription has reached the broker.
  auto wait_until = Clock::now() + std::chrono::seconds(10);
  while (live.subscriptions() < static_cast<std::size_t>(listener_count)) {
    drain();
    if (Clock::now() > wait_until) std::abort();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  broker::AcceptedEvent event;
  event.topic = zmq::message_t(bench::kUserTopic);
  event.event = zmq::message_t(event_bytes);
  auto slowest = [&] {
    std::uint64_t min = UINT64_MAX;
    for (auto& l : listeners) min = std::min(min, l->received.load(std::memory_order_relaxed));
    return listeners.empty() ? UINT64_MAX : min;
  };

  const double io_start = ThreadsCpuSeconds(kBrokerIoThread);
  const double cpu_start = ThisThreadCpuSeconds();
  const auto start = Clock::now();
  constexpr std::uint64_t kBatch = 256;  // the poll loop drains requests between bursts
  for (std::uint64_t sent = 0; sent < flags.events;) {
    if (!listeners.empty() && sent >= slowest() + flags.ahead) {
      // Sleep rather than spin: a waiting poll thread costs no CPU.
      drain();
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    for (std::uint64_t i = 0; i < kBatch && sent < flags.events; ++i, ++sent) live.Accept(event);
    drain();
  }
  // Wait for the listeners to have everything (or to stop receiving).
  std::uint64_t last = 0;
  auto idle_since = Clock::now();
  while (!listeners.empty() && slowest() < flags.events) {
    drain();
    std::uint64_t now_min = slowest();
    if (now_min != last) {
      last = now_min;
      idle_since = Clock::now();
    } else if (Clock::now() - idle_since > std::chrono::seconds(2)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // The idle waits above cost the poll thread little; they are counted, as in a broker.
  const double cpu = ThisThreadCpuSeconds() - cpu_start + ThreadsCpuSeconds(kBrokerIoThread) - io_start;

  RunResult result;
  result.events_per_second = static_cast<double>(flags.events) / seconds;
  result.broker_cpu_us_per_event = cpu * 1e6 / static_cast<double>(flags.events);
  result.min_received = listeners.empty() ? 0 : slowest();
  stop = true;
  for (auto& l : listeners) {
    l->thread.join();
    l->source->Close();
  }
  live.Close();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: live_fanout_bench [--events=N] [--listeners=0,1,4] [--runs=R] [--ahead=A] "
                 "[--transport=tcp|ipc]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);  // no line per listener subscribing
  // Listeners' threads get a name prefix, so that only the broker's I/O thread is counted.
  zmq_ctx_set(SharedContext().handle(), ZMQ_THREAD_NAME_PREFIX, 7);
  const std::string event = bench::EncodedUserSaved(1, "bench-publisher");
  std::printf("live_fanout_bench: %llu events of %zu bytes, %s, at most %llu ahead of the slowest listener, "
              "median of %d\n",
              static_cast<unsigned long long>(flags.events), event.size(), flags.transport.c_str(),
              static_cast<unsigned long long>(flags.ahead), flags.runs);
  std::printf("%-10s %14s %22s %18s\n", "listeners", "events/s", "broker cpu us/event", "slowest received");
  int run = 0;
  for (int n : flags.listeners) {
    std::vector<double> rate, cpu, received;
    for (int r = 0; r < flags.runs; ++r) {
      RunResult result = RunOnce(flags, n, event, run++);
      rate.push_back(result.events_per_second);
      cpu.push_back(result.broker_cpu_us_per_event);
      received.push_back(static_cast<double>(result.min_received));
    }
    std::printf("%-10d %14.0f %22.3f %18.0f\n", n, Median(rate), Median(cpu), Median(received));
  }
  return 0;
}
