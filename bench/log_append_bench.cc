// log_append_bench: how fast the durable log takes records under each sync policy
// (always, interval:1ms, never), end to end: the clock stops when the group committer
// reports the last record durable. Also: how fast Open verifies a log, and CRC32C speed.
//
//   log_append_bench [--dir=PATH] [--records=N] [--size=BYTES] [--runs=R] [--keep]
//
// PATH must be on the disk to measure (not tmpfs); each run uses a fresh directory
// PATH/run, removed afterwards. Prints medians over R runs.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "signalbus/log/crc32c.h"
#include "signalbus/log/file_store.h"
#include "signalbus/log/group_commit.h"

namespace {

using namespace signalbus::eventlog;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string dir = "log-bench-data";
  bool keep = false;  // leave the last run's log behind
  std::uint64_t records = 1'000'000;
  std::size_t size = 200;
  int runs = 5;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return a.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    if (const char* v = value("--dir=")) f->dir = v;
    else if (a == "--keep") f->keep = true;
    else if (const char* v = value("--records=")) f->records = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--size=")) f->size = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--runs=")) f->runs = std::atoi(v);
    else {
      std::fprintf(stderr, "log_append_bench: unknown flag %s\n", argv[i]);
      return false;
    }
  }
  return f->records > 0 && f->runs > 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct RunResult {
  double durable_per_s;  // records / (time until the last one is reported durable)
  double append_per_s;   // records / (time the appending thread took)
  double syncs;
};

RunResult RunOnce(const Flags& f, const SyncPolicy& policy, const std::string& dir) {
  std::filesystem::remove_all(dir);
  auto store = FileStore::Open(dir, FileStore::Options{});
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), store.status().ToString().c_str());
    std::exit(1);
  }
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t durable = 0;
  GroupCommitter committer(
      store->get(), policy,
      [&](std::uint64_t d) {
        std::lock_guard lock(mu);
        durable = d;
        if (d == f.records) cv.notify_all();
      },
      [](const signalbus::Status& s) {
        std::fprintf(stderr, "sync failed: %s\n", s.ToString().c_str());
        std::exit(1);
      });
  committer.Start();
  const std::string topic = "auth.User/post_save";
  const std::string event(f.size > topic.size() ? f.size - topic.size() : 1, 'e');
  const auto start = Clock::now();
  for (std::uint64_t i = 1; i <= f.records; ++i) {
    auto r = (*store)->Append(topic, event, 1'700'000'000'000 + static_cast<std::int64_t>(i));
    if (!r.ok()) {
      std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    committer.Notify();
  }
  const auto appended = Clock::now();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return durable == f.records; });
  }
  const auto done = Clock::now();
  committer.Stop();
  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  return RunResult{f.records / secs(done - start), f.records / secs(appended - start),
                   static_cast<double>(committer.sync_count())};
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr, "usage: log_append_bench [--dir=PATH] [--records=N] [--size=BYTES] [--runs=R] [--keep]\n");
    return 2;
  }
  const std::string dir = f.dir + "/run";
  std::printf("log_append_bench: %llu records of %zu bytes (topic + event), median of %d runs, dir %s\n",
              static_cast<unsigned long long>(f.records), f.size, f.runs, f.dir.c_str());
  std::printf("crc32c: %s\n\n", crc32c::HardwareAvailable() ? "SSE4.2" : "software");
  std::printf("%-14s %16s %16s %10s %12s\n", "policy", "durable rec/s", "append rec/s", "MB/s", "fdatasyncs");
  for (const char* name : {"always", "interval:1ms", "never"}) {
    SyncPolicy policy = *ParseSyncPolicy(name);
    std::vector<double> durable, append, syncs;
    for (int run = 0; run < f.runs; ++run) {
      RunResult r = RunOnce(f, policy, dir);
      durable.push_back(r.durable_per_s);
      append.push_back(r.append_per_s);
      syncs.push_back(r.syncs);
    }
    const double rate = Median(durable);
    std::printf("%-14s %16.0f %16.0f %10.1f %12.0f\n", name, rate, Median(append),
                rate * static_cast<double>(f.size + 28) / 1e6,
                policy.kind == SyncPolicy::Kind::kNever ? 0.0 : Median(syncs));
  }

  // Open verifies every record of the log left by the last run.
  std::vector<double> verify_ms;
  std::uint64_t bytes = 0;
  for (int run = 0; run < f.runs; ++run) {
    auto store = FileStore::Open(dir, FileStore::Options{});
    if (!store.ok()) {
      std::fprintf(stderr, "reopen: %s\n", store.status().ToString().c_str());
      return 1;
    }
    verify_ms.push_back((*store)->recovery().open_time.count() / 1000.0);
    bytes = (*store)->recovery().bytes_verified;
  }
  const double ms = Median(verify_ms);
  std::printf("\nopen + verify %llu records (%.1f MB, page cache warm): %.1f ms, %.2f GB/s\n",
              static_cast<unsigned long long>(f.records), bytes / 1e6, ms, bytes / 1e6 / ms);

  std::string buf(1 << 20, 'x');
  for (auto [label, fn] : {std::pair{"sse4.2", &crc32c::ExtendHardware}, std::pair{"software", &crc32c::ExtendSoftware}}) {
    if (fn == &crc32c::ExtendHardware && !crc32c::HardwareAvailable()) continue;
    std::uint32_t crc = 0;
    const auto start = Clock::now();
    for (int i = 0; i < 512; ++i) crc = fn(crc, buf.data(), buf.size());
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("crc32c %-8s %.2f GB/s (%08x)\n", label, 512.0 * buf.size() / 1e9 / s, crc);
  }
  if (f.keep) {
    std::printf("kept the last run's log in %s (a broker's --data-dir: restart time, RSS)\n", dir.c_str());
    return 0;
  }
  std::filesystem::remove_all(dir);
  std::error_code ec;
  std::filesystem::remove(f.dir, ec);  // only if empty: it may be the caller's
  return 0;
}
