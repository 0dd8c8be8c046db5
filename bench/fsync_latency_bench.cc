// fsync_latency_bench: the disk's own floor for fsync-before-confirm at a paced rate, with no
// bus at all. One thread appends a record every 1/RATE s (write(2) into a buffer handed to
// the syncer); a syncer thread writes what is pending with one write(2) and calls fdatasync,
// as a group committer does, then stamps every record of that write durable. Prints the
// latency from append to durable (p50/p99/p99.9), the fdatasync calls' own durations, and
// the syncer's CPU per sync. A durable bus at that rate cannot have a lower p99 on this disk.
//
//   fsync_latency_bench [--dir=PATH] [--rate=R] [--events=N] [--size=BYTES] [--mode=append|overwrite]
//                       [--gap-us=US] [--replace-every-ms=MS]
//
// PATH must be on the disk to measure (not tmpfs; default: the system's temp directory).
// append: the file grows with every write (what signalbus's log does); overwrite: the file is
// written in full and synced first, so a sync carries no size or extent change.
// --gap-us: the least time from the end of one fdatasync to the start of the next, as the
// broker's --fsync-gap-us (the same default, 200). --replace-every-ms: beside the log, a third
// thread replaces a small file atomically every MS ms (a temporary file, fdatasync, rename,
// fsync of the directory), as a group's state writer does. The last line, "result kind=fsync ...",
// holds the figures as key=value (bench/compare).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string dir = std::filesystem::temp_directory_path().string();
  double rate = 10000;
  long events = 20000;
  std::size_t size = 300;
  bool overwrite = false;
  long replace_every_ms = 0;
  long gap_us = 200;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "fsync_latency_bench: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: fsync_latency_bench [--dir=PATH] [--rate=R] [--events=N] [--size=BYTES] "
               "[--mode=append|overwrite] [--gap-us=US] [--replace-every-ms=MS]\n");
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return arg.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    char* end = nullptr;
    if (const char* v = value("--dir=")) {
      flags.dir = v;
    } else if (const char* v = value("--rate=")) {
      flags.rate = std::strtod(v, &end);
      if (*end != '\0' || !(flags.rate > 0)) Usage("--rate needs a positive number");
    } else if (const char* v = value("--events=")) {
      flags.events = std::strtol(v, &end, 10);
      if (*end != '\0' || flags.events <= 0) Usage("--events needs a positive integer");
    } else if (const char* v = value("--size=")) {
      long size = std::strtol(v, &end, 10);
      if (*end != '\0' || size <= 0 || size > (1 << 20)) Usage("--size needs 1..1048576");
      flags.size = static_cast<std::size_t>(size);
    } else if (const char* v = value("--mode=")) {
      std::string_view mode = v;
      if (mode != "append" && mode != "overwrite") Usage("--mode is append or overwrite");
      flags.overwrite = mode == "overwrite";
    } else if (const char* v = value("--gap-us=")) {
      flags.gap_us = std::strtol(v, &end, 10);
      if (*end != '\0' || flags.gap_us < 0) Usage("--gap-us needs a number of at least 0");
    } else if (const char* v = value("--replace-every-ms=")) {
      flags.replace_every_ms = std::strtol(v, &end, 10);
      if (*end != '\0' || flags.replace_every_ms <= 0) Usage("--replace-every-ms needs a positive integer");
    } else {
      Usage("unknown argument " + std::string(arg));
    }
  }
  return flags;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "fsync_latency_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void WriteAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die("write");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

double CpuMicros(int who) {
  rusage usage{};
  getrusage(who, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// What the appender hands the syncer: bytes and each record's append time.
struct Pending {
  std::string bytes;
  std::vector<Clock::time_point> appended;
};

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  std::string dir = flags.dir + "/fsync-latency-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) Die("mkdtemp");
  const std::string path = dir + "/log";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Die("open");
  if (flags.overwrite) {
    std::string zeros(1 << 20, '\0');
    auto total = static_cast<std::size_t>(flags.events) * flags.size;
    for (std::size_t done = 0; done < total; done += zeros.size()) {
      WriteAll(fd, zeros.data(), std::min(zeros.size(), total - done));
    }
    if (::fsync(fd) != 0) Die("fsync");
    if (::lseek(fd, 0, SEEK_SET) != 0) Die("lseek");
  }

  std::mutex mutex;
  std::condition_variable wake;
  Pending pending;
  bool done = false;
  std::vector<double> latencies;
  std::vector<double> sync_micros;
  latencies.reserve(static_cast<std::size_t>(flags.events));
  double syncer_cpu = 0;

  std::thread syncer([&] {
    double cpu_start = CpuMicros(RUSAGE_THREAD);
    Pending batch;
    auto last_end = Clock::time_point::min();
    for (;;) {
      if (flags.gap_us > 0 && last_end != Clock::time_point::min()) {
        std::this_thread::sleep_until(last_end + std::chrono::microseconds(flags.gap_us));
      }
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return done || !pending.appended.empty(); });
        if (pending.appended.empty()) break;
        std::swap(batch, pending);
      }
      WriteAll(fd, batch.bytes.data(), batch.bytes.size());
      auto before = Clock::now();
      while (::fdatasync(fd) != 0) {
        if (errno != EINTR) Die("fdatasync");
      }
      auto after = Clock::now();
      last_end = after;
      sync_micros.push_back(std::chrono::duration<double, std::micro>(after - before).count());
      for (auto appended : batch.appended) {
        latencies.push_back(std::chrono::duration<double, std::micro>(after - appended).count());
      }
      batch.bytes.clear();
      batch.appended.clear();
    }
    syncer_cpu = CpuMicros(RUSAGE_THREAD) - cpu_start;
  });

  std::atomic<bool> stop_replacing{false};
  std::thread replacer;
  if (flags.replace_every_ms > 0) {
    replacer = std::thread([&] {
      const std::string tmp = dir + "/state.tmp";
      const std::string target = dir + "/state";
      const std::string contents(200, 's');
      auto next = Clock::now();
      while (!stop_replacing.load()) {
        next += std::chrono::milliseconds(flags.replace_every_ms);
        std::this_thread::sleep_until(next);
        int out = ::open(tmp.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0) Die("open state.tmp");
        WriteAll(out, contents.data(), contents.size());
        if (::fdatasync(out) != 0) Die("fdatasync state.tmp");
        ::close(out);
        if (::rename(tmp.c_str(), target.c_str()) != 0) Die("rename");
        int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0 || ::fsync(dir_fd) != 0) Die("fsync directory");
        ::close(dir_fd);
      }
    });
  }

  const std::string record(flags.size, 'e');
  const auto period = std::chrono::duration<double>(1.0 / flags.rate);
  const double process_cpu_start = CpuMicros(RUSAGE_SELF);
  const auto start = Clock::now();
  for (long i = 0; i < flags.events; ++i) {
    auto due = start + std::chrono::duration_cast<Clock::duration>(period * static_cast<double>(i));
    std::this_thread::sleep_until(due);
    auto now = Clock::now();
    {
      std::lock_guard lock(mutex);
      pending.bytes += record;
      pending.appended.push_back(now);
    }
    wake.notify_one();
  }
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  wake.notify_one();
  syncer.join();
  stop_replacing = true;
  if (replacer.joinable()) replacer.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu_per_event = (CpuMicros(RUSAGE_SELF) - process_cpu_start) / static_cast<double>(flags.events);
  ::close(fd);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);

  const char* mode = flags.overwrite ? "overwrite" : "append";
  double cpu_per_sync = sync_micros.empty() ? 0 : syncer_cpu / static_cast<double>(sync_micros.size());
  std::printf("fsync_latency_bench: %ld records of %zu bytes at %.0f/s (%s), %zu fdatasyncs in %.2f s, on %s%s\n",
              flags.events, flags.size, flags.rate, mode, sync_micros.size(), seconds, flags.dir.c_str(),
              flags.replace_every_ms > 0 ? (", a file replaced every " + std::to_string(flags.replace_every_ms) + " ms").c_str()
                                         : "");
  std::printf("append -> durable   p50 %8.0f us  p99 %8.0f us  p99.9 %8.0f us\n", Percentile(latencies, 0.5),
              Percentile(latencies, 0.99), Percentile(latencies, 0.999));
  std::printf("fdatasync itself    p50 %8.0f us  p99 %8.0f us  p99.9 %8.0f us\n", Percentile(sync_micros, 0.5),
              Percentile(sync_micros, 0.99), Percentile(sync_micros, 0.999));
  std::printf("syncer CPU per fdatasync %.1f us; process CPU per record %.1f us; %.2f records per fdatasync\n",
              cpu_per_sync, cpu_per_event,
              static_cast<double>(flags.events) / static_cast<double>(std::max<std::size_t>(1, sync_micros.size())));
  std::printf("result kind=fsync mode=%s gap_us=%ld replace_every_ms=%ld rate=%.0f events=%ld p50_us=%.1f p99_us=%.1f p999_us=%.1f "
              "sync_p50_us=%.1f sync_p99_us=%.1f syncs=%zu cpu_per_sync_us=%.1f cpu_us=%.1f achieved=%.0f\n",
              mode, flags.gap_us, flags.replace_every_ms, flags.rate, flags.events, Percentile(latencies, 0.5), Percentile(latencies, 0.99),
              Percentile(latencies, 0.999), Percentile(sync_micros, 0.5), Percentile(sync_micros, 0.99),
              sync_micros.size(), cpu_per_sync, cpu_per_event, static_cast<double>(flags.events) / seconds);
  return 0;
}
