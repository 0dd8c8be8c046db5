// live_path_bench: the live path end to end — a signalbus::Publisher (confirmed
// publish) through the real signalbus-broker (validation, journal, live fan-out) to N
// LiveSource listeners — beside the bare ZeroMQ proxy fanning out to N SUBs, measured
// the same way, so that bench/compare can quote one as a ratio of the other (and of
// NATS core, peers_bench nats).
//
//   live_path_bench signalbus --listeners=N [--events=E] [--ahead=A] [--fsync=always] [--dir=PATH]
//   live_path_bench proxy --listeners=N [--events=E] [--ahead=A] [--dir=PATH]
//
// In every case the sender stays at most A events ahead of the slowest listener (each
// listener on its own thread of this process), so a run measures the rate all of them
// keep up with, not drops; events/s is E / (first send .. the slowest listener has E).
// The signalbus listeners decode each event (LiveSource hands out a parsed Event); the
// proxy's SUBs only count frames. Prints one line per run: "result kind=live ...".
// A bench, not a test: no assertions.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench_events.h"
#include "broker_child.h"
#include "child_process.h"
#include "signalbus/core/topic.h"
#include "signalbus/publisher/publisher.h"
#include "signalbus/receivers/live_source.h"
#include "zmq_baseline.h"

namespace {

using namespace signalbus;
using namespace signalbus::bench;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string mode;
  int listeners = 1;
  std::uint64_t events = 200'000;
  std::uint64_t ahead = 2000;  // below a listener's 4 MiB window (~5,700 events of ours)
  std::string fsync = "always";
  std::string dir = "/var/tmp";
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  if (argc < 2) return false;
  f->mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return a.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    if (const char* v = value("--listeners=")) f->listeners = std::atoi(v);
    else if (const char* v = value("--events=")) f->events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--ahead=")) f->ahead = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--fsync=")) f->fsync = v;
    else if (const char* v = value("--dir=")) f->dir = v;
    else return false;
  }
  return (f->mode == "signalbus" || f->mode == "proxy") && f->listeners > 0 && f->events > 0 && f->ahead > 0;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "live_path_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Listener {
  std::unique_ptr<LiveSource> source;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> missed{0};
  std::thread thread;
};

int RunSignalbus(const Flags& f) {
  std::string error;
  auto broker = BrokerChild::Start(SelfDir() + "/signalbus-broker", f.dir, f.fsync, false, &error);
  if (!broker) Fail(error);
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Listener>> listeners;
  for (int i = 0; i < f.listeners; ++i) {
    auto l = std::make_unique<Listener>();
    l->source = std::make_unique<LiveSource>(broker->live());
    if (Status s = l->source->Open({*TopicPattern::Parse("auth.User/*")}); !s.ok()) Fail("listener: " + s.message());
    listeners.push_back(std::move(l));
  }
  for (auto& l : listeners) {
    Listener* raw = l.get();
    raw->thread = std::thread([raw, &stop] {
      while (!stop.load(std::memory_order_relaxed)) {
        Result<Received> r = raw->source->Receive(std::chrono::milliseconds(20));
        if (!r.ok()) Fail("listener: " + r.status().message());
        if (r->kind == Received::Kind::kEvent) raw->received.fetch_add(1, std::memory_order_relaxed);
        if (r->kind == Received::Kind::kMissed) raw->missed.fetch_add(r->missed, std::memory_order_relaxed);
      }
    });
  }
  // Every listener subscribed: wait until each sees a probe event published before the
  // measured ones (they are not counted).
  PublisherOptions po;
  po.endpoint = broker->ingest();
  po.source = "accounts";
  po.send_timeout = std::chrono::milliseconds(30'000);
  Result<std::unique_ptr<Publisher>> connected = Publisher::Connect(std::move(po));
  if (!connected.ok()) Fail("publisher: " + connected.status().message());
  Publisher& publisher = **connected;
  for (bool all = false; !all;) {
    while (!std::all_of(listeners.begin(), listeners.end(), [](auto& l) { return l->source->subscribed(); })) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (Status s = publisher.PostSave(kUserSender, UserInstance(0), SaveInfo{.created = true}); !s.ok()) Fail(s.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    all = std::all_of(listeners.begin(), listeners.end(), [](auto& l) { return l->received.load() > 0; });
  }
  std::vector<std::uint64_t> base;
  for (auto& l : listeners) base.push_back(l->received.load());
  auto slowest = [&] {
    std::uint64_t least = UINT64_MAX;
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      least = std::min(least, listeners[i]->received.load(std::memory_order_relaxed) +
                                  listeners[i]->missed.load(std::memory_order_relaxed) - base[i]);
    }
    return least;
  };
  const double server_start = broker->CpuSeconds();
  const double all_start = SelfCpuSeconds() + server_start;
  const auto start = Clock::now();
  for (std::uint64_t sent = 0; sent < f.events;) {
    if (sent >= slowest() + f.ahead) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    if (Status s = publisher.PostSave(kUserSender, UserInstance(++sent), SaveInfo{.created = true}); !s.ok()) {
      Fail("publish: " + s.message());
    }
  }
  // Until the slowest has everything (or has stopped receiving for 2 s: drops).
  std::uint64_t last = 0;
  auto idle_since = Clock::now();
  while (slowest() < f.events) {
    if (std::uint64_t now = slowest(); now != last) {
      last = now;
      idle_since = Clock::now();
    } else if (Clock::now() - idle_since > std::chrono::seconds(2)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double server = broker->CpuSeconds() - server_start;
  const double all = SelfCpuSeconds() + broker->CpuSeconds() - all_start;
  std::uint64_t missed = 0, least = UINT64_MAX;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    missed += listeners[i]->missed.load();
    least = std::min(least, listeners[i]->received.load() - base[i]);
  }
  stop = true;
  for (auto& l : listeners) {
    l->thread.join();
    l->source->Close();
  }
  if (Status s = publisher.Flush(std::chrono::milliseconds(30'000)); !s.ok()) Fail("flush: " + s.message());
  std::printf("result kind=live system=signalbus listeners=%d events=%llu events_per_s=%.0f server_cpu_us=%.2f "
              "all_cpu_us=%.2f slowest_received=%llu missed=%llu durability=at_most_once_live_logged_fsync_%s\n",
              f.listeners, static_cast<unsigned long long>(f.events), static_cast<double>(least) / seconds,
              server * 1e6 / static_cast<double>(f.events), all * 1e6 / static_cast<double>(f.events),
              static_cast<unsigned long long>(least), static_cast<unsigned long long>(missed), f.fsync.c_str());
  return 0;
}

int RunProxy(const Flags& f) {
  const std::string event = EncodedUserSaved(1, "live-path-bench");
  ProxyFanout r = MeasureProxyFanout(f.events, f.listeners, f.ahead, std::string(kUserTopic), event,
                                     f.dir + "/live_path_bench.log");
  if (!r.ok) Fail("the proxy did not start; see " + f.dir + "/live_path_bench.log");
  std::printf("result kind=live system=proxy listeners=%d events=%llu events_per_s=%.0f server_cpu_us=%.2f "
              "all_cpu_us=%.2f slowest_received=%llu missed=0 durability=none\n",
              f.listeners, static_cast<unsigned long long>(f.events), r.per_s, r.server_cpu_us, r.all_cpu_us,
              static_cast<unsigned long long>(f.events));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && argc <= 3 && std::string_view(argv[1]) == kProxyChildFlag) {
    return RunProxyChild(argc == 3 ? argv[2] : "");
  }
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr, "usage: live_path_bench signalbus|proxy --listeners=N [--events=E] [--ahead=A] "
                         "[--fsync=always|interval:1ms|never] [--dir=PATH]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  return f.mode == "signalbus" ? RunSignalbus(f) : RunProxy(f);
}
