// groups_bench: events/s through the consumer-group Coordinator over a MemoryStore —
// one group, three members, acks sent in batches of 64 — from OnDurable until the
// group's ack floor reaches the last event. Measures the coordinator alone (store reads,
// key lookup, delivery batches, acks); no sockets, no serialisation of replies.
//
//   groups_bench [--events=N] [--members=M] [--credits=C] [--keys=K] [--runs=R]
//                [--mode=noted|scanned]
//
// Two modes per run: "noted" (the broker calls NoteKey at ingest, as it has the key
// from validation) and "scanned" (every group scans each event for its key: a restart's
// backlog, or a group further behind than the key cache).
// Prints the median over R runs.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "bench_events.h"
#include "bench_stats.h"
#include "signalbus/core/codec.h"
#include "signalbus/groups/coordinator.h"
#include "signalbus/log/memory_store.h"

namespace {

using namespace signalbus;
using bench::Median;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kTopic = bench::kUserTopic;
constexpr int kAckBatch = 64;

struct Flags {
  std::uint64_t events = 1'000'000;
  int members = 3;
  std::uint32_t credits = 1024;
  std::uint64_t keys = 10'000;
  int runs = 5;
  std::string mode;  // "noted" or "scanned"; empty: both
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      return a.substr(0, name.size()) == name ? argv[i] + name.size() : nullptr;
    };
    if (const char* v = value("--events=")) f->events = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--members=")) f->members = std::atoi(v);
    else if (const char* v = value("--credits=")) f->credits = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10));
    else if (const char* v = value("--keys=")) f->keys = std::strtoull(v, nullptr, 10);
    else if (const char* v = value("--runs=")) f->runs = std::atoi(v);
    else if (const char* v = value("--mode=")) f->mode = v;
    else {
      std::fprintf(stderr, "groups_bench: unknown flag %s\n", argv[i]);
      return false;
    }
  }
  return f->events > 0 && f->members > 0 && f->credits > 0 && f->keys > 0 && f->runs > 0;
}

// CPU time of this thread: on a shared machine, events per CPU-second is the steadier
// figure; wall-clock events/s is printed too.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Rates {
  double wall = 0;  // events per second
  double cpu = 0;   // events per CPU-second
};

struct Member {
  std::string peer;
  std::deque<v1::DeliveryRef> unacked;
};

// One run.
Rates RunOnce(const Flags& flags, const std::vector<std::string>& events, bool note_keys) {
  eventlog::MemoryStore store;
  for (std::uint64_t i = 0; i < flags.events; ++i) (void)store.Append(kTopic, events[i % events.size()], 0).value();

  std::vector<Member> members(static_cast<std::size_t>(flags.members));
  for (int i = 0; i < flags.members; ++i) members[static_cast<std::size_t>(i)].peer = "member-" + std::to_string(i);
  auto member_of = [&](std::string_view peer) -> Member* {
    for (Member& m : members) {
      if (m.peer == peer) return &m;
    }
    return nullptr;
  };
  groups::CoordinatorOptions options;  // no state_dir: nothing is written
  groups::Coordinator coord(&store, options, [&](std::string_view peer, const v1::GroupReply& reply) {
    if (!reply.has_deliveries()) return;
    Member* m = member_of(peer);
    for (const v1::Delivery& d : reply.deliveries().deliveries()) {
      v1::DeliveryRef ref;
      ref.set_offset(d.offset());
      ref.set_attempt(d.attempt());
      m->unacked.push_back(ref);
    }
  });
  if (!coord.Open().ok()) std::abort();
  // Durable in the store now, but the coordinator learns it chunk by chunk (OnDurable).
  std::uint64_t durable = store.Sync().value();
  groups::TimePoint now = Clock::now();
  for (Member& m : members) {
    v1::GroupRequest join;
    join.mutable_join()->set_group("bench");
    join.mutable_join()->set_member_name(m.peer);
    join.mutable_join()->mutable_config()->add_subscriptions(std::string(kTopic));
    join.mutable_join()->mutable_config()->mutable_start()->set_earliest(true);
    join.mutable_join()->set_credits(flags.credits);
    join.mutable_join()->set_heartbeat_ms(60'000);
    coord.HandleRequest(m.peer, join, now);
  }

  auto start = Clock::now();
  double cpu_start = ThreadCpuSeconds();
  // Events become durable in chunks, as group commit reports them; with --mode=noted the
  // broker notes each chunk's keys just before (it learnt them validating at ingest).
  constexpr std::uint64_t kChunk = 4096;
  std::uint64_t announced = 0;
  auto announce = [&] {
    std::uint64_t end = std::min(durable, announced + kChunk);
    if (note_keys) {
      for (std::uint64_t o = announced + 1; o <= end; ++o) {
        coord.NoteKey(o, OrderingKeyFor("auth.User", std::to_string((o - 1) % flags.keys)));
      }
    }
    announced = end;
    coord.OnDurable(announced, now);
  };
  announce();
  v1::GroupRequest ack;
  std::uint64_t acked = 0;
  auto send_ack = [&](Member& m) {
    ack.Clear();
    std::size_t n = std::min<std::size_t>(kAckBatch, m.unacked.size());
    for (std::size_t i = 0; i < n; ++i) {
      *ack.mutable_ack()->add_deliveries() = m.unacked.front();
      m.unacked.pop_front();
    }
    acked += n;
    coord.HandleRequest(m.peer, ack, now);
  };
  while (acked < flags.events) {
    bool progressed = false;
    // Keep about two chunks ahead of the acks: the log grows while members work.
    if (announced < durable && announced < acked + 2 * kChunk) {
      announce();
      progressed = true;
    }
    for (Member& m : members) {
      while (m.unacked.size() >= kAckBatch) {
        send_ack(m);
        progressed = true;
      }
    }
    if (coord.NextDeadline() <= now) {
      coord.Tick(now);
      progressed = true;
    }
    if (!progressed) {
      // Nothing moves until partial batches are acked (their keys hold later events):
      // a real member acks a partial batch when it goes idle.
      for (Member& m : members) {
        if (!m.unacked.empty()) {
          send_ack(m);
          progressed = true;
        }
      }
    }
    if (!progressed) {
      std::fprintf(stderr, "groups_bench: stalled at %llu acked\n", static_cast<unsigned long long>(acked));
      std::abort();
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu_seconds = ThreadCpuSeconds() - cpu_start;
  std::vector<v1::GroupInfo> info = coord.ListGroups();
  if (info.empty() || info[0].ack_floor() != durable || coord.counters().acked != flags.events) {
    std::fprintf(stderr, "groups_bench: run did not finish cleanly\n");
    std::abort();
  }
  return Rates{static_cast<double>(flags.events) / seconds, static_cast<double>(flags.events) / cpu_seconds};
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr, "usage: groups_bench [--events=N] [--members=M] [--credits=C] [--keys=K] [--runs=R] "
                 "[--mode=noted|scanned]\n");
    return 2;
  }
  // One event per key, appended round-robin: event i is about user i % keys.
  std::vector<std::string> events;
  for (std::uint64_t pk = 0; pk < flags.keys; ++pk) events.push_back(bench::EncodedUserSaved(pk, "bench-publisher"));
  std::printf("groups_bench: %llu events, 1 group, %d members x %u credits, %llu keys, acks of %d, median of %d\n",
              static_cast<unsigned long long>(flags.events), flags.members, flags.credits,
              static_cast<unsigned long long>(flags.keys), kAckBatch, flags.runs);
  std::printf("%-10s %14s %18s\n", "keys", "events/s", "events/cpu-s");
  for (bool noted : {true, false}) {
    if (!flags.mode.empty() && flags.mode != (noted ? "noted" : "scanned")) continue;
    std::vector<double> wall, cpu;
    for (int r = 0; r < flags.runs; ++r) {
      Rates rates = RunOnce(flags, events, noted);
      wall.push_back(rates.wall);
      cpu.push_back(rates.cpu);
    }
    std::printf("%-10s %14.0f %18.0f\n", noted ? "noted" : "scanned", Median(wall), Median(cpu));
  }
  std::printf("(event: %zu bytes + %zu bytes of topic)\n", events[0].size(), kTopic.size());
  return 0;
}
