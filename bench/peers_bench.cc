// peers_bench: the durable acked path of signalbus's peers, measured the way e2e_bench
// measures signalbus's own, so that bench/compare can put them side by side in one run:
// one producer publishes N copies of the benchmark event (about 217 bytes) with
// confirms, one consumer in a consumer group takes and acks each; the time is from the
// first publish until the last ack, and the server's CPU is read from /proc.
//
//   peers_bench jetstream --events=N --dir=PATH   NATS JetStream, file store, async
//                                                  publish with acks, pull consumer + ack
//   peers_bench redis --events=N --dir=PATH --fsync=everysec|always
//                                                  Redis Streams: pipelined XADD,
//                                                  XREADGROUP + XACK, AOF on
//
// Each run starts its own server (nats-server / redis-server from Debian) on a free
// loopback port with a fresh directory under PATH, and stops it by its pid. Prints one
// line: "result case=... events_per_s=... server_cpu_us=... durability=...". A bench,
// not a test: no assertions.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

#include <hiredis/hiredis.h>
#include <nats/nats.h>

#include "bench_events.h"
#include "child_process.h"

namespace {

using signalbus::bench::ChildProcess;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string mode;
  std::uint64_t events = 200'000;
  std::string dir = "/var/tmp";
  std::string fsync = "everysec";
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

void Report(const char* name, double seconds, std::uint64_t events, double server_cpu, const char* durability) {
  std::printf("result case=%s events_per_s=%.0f server_cpu_us=%.2f durability=%s\n", name,
              static_cast<double>(events) / seconds, server_cpu * 1e6 / static_cast<double>(events), durability);
}

// ---- NATS JetStream ---------------------------------------------------------------

int RunJetStream(const Flags& f, const std::string& payload) {
  const std::string dir = FreshDir(f.dir, "peers-nats");
  const int port = FreePort();
  if (dir.empty() || port < 0) return std::fprintf(stderr, "peers_bench: no directory or port\n"), 1;
  ChildProcess server({"/usr/sbin/nats-server", "-js", "-sd", dir, "-a", "127.0.0.1", "-p", std::to_string(port)},
                      dir + "/server.log");
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  natsConnection* nc = nullptr;
  for (auto deadline = Clock::now() + std::chrono::seconds(10); Clock::now() < deadline;) {
    if (natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (nc == nullptr) return std::fprintf(stderr, "peers_bench: nats-server did not answer at %s\n", url.c_str()), 1;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = 4096;
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
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Config.AckPolicy = js_AckExplicit;
  sub_options.Config.MaxAckPending = 4096;
  natsSubscription* sub = nullptr;
  if (js_PullSubscribe(&sub, js, "bench.>", "group", nullptr, &sub_options, &jerr) != NATS_OK) {
    return std::fprintf(stderr, "peers_bench: pull subscribe failed (%d)\n", static_cast<int>(jerr)), 1;
  }
  const double cpu_start = server.CpuSeconds();
  const auto start = Clock::now();
  std::atomic<std::uint64_t> acked{0};
  std::thread consumer([&] {
    while (acked.load() < f.events) {
      natsMsgList list{};
      jsErrCode fetch_err = static_cast<jsErrCode>(0);
      if (natsSubscription_Fetch(&list, sub, 256, 1000, &fetch_err) != NATS_OK) continue;
      for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
      acked.fetch_add(static_cast<std::uint64_t>(list.Count));
      natsMsgList_Destroy(&list);
    }
  });
  for (std::uint64_t i = 0; i < f.events; ++i) {
    if (js_PublishAsync(js, "bench.auth.User.post_save", payload.data(), static_cast<int>(payload.size()), nullptr) !=
        NATS_OK) {
      std::fprintf(stderr, "peers_bench: publish failed\n");
      std::exit(1);
    }
  }
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 60000;
  js_PublishAsyncComplete(js, &complete);
  consumer.join();
  natsConnection_Flush(nc);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = server.CpuSeconds() - cpu_start;
  Report("jetstream", seconds, f.events, cpu, "acked_before_fsync");
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
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
  redisContext* reader = ConnectRedis(port);
  if (producer == nullptr || reader == nullptr) return std::fprintf(stderr, "peers_bench: no redis-server\n"), 1;
  freeReplyObject(redisCommand(producer, "XGROUP CREATE bench group $ MKSTREAM"));
  const double cpu_start = server.CpuSeconds();
  const auto start = Clock::now();
  std::atomic<std::uint64_t> acked{0};
  std::thread consumer([&] {
    std::vector<std::string> ids;
    while (acked.load() < f.events) {
      redisReply* r = static_cast<redisReply*>(
          redisCommand(reader, "XREADGROUP GROUP group c COUNT 256 BLOCK 1000 STREAMS bench >"));
      if (r == nullptr) std::exit(1);
      ids.clear();
      // [[stream, [[id, [field, value]], ...]]]
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2) {
        redisReply* entries = r->element[0]->element[1];
        for (std::size_t i = 0; i < entries->elements; ++i) ids.emplace_back(entries->element[i]->element[0]->str);
      }
      freeReplyObject(r);
      if (ids.empty()) continue;
      std::vector<const char*> argv{"XACK", "bench", "group"};
      for (const std::string& id : ids) argv.push_back(id.c_str());
      redisReply* ack = static_cast<redisReply*>(redisCommandArgv(reader, static_cast<int>(argv.size()), argv.data(),
                                                                  nullptr));
      if (ack != nullptr) freeReplyObject(ack);
      acked.fetch_add(ids.size());
    }
  });
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
  consumer.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = server.CpuSeconds() - cpu_start;
  Report(f.fsync == "always" ? "redis_streams_always" : "redis_streams_everysec", seconds, f.events, cpu,
         f.fsync == "always" ? "fsync_before_reply" : "fsync_every_second");
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
    else return false;
  }
  return f->events > 0 && (f->mode == "jetstream" || f->mode == "redis") &&
         (f->fsync == "everysec" || f->fsync == "always");
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr, "usage: peers_bench jetstream|redis [--events=N] [--dir=PATH] [--fsync=everysec|always]\n");
    return 2;
  }
  const std::string payload = signalbus::bench::EncodedUserSaved(1, "peers-bench");
  return f.mode == "jetstream" ? RunJetStream(f, payload) : RunRedis(f, payload);
}
