// The publisher loop, the member threads, and how a run knows it is finished.
#include "e2e_run.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

#include "bench_events.h"
#include "signalbus/admin/admin_client.h"
#include "signalbus/publisher/publisher.h"
#include "signalbus/receivers/receiver.h"

namespace signalbus::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// How long the end of a run may take (a group draining a backlog of millions included).
constexpr milliseconds kFinishTimeout{600'000};

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// Publish times by sequence (the publisher numbers its events 1, 2, 3...). Written by
// the publisher thread before each Publish, read by handlers after the event went
// through the broker: atomics, so a handler never reads a torn value.
class PublishTimes {
 public:
  explicit PublishTimes(std::uint64_t events) : ns_(new std::atomic<std::int64_t>[events + 1]), size_(events + 1) {}
  void Set(std::uint64_t seq, std::int64_t ns) { ns_[seq].store(ns, std::memory_order_relaxed); }
  std::int64_t Get(std::uint64_t seq) const {
    return seq < size_ ? ns_[seq].load(std::memory_order_relaxed) : 0;
  }

 private:
  std::unique_ptr<std::atomic<std::int64_t>[]> ns_;
  std::uint64_t size_;
};

// M group members, each a Receiver running on its own thread. Handlers record when
// they ran for which sequence.
class MemberPool {
 public:
  MemberPool(const E2eOptions& options, std::uint64_t expected) : options_(options), expected_(expected) {}
  ~MemberPool() { Stop(); }

  // The name of group `g` (0-based) of options.group_count.
  static std::string GroupName(const E2eOptions& options, int g) {
    return options.group_count == 1 ? options.group : options.group + "-" + std::to_string(g);
  }

  // Creates the lagging groups (a member joins at the earliest offset and leaves), then
  // joins every member (Connect returns once the broker confirmed), then runs them.
  Status Start() {
    for (int g = 0; g < options_.lagging_groups; ++g) {
      ReceiverOptions ro = MemberOptions(options_.group + "-lagging-" + std::to_string(g), 0);
      Receiver lagging(std::move(ro));
      lagging.on("post_save", kUserSender, [](const v1::Event&) {});
      if (Status s = lagging.Connect(); !s.ok()) return s;
      lagging.Stop();
    }
    for (int g = 0; g < options_.group_count; ++g) {
      for (int i = 0; i < options_.members; ++i) {
        auto m = std::make_unique<Member>();
        m->receiver = std::make_unique<Receiver>(MemberOptions(GroupName(options_, g), i));
        m->seen.reserve(expected_ / static_cast<std::uint64_t>(options_.members) + 1024);
        Member* raw = m.get();
        m->receiver->on("post_save", kUserSender, [this, raw](const v1::Event& e) {
          if (options_.handler_time.count() > 0) std::this_thread::sleep_for(options_.handler_time);
          raw->seen.emplace_back(e.sequence(), NowNs());
          handled_.fetch_add(1, std::memory_order_relaxed);
        });
        if (Status s = m->receiver->Connect(); !s.ok()) return s;
        members_.push_back(std::move(m));
      }
    }
    for (auto& m : members_) {
      Member* raw = m.get();
      m->thread = std::thread([raw] {
        raw->status = raw->receiver->Run();
        raw->cpu_seconds = ThreadCpuSeconds();
      });
    }
    return Status::Ok();
  }

  void Stop() {
    for (auto& m : members_) m->receiver->Stop();
    for (auto& m : members_) {
      if (m->thread.joinable()) m->thread.join();
    }
  }

  std::uint64_t handled() const { return handled_.load(std::memory_order_relaxed); }
  // CPU seconds of all member threads. After Stop().
  double CpuSeconds() const {
    double total = 0;
    for (const auto& m : members_) total += m->cpu_seconds;
    return total;
  }

  // Waits until handlers ran `n` times; false after `timeout`.
  bool WaitHandled(std::uint64_t n, milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (handled() < n) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }

  // Publish -> handler latency in µs by sequence (index 0 unused; -1: never handled).
  // The first handling counts. After Stop().
  std::vector<double> LatenciesBySequence(const PublishTimes& published, std::uint64_t total) const {
    std::vector<double> out(total + 1, -1);
    for (const auto& m : members_) {
      for (auto [seq, ns] : m->seen) {
        if (seq <= total && out[seq] < 0) out[seq] = static_cast<double>(ns - published.Get(seq)) / 1e3;
      }
    }
    return out;
  }

 private:
  ReceiverOptions MemberOptions(const std::string& group, int i) const {
    ReceiverOptions ro;
    ro.name = group;
    ro.groups_endpoint = options_.groups;
    ro.group.member_name = group + "-member-" + std::to_string(i);
    ro.group.credits = options_.credits;
    ro.group.ack_batch = options_.ack_batch;
    ro.group.start.set_earliest(true);
    ro.poll_interval = milliseconds(20);  // how soon Stop() is noticed
    return ro;
  }

  struct Member {
    std::unique_ptr<Receiver> receiver;
    std::thread thread;
    std::vector<std::pair<std::uint64_t, std::int64_t>> seen;  // (sequence, ns), this member's thread only
    Status status;
    double cpu_seconds = 0;  // of its thread, set when Run() returned
  };

  const E2eOptions options_;
  const std::uint64_t expected_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<std::uint64_t> handled_{0};
};

// The groups as the broker sees them: every one of options.group_count, in order.
Result<std::vector<v1::GroupInfo>> GroupInfosOf(const E2eOptions& options) {
  admin::AdminClient client(options.groups, milliseconds(5000));
  Result<std::vector<v1::GroupInfo>> groups = client.ListGroups();
  if (!groups.ok()) return groups.status();
  std::vector<v1::GroupInfo> out;
  for (int g = 0; g < options.group_count; ++g) {
    const std::string name = MemberPool::GroupName(options, g);
    bool found = false;
    for (const v1::GroupInfo& info : *groups) {
      if (info.name() == name) {
        out.push_back(info);
        found = true;
      }
    }
    if (!found) return NotFound("no group " + name);
  }
  return out;
}

// Waits until the broker has counted `n` acks for every group; returns the first
// group's info with `redelivered` summed over all.
Result<v1::GroupInfo> WaitAcked(const E2eOptions& options, std::uint64_t n, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    Result<std::vector<v1::GroupInfo>> infos = GroupInfosOf(options);
    if (!infos.ok()) return infos.status();
    std::uint64_t least = n;
    std::uint64_t redelivered = 0;
    for (const v1::GroupInfo& info : *infos) {
      least = std::min<std::uint64_t>(least, info.acked());
      redelivered += info.redelivered();
    }
    if (least >= n) {
      v1::GroupInfo first = infos->front();
      first.set_redelivered(redelivered);
      return first;
    }
    if (Clock::now() >= deadline) {
      return DeadlineExceeded("the broker counted " + std::to_string(least) + " of " + std::to_string(n) +
                              " acks for a group");
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
}

// Joins the members, then connects the publisher. An error text, or "".
std::string Setup(const E2eOptions& options, MemberPool& pool, std::unique_ptr<Publisher>* publisher) {
  if (Status s = pool.Start(); !s.ok()) return "members: " + s.message();
  PublisherOptions po;
  po.endpoint = options.ingest;
  po.source = "accounts";
  po.send_timeout = milliseconds(30'000);
  Result<std::unique_ptr<Publisher>> connected = Publisher::Connect(std::move(po));
  if (!connected.ok()) return "publisher: " + connected.status().message();
  *publisher = std::move(connected).value();
  return "";
}

// Waits until every one of `events` is confirmed (Flush), handled, and acked at the
// broker. An error text, or "".
std::string Finish(const E2eOptions& options, Publisher& publisher, const MemberPool& pool, std::uint64_t events,
                   Clock::time_point* confirmed, v1::GroupInfo* info) {
  if (Status s = publisher.Flush(kFinishTimeout); !s.ok()) return "flush: " + s.message();
  *confirmed = Clock::now();
  const std::uint64_t deliveries = events * static_cast<std::uint64_t>(options.group_count);
  if (!pool.WaitHandled(deliveries, kFinishTimeout)) {
    return "only " + std::to_string(pool.handled()) + " of " + std::to_string(deliveries) + " events handled";
  }
  Result<v1::GroupInfo> acked = WaitAcked(options, events, kFinishTimeout);
  if (!acked.ok()) return "acks: " + acked.status().message();
  *info = std::move(acked).value();
  return "";
}

Status PublishUser(Publisher& publisher, std::uint64_t pk) {
  SaveInfo created;
  created.created = true;
  return publisher.PostSave(kUserSender, UserInstance(pk), created);
}

// Users first..last as one (plain) batch: the same events PublishUser makes.
Status PublishUsers(Publisher& publisher, std::uint64_t first, std::uint64_t last) {
  std::vector<v1::Event> events;
  for (std::uint64_t pk = first; pk <= last; ++pk) {
    v1::Event& e = events.emplace_back();
    e.set_sender(std::string(kUserSender));
    e.set_signal("post_save");
    *e.mutable_model_save()->mutable_instance() = UserInstance(pk);
    e.mutable_model_save()->set_created(true);
    e.mutable_model_save()->set_using_("default");
  }
  return publisher.PublishBatch(std::move(events), /*atomic=*/false);
}

}  // namespace

ThroughputResult RunThroughput(const E2eOptions& options, std::uint64_t events) {
  ThroughputResult result;
  MemberPool pool(options, events);
  std::unique_ptr<Publisher> publisher;
  if (result.error = Setup(options, pool, &publisher); !result.error.empty()) return result;
  const double broker_cpu_start = options.broker_cpu ? options.broker_cpu() : 0;
  const double process_cpu_start = ProcessCpuSeconds();
  const double publisher_cpu_start = ThreadCpuSeconds();
  const auto start = Clock::now();
  for (std::uint64_t i = 1; i <= events; i += options.batch) {
    const std::uint64_t last = std::min<std::uint64_t>(events, i + options.batch - 1);
    Status s = options.batch > 1 ? PublishUsers(*publisher, i, last) : PublishUser(*publisher, i);
    if (!s.ok()) {
      result.error = "publish: " + s.message();
      return result;
    }
  }
  Clock::time_point confirmed;
  v1::GroupInfo info;
  if (result.error = Finish(options, *publisher, pool, events, &confirmed, &info); !result.error.empty()) return result;
  const auto done = Clock::now();
  const double publisher_cpu = ThreadCpuSeconds() - publisher_cpu_start;
  const double broker_cpu = options.broker_cpu ? options.broker_cpu() - broker_cpu_start : 0;
  pool.Stop();
  const double process_cpu = ProcessCpuSeconds() - process_cpu_start;
  const double us_per_event = 1e6 / static_cast<double>(events);
  result.cpu.broker = broker_cpu * us_per_event;
  result.cpu.publisher = publisher_cpu * us_per_event;
  result.cpu.members = pool.CpuSeconds() * us_per_event;
  result.cpu.other = (process_cpu - publisher_cpu - pool.CpuSeconds()) * us_per_event;
  auto seconds = [&](Clock::time_point t) { return std::chrono::duration<double>(t - start).count(); };
  result.ok = true;
  result.events_per_s = static_cast<double>(events) / seconds(done);
  result.confirmed_per_s = static_cast<double>(events) / seconds(confirmed);
  result.handled = pool.handled();
  result.redelivered = info.redelivered();
  return result;
}

LatencyResult RunLatency(const E2eOptions& options, std::uint64_t events, std::uint64_t warmup, double rate,
                         std::chrono::microseconds tick) {
  LatencyResult result;
  const std::uint64_t total = warmup + events;
  PublishTimes published(total);
  MemberPool pool(options, total);
  std::unique_ptr<Publisher> publisher;
  if (result.error = Setup(options, pool, &publisher); !result.error.empty()) return result;
  Publisher& pub = *publisher;
  std::vector<double> confirm_us(total + 1, -1);  // by sequence
  std::uint64_t seen_confirmed = 0;
  // Confirms are cumulative: everything up to published - unconfirmed is durable.
  auto note_confirms = [&] {
    const std::uint64_t through = pub.published() - pub.unconfirmed();
    const std::int64_t now = NowNs();
    for (std::uint64_t seq = seen_confirmed + 1; seq <= through; ++seq) {
      confirm_us[seq] = static_cast<double>(now - published.Get(seq)) / 1e3;
    }
    seen_confirmed = std::max(seen_confirmed, through);
  };
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const double cpu_start = ProcessCpuSeconds() + (options.broker_cpu ? options.broker_cpu() : 0);
  const auto start = Clock::now();
  for (std::uint64_t i = 1; i <= total; ++i) {
    const Clock::duration due = period * static_cast<Clock::rep>(i - 1);
    if (Clock::now() < start + due) {
      const Clock::duration step = tick.count() > 0 ? Clock::duration(tick) : Clock::duration(1);
      std::this_thread::sleep_until(start + (due + step - Clock::duration(1)) / step * step);
    }
    published.Set(i, NowNs());
    if (Status s = PublishUser(pub, i); !s.ok()) {
      result.error = "publish: " + s.message();
      return result;
    }
    note_confirms();
  }
  const auto sent = Clock::now();
  result.cpu_us_per_event = (ProcessCpuSeconds() + (options.broker_cpu ? options.broker_cpu() : 0) - cpu_start) *
                            1e6 / static_cast<double>(total);
  // The last confirms, noticed as they come (Finish flushes again: a no-op then).
  (void)pub.Flush(kFinishTimeout);
  note_confirms();
  Clock::time_point confirmed;
  v1::GroupInfo info;
  if (result.error = Finish(options, pub, pool, total, &confirmed, &info); !result.error.empty()) return result;
  pool.Stop();
  result.ok = true;
  result.achieved_rate = static_cast<double>(total) / std::chrono::duration<double>(sent - start).count();
  const std::vector<double> handler_us = pool.LatenciesBySequence(published, total);
  for (std::uint64_t seq = warmup + 1; seq <= total; ++seq) {
    result.trace.push_back(LatencySample{seq, static_cast<double>(published.Get(seq) - published.Get(1)) / 1e6,
                                         confirm_us[seq], handler_us[seq]});
    result.handler_us.push_back(handler_us[seq]);
    result.confirm_us.push_back(confirm_us[seq]);
  }
  std::sort(result.handler_us.begin(), result.handler_us.end());
  std::sort(result.confirm_us.begin(), result.confirm_us.end());
  result.redelivered = info.redelivered();
  return result;
}

}  // namespace signalbus::bench
