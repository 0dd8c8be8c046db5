// peers_bench: the durable acked path of signalbus's peers, measured the way e2e_bench
// measures signalbus's own, so that bench/compare can put them side by side in one run:
// one producer publishes N copies of the benchmark event (about 217 bytes) with
// confirms, one consumer in a consumer group takes and acks each; the time is from the
// first publish until the last ack, and the server's CPU is read from /proc.
//
//   peers_bench jetstream --events=N --dir=PATH [--groups=G]
//                                                  NATS JetStream, file store, async
//                                                  publish with acks, pull consumer + ack
//   peers_bench redis --events=N --dir=PATH --fsync=everysec|always [--groups=G]
//                                                  Redis Streams: pipelined XADD,
//                                                  XREADGROUP + XACK, AOF on
//   peers_bench redis --rate=R --events=N [--warmup=W] --fsync=everysec|always
//                                                  Redis Streams at a fixed offered
//                                                  rate: latency XADD -> its reply
//                                                  (confirm) and -> the consumer
//   peers_bench nats --events=N --listeners=L [--ahead=A]
//                                                  NATS core (no JetStream, nothing
//                                                  stored): publish -> L subscribers
//
// --groups=G: G consumer groups (JetStream: G durable consumers; Redis: G groups), each
// with one consumer on its own connection and thread, each getting every event; the
// time is until every group acked every event. nats: the publisher stays at most A
// messages ahead of the slowest subscriber (as live_path_bench does for signalbus and
// the bare proxy); the time is until the slowest has all.
//
// Each run starts its own server (nats-server / redis-server from Debian) on a free
// loopback port with a fresh directory under PATH, and stops it by its pid. Prints one
// line: "result case=... events_per_s=... server_cpu_us=... durability=...". A bench,
// not a test: no assertions.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <poll.h>

#include <hiredis/hiredis.h>
#include <nats/nats.h>

#include "bench_events.h"
#include "bench_stats.h"
#include "child_process.h"

namespace {

using signalbus::bench::ChildProcess;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string mode;
  std::uint64_t events = 200'000;
  std::string dir = "/var/tmp";
  std::string fsync = "everysec";
  int groups = 1;
  int listeners = 1;
  std::uint64_t ahead = 2000;
  double rate = 0;  // redis: > 0 measures latency at this offered rate
  std::uint64_t warmup = 2000;
};

// A loopback port nobody listens on now (the kernel's choice), for a server that takes
// its port as a flag.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string FreshDir(const std::string& base, const std::string& name) {
  std::string pattern = base + "/" + name + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return "";
  return pattern;
}

void Report(const char* name, double seconds, std::uint64_t events, double server_cpu, const char* durability,
            int groups, double all_cpu) {
  std::printf("result case=%s groups=%d events_per_s=%.0f server_cpu_us=%.2f all_cpu_us=%.2f durability=%s\n", name,
              groups, static_cast<double>(events) / seconds, server_cpu * 1e6 / static_cast<double>(events),
              all_cpu * 1e6 / static_cast<double>(events), durability);
}

double SelfCpu() { return signalbus::bench::SelfCpuSeconds(); }

natsConnection* ConnectNats(const std::string& url) {
  natsConnection* nc = nullptr;
  for (auto deadline = Clock::now() + std::chrono::seconds(10); Clock::now() < deadline;) {
    if (natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK) return nc;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return nullptr;
}

// ---- NATS JetStream ---------------------------------------------------------------

int RunJetStream(const Flags& f, const std::string& payload) {
  const std::string dir = FreshDir(f.dir, "peers-nats");
  const int port = FreePort();
  if (dir.empty() || port < 0) return std::fprintf(stderr, "peers_bench: no directory or port\n"), 1;
  ChildProcess server({"/usr/sbin/nats-server", "-js", "-sd", dir, "-a", "127.0.0.1", "-p", std::to_string(port)},
                      dir + "/server.log");
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  natsConnection* nc = ConnectNats(url);
  if (nc == nullptr) return std::fprintf(stderr, "peers_bench: nats-server did not answer at %s\n", url.c_str()), 1;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = 4096;
  // With 4,096 acks pending, js_PublishAsync waits this long for room before it gives up
  // (the default 200 ms is too short for a busy 2-vCPU machine with 3 consumers).
  options.PublishAsync.StallWait = 60'000;
  jsCtx* js = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (natsConnection_JetStream(&js, nc, &options) != NATS_OK) return std::fprintf(stderr, "jetstream context\n"), 1;
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = "BENCH";
  const char* subjects[] = {"bench.>"};
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  jsStreamInfo* info = nullptr;
  if (js_AddStream(&info, js, &config, nullptr, &jerr) != NATS_OK) {
    return std::fprintf(stderr, "peers_bench: add stream failed (%d)\n", static_cast<int>(jerr)), 1;
  }
  jsStreamInfo_Destroy(info);
  // One durable pull consumer per group, each on its own connection.
  struct Consumer {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    natsSubscription* sub = nullptr;
    std::atomic<std::uint64_t> acked{0};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Consumer>> consumers;
  for (int g = 0; g < f.groups; ++g) {
    auto c = std::make_unique<Consumer>();
    c->nc = ConnectNats(url);
    if (c->nc == nullptr || natsConnection_JetStream(&c->js, c->nc, nullptr) != NATS_OK) {
      return std::fprintf(stderr, "peers_bench: consumer connection\n"), 1;
    }
    jsSubOptions sub_options;
    jsSubOptions_Init(&sub_options);
    sub_options.Config.AckPolicy = js_AckExplicit;
    sub_options.Config.MaxAckPending = 4096;
    const std::string durable = "group" + std::to_string(g);
    if (js_PullSubscribe(&c->sub, c->js, "bench.>", durable.c_str(), nullptr, &sub_options, &jerr) != NATS_OK) {
      return std::fprintf(stderr, "peers_bench: pull subscribe failed (%d)\n", static_cast<int>(jerr)), 1;
    }
    consumers.push_back(std::move(c));
  }
  const double cpu_start = server.CpuSeconds();
  const double all_start = SelfCpu() + cpu_start;
  const auto start = Clock::now();
  for (auto& c : consumers) {
    Consumer* raw = c.get();
    raw->thread = std::thread([raw, &f] {
      while (raw->acked.load() < f.events) {
        natsMsgList list{};
        jsErrCode fetch_err = static_cast<jsErrCode>(0);
        if (natsSubscription_Fetch(&list, raw->sub, 256, 1000, &fetch_err) != NATS_OK) continue;
        for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
        raw->acked.fetch_add(static_cast<std::uint64_t>(list.Count));
        natsMsgList_Destroy(&list);
      }
    });
  }
  for (std::uint64_t i = 0; i < f.events; ++i) {
    if (natsStatus st = js_PublishAsync(js, "bench.auth.User.post_save", payload.data(),
                                        static_cast<int>(payload.size()), nullptr);
        st != NATS_OK) {
      std::fprintf(stderr, "peers_bench: publish failed: %s\n", natsStatus_GetText(st));
      std::exit(1);
    }
  }
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 60000;
  js_PublishAsyncComplete(js, &complete);
  for (auto& c : consumers) {
    c->thread.join();
    natsConnection_Flush(c->nc);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = server.CpuSeconds() - cpu_start;
  Report("jetstream", seconds, f.events, cpu, "acked_before_fsync", f.groups, SelfCpu() + server.CpuSeconds() - all_start);
  for (auto& c : consumers) {
    natsSubscription_Destroy(c->sub);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  server.Stop();
  std::filesystem::remove_all(dir);
  return 0;
}

// ---- NATS core --------------------------------------------------------------------

int RunNatsCore(const Flags& f, const std::string& payload) {
  const std::string dir = FreshDir(f.dir, "peers-natscore");
  const int port = FreePort();
  if (dir.empty() || port < 0) return std::fprintf(stderr, "peers_bench: no directory or port\n"), 1;
  ChildProcess server({"/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", std::to_string(port)}, dir + "/server.log");
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  natsConnection* nc = ConnectNats(url);
  if (nc == nullptr) return std::fprintf(stderr, "peers_bench: nats-server did not answer at %s\n", url.c_str()), 1;
  struct Listener {
    natsConnection* nc = nullptr;
    natsSubscription* sub = nullptr;
    std::atomic<std::uint64_t> received{0};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Listener>> listeners;
  for (int i = 0; i < f.listeners; ++i) {
    auto l = std::make_unique<Listener>();
    l->nc = ConnectNats(url);
    if (l->nc == nullptr || natsConnection_SubscribeSync(&l->sub, l->nc, "bench.>") != NATS_OK) {
      return std::fprintf(stderr, "peers_bench: subscriber\n"), 1;
    }
    natsSubscription_SetPendingLimits(l->sub, -1, -1);  // never dropped by the client
    natsConnection_Flush(l->nc);                       // the server has the subscription
    listeners.push_back(std::move(l));
  }
  std::atomic<bool> stop{false};
  for (auto& l : listeners) {
    Listener* raw = l.get();
    raw->thread = std::thread([raw, &stop] {
      while (!stop.load(std::memory_order_relaxed)) {
        natsMsg* msg = nullptr;
        if (natsSubscription_NextMsg(&msg, raw->sub, 100) != NATS_OK) continue;
        natsMsg_Destroy(msg);
        raw->received.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  auto slowest = [&] {
    std::uint64_t least = UINT64_MAX;
    for (auto& l : listeners) least = std::min(least, l->received.load(std::memory_order_relaxed));
    return least;
  };
  const double cpu_start = server.CpuSeconds();
  const double all_start = SelfCpu() + cpu_start;
  const auto start = Clock::now();
  for (std::uint64_t sent = 0; sent < f.events;) {
    if (sent >= slowest() + f.ahead) {
      natsConnection_FlushTimeout(nc, 1000);  // what is buffered goes out
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    if (natsConnection_Publish(nc, "bench.auth.User.post_save", payload.data(), static_cast<int>(payload.size())) !=
        NATS_OK) {
      std::fprintf(stderr, "peers_bench: publish failed\n");
      std::exit(1);
    }
    ++sent;
  }
  natsConnection_Flush(nc);
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
  const double cpu = server.CpuSeconds() - cpu_start;
  const double all = SelfCpu() + server.CpuSeconds() - all_start;
  const std::uint64_t least = slowest();
  stop = true;
  for (auto& l : listeners) {
    l->thread.join();
    natsSubscription_Destroy(l->sub);
    natsConnection_Destroy(l->nc);
  }
  std::printf("result case=nats_core listeners=%d events_per_s=%.0f server_cpu_us=%.2f all_cpu_us=%.2f "
              "slowest_received=%llu missed=%llu durability=none\n",
              f.listeners, static_cast<double>(least) / seconds, cpu * 1e6 / static_cast<double>(f.events),
              all * 1e6 / static_cast<double>(f.events), static_cast<unsigned long long>(least),
              static_cast<unsigned long long>(f.events - least));
  natsConnection_Destroy(nc);
  server.Stop();
  std::filesystem::remove_all(dir);
  return 0;
}

// ---- Redis Streams ----------------------------------------------------------------

redisContext* ConnectRedis(int port) {
  for (auto deadline = Clock::now() + std::chrono::seconds(10); Clock::now() < deadline;) {
    redisContext* c = redisConnect("127.0.0.1", port);
    if (c != nullptr && c->err == 0) {
      redisReply* pong = static_cast<redisReply*>(redisCommand(c, "PING"));
      if (pong != nullptr && pong->type == REDIS_REPLY_STATUS) {
        freeReplyObject(pong);
        return c;
      }
      if (pong != nullptr) freeReplyObject(pong);
    }
    if (c != nullptr) redisFree(c);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return nullptr;
}

int RunRedis(const Flags& f, const std::string& payload) {
  const std::string dir = FreshDir(f.dir, "peers-redis");
  const int port = FreePort();
  if (dir.empty() || port < 0) return std::fprintf(stderr, "peers_bench: no directory or port\n"), 1;
  ChildProcess server({"/usr/bin/redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir,
                       "--appendonly", "yes", "--appendfsync", f.fsync, "--save", "", "--daemonize", "no"},
                      dir + "/server.log");
  redisContext* producer = ConnectRedis(port);
  if (producer == nullptr) return std::fprintf(stderr, "peers_bench: no redis-server\n"), 1;
  struct Reader {
    redisContext* c = nullptr;
    std::string group;
    std::atomic<std::uint64_t> acked{0};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Reader>> readers;
  for (int g = 0; g < f.groups; ++g) {
    auto r = std::make_unique<Reader>();
    r->c = ConnectRedis(port);
    if (r->c == nullptr) return std::fprintf(stderr, "peers_bench: no redis-server\n"), 1;
    r->group = "group" + std::to_string(g);
    freeReplyObject(redisCommand(producer, "XGROUP CREATE bench %s $ MKSTREAM", r->group.c_str()));
    readers.push_back(std::move(r));
  }
  const double cpu_start = server.CpuSeconds();
  const double all_start = SelfCpu() + cpu_start;
  const auto start = Clock::now();
  for (auto& reader : readers) {
    Reader* raw = reader.get();
    raw->thread = std::thread([raw, &f] {
      std::vector<std::string> ids;
      while (raw->acked.load() < f.events) {
        redisReply* r = static_cast<redisReply*>(redisCommand(
            raw->c, "XREADGROUP GROUP %s c COUNT 256 BLOCK 1000 STREAMS bench >", raw->group.c_str()));
        if (r == nullptr) std::exit(1);
        ids.clear();
        // [[stream, [[id, [field, value]], ...]]]
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2) {
          redisReply* entries = r->element[0]->element[1];
          for (std::size_t i = 0; i < entries->elements; ++i) ids.emplace_back(entries->element[i]->element[0]->str);
        }
        freeReplyObject(r);
        if (ids.empty()) continue;
        std::vector<const char*> argv{"XACK", "bench", raw->group.c_str()};
        for (const std::string& id : ids) argv.push_back(id.c_str());
        redisReply* ack = static_cast<redisReply*>(
            redisCommandArgv(raw->c, static_cast<int>(argv.size()), argv.data(), nullptr));
        if (ack != nullptr) freeReplyObject(ack);
        raw->acked.fetch_add(ids.size());
      }
    });
  }
  constexpr std::uint64_t kPipeline = 256;  // XADDs in flight, then their replies
  for (std::uint64_t i = 0; i < f.events; i += kPipeline) {
    const std::uint64_t n = std::min(kPipeline, f.events - i);
    for (std::uint64_t j = 0; j < n; ++j) {
      redisAppendCommand(producer, "XADD bench * e %b", payload.data(), payload.size());
    }
    for (std::uint64_t j = 0; j < n; ++j) {
      void* reply = nullptr;
      if (redisGetReply(producer, &reply) != REDIS_OK) std::exit(1);
      freeReplyObject(reply);
    }
  }
  for (auto& reader : readers) reader->thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = server.CpuSeconds() - cpu_start;
  Report(f.fsync == "always" ? "redis_streams_always" : "redis_streams_everysec", seconds, f.events, cpu,
         f.fsync == "always" ? "fsync_before_reply" : "fsync_every_second", f.groups,
         SelfCpu() + server.CpuSeconds() - all_start);
  redisFree(producer);
  for (auto& reader : readers) redisFree(reader->c);
  server.Stop();
  std::filesystem::remove_all(dir);
  return 0;
}

// Redis Streams at a fixed offered rate, paced as e2e_bench paces signalbus (one sleep
// per event): each XADD goes out at once and its reply is read as soon as it is there
// (with AOF always, Redis replies after its fsync); one consumer blocks in XREADGROUP
// and acks what it reads. Latency of the last `events` after `warmup`: send -> reply,
// send -> the consumer has it; CPU of the server and this process over the pacing.
int RunRedisLatency(const Flags& f, const std::string& payload) {
  const std::string dir = FreshDir(f.dir, "peers-redis");
  const int port = FreePort();
  if (dir.empty() || port < 0) return std::fprintf(stderr, "peers_bench: no directory or port\n"), 1;
  ChildProcess server({"/usr/bin/redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir,
                       "--appendonly", "yes", "--appendfsync", f.fsync, "--save", "", "--daemonize", "no"},
                      dir + "/server.log");
  redisContext* producer = ConnectRedis(port);
  redisContext* reader = ConnectRedis(port);
  if (producer == nullptr || reader == nullptr) return std::fprintf(stderr, "peers_bench: no redis-server\n"), 1;
  freeReplyObject(redisCommand(producer, "XGROUP CREATE bench group $ MKSTREAM"));
  const std::uint64_t total = f.warmup + f.events;
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  };
  std::unique_ptr<std::atomic<std::int64_t>[]> sent_ns(new std::atomic<std::int64_t>[total]);
  std::vector<double> delivered_us(total, -1), confirm_us(total, -1);
  std::thread consumer([&] {
    std::vector<std::string> ids;
    for (std::uint64_t got = 0; got < total;) {
      redisReply* r = static_cast<redisReply*>(
          redisCommand(reader, "XREADGROUP GROUP group c COUNT 256 BLOCK 1000 STREAMS bench >"));
      if (r == nullptr) std::exit(1);
      const std::int64_t at = now_ns();
      ids.clear();
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2) {
        redisReply* entries = r->element[0]->element[1];
        for (std::size_t i = 0; i < entries->elements && got < total; ++i, ++got) {
          ids.emplace_back(entries->element[i]->element[0]->str);
          delivered_us[got] = static_cast<double>(at - sent_ns[got].load(std::memory_order_relaxed)) / 1e3;
        }
      }
      freeReplyObject(r);
      if (ids.empty()) continue;
      std::vector<const char*> argv{"XACK", "bench", "group"};
      for (const std::string& id : ids) argv.push_back(id.c_str());
      redisReply* ack =
          static_cast<redisReply*>(redisCommandArgv(reader, static_cast<int>(argv.size()), argv.data(), nullptr));
      if (ack != nullptr) freeReplyObject(ack);
    }
  });
  std::uint64_t replies = 0;
  // Reads every reply that has arrived (wait_ms 0: without blocking), noting its time.
  auto take_replies = [&](int wait_ms) {
    pollfd p{producer->fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) return;
    if (redisBufferRead(producer) != REDIS_OK) std::exit(1);
    const std::int64_t at = now_ns();
    for (void* reply = nullptr; redisGetReplyFromReader(producer, &reply) == REDIS_OK && reply != nullptr;
         reply = nullptr) {
      freeReplyObject(reply);
      confirm_us[replies] = static_cast<double>(at - sent_ns[replies].load(std::memory_order_relaxed)) / 1e3;
      ++replies;
    }
  };
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / f.rate));
  const double cpu_start = SelfCpu() + server.CpuSeconds();
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < total; ++i) {
    const auto due = start + period * static_cast<Clock::rep>(i);
    while (Clock::now() < due) {
      take_replies(0);
      std::this_thread::sleep_until(due);
    }
    sent_ns[i].store(now_ns(), std::memory_order_relaxed);
    redisAppendCommand(producer, "XADD bench * e %b", payload.data(), payload.size());
    for (int done = 0; !done;) {
      if (redisBufferWrite(producer, &done) != REDIS_OK) std::exit(1);
    }
    take_replies(0);
  }
  const auto sent = Clock::now();
  const double cpu = SelfCpu() + server.CpuSeconds() - cpu_start;
  while (replies < total) take_replies(1000);
  consumer.join();
  auto measured = [&](std::vector<double>& v) {
    std::vector<double> out(v.begin() + static_cast<std::ptrdiff_t>(f.warmup), v.end());
    std::sort(out.begin(), out.end());
    return out;
  };
  using signalbus::bench::Percentile;
  const std::vector<double> d = measured(delivered_us), c = measured(confirm_us);
  std::printf("result case=redis_latency fsync=%s rate=%.0f events=%llu p50_us=%.1f p99_us=%.1f p999_us=%.1f "
              "confirm_p50_us=%.1f confirm_p99_us=%.1f confirm_p999_us=%.1f achieved=%.0f cpu_us=%.2f durability=%s\n",
              f.fsync.c_str(), f.rate, static_cast<unsigned long long>(f.events), Percentile(d, 50),
              Percentile(d, 99), Percentile(d, 99.9), Percentile(c, 50), Percentile(c, 99), Percentile(c, 99.9),
              static_cast<double>(total) / std::chrono::duration<double>(sent - start).count(),
              cpu * 1e6 / static_cast<double>(total), f.fsync == "always" ? "fsync_before_reply" : "fsync_every_second");
  redisFree(producer);
  redisFree(reader);
  server.Stop();
  std::filesystem::remove_all(dir);
  return 0;
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  if (argc < 2) return false;
  f->mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return a.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    if (const char* v = value("--events=")) f->events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--dir=")) f->dir = v;
    else if (const char* v = value("--fsync=")) f->fsync = v;
    else if (const char* v = value("--groups=")) f->groups = std::atoi(v);
    else if (const char* v = value("--listeners=")) f->listeners = std::atoi(v);
    else if (const char* v = value("--ahead=")) f->ahead = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--rate=")) f->rate = std::strtod(v, nullptr);
    else if (const char* v = value("--warmup=")) f->warmup = std::strtoull(v, nullptr, 10);
    else return false;
  }
  return f->events > 0 && f->groups > 0 && f->listeners > 0 && f->ahead > 0 &&
         (f->mode == "jetstream" || f->mode == "redis" || f->mode == "nats") &&
         (f->fsync == "everysec" || f->fsync == "always");
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr, "usage: peers_bench jetstream|redis|nats [--events=N] [--dir=PATH] [--fsync=everysec|always] "
                         "[--groups=G] [--listeners=L] [--ahead=A] [--rate=R --warmup=W]\n");
    return 2;
  }
  const std::string payload = signalbus::bench::EncodedUserSaved(1, "peers-bench");
  if (f.mode == "nats") return RunNatsCore(f, payload);
  if (f.mode == "redis" && f.rate > 0) return RunRedisLatency(f, payload);
  return f.mode == "jetstream" ? RunJetStream(f, payload) : RunRedis(f, payload);
}
