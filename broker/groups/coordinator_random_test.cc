// Randomised Coordinator test: many members in two groups joining, leaving, going
// silent, acking, nacking and sitting on deliveries past their ack timeout, on a fake
// clock. Checks, throughout and at the end:
//   - every matching event is finally acked or dead-lettered exactly once per group;
//   - a group only gets events it subscribes to, with the bytes that were stored;
//   - per key, deliveries never go back in offset order (and, white-box, no two events
//     of a key are through the gate at once: Coordinator::CheckInvariants);
//   - no member ever holds more deliveries than the credits it granted, nor more bytes
//     than its byte window unless it holds a single delivery.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "test_harness.h"

namespace signalbus::groups::testing {
namespace {

struct SimMember {
  std::string peer;
  std::string group;
  std::uint64_t window = 0;
  std::uint64_t window_bytes = 0;  // 0: the broker's default (more than this test ever holds)
  std::vector<v1::Delivery> held;
  bool silent = false;  // stopped talking: will expire
  bool gone = false;    // left or expired
};

struct GroupModel {
  std::string name;
  std::string subscription;
  std::set<std::uint64_t> matching;
  std::map<std::string, std::uint64_t> last_offset_of_key;
};

class RandomRun {
 public:
  explicit RandomRun(std::uint64_t seed) : rng_(seed), h_(MakeOptions()) {
    config_.set_ack_timeout_ms(500);
    config_.set_max_deliver(4);
    config_.set_backoff_initial_ms(10);
    config_.set_backoff_max_ms(80);
    groups_.push_back(GroupModel{"users", std::string(kUserSaved), {}, {}});
    groups_.push_back(GroupModel{"everything", "*", {}, {}});
    for (GroupModel& g : groups_) {
      for (int i = 0; i < 3; ++i) JoinMember(g);
    }
  }

  void Run(int steps) {
    for (int step = 0; step < steps; ++step) {
      switch (rng_() % 12) {
        case 0: case 1: case 2: Publish(1 + rng_() % 20); break;
        case 3: case 4: case 5: AckSome(); break;
        case 6: NackOne(); break;
        case 7: if (rng_() % 4 == 0) JoinMember(groups_[rng_() % groups_.size()]); break;
        case 8: if (rng_() % 6 == 0) LeaveOrSilence(); break;
        case 9: GrantCredit(); break;
        default: break;  // sit on deliveries
      }
      Advance(std::chrono::milliseconds(rng_() % 300));
      h_.coord().CheckInvariants();
    }
    Drain();
  }

 private:
  static CoordinatorOptions MakeOptions() {
    CoordinatorOptions o;
    o.max_batch = 8;
    o.max_scan = 64;
    o.max_held = 40;
    o.key_cache_size = 64;  // small: most keys come from decoding
    return o;
  }

  std::vector<SimMember*> Live() {
    std::vector<SimMember*> out;
    for (auto& m : members_) {
      if (!m->gone && !m->silent) out.push_back(m.get());
    }
    return out;
  }

  void JoinMember(GroupModel& g) {
    auto m = std::make_unique<SimMember>();
    m->peer = "m" + std::to_string(next_peer_++);
    m->group = g.name;
    m->window = rng_() % 8;  // 0 is allowed: such a member only works after a Credit
    // Events are ~150 bytes: a window of a few hundred bytes binds before the credits.
    if (rng_() % 2 == 0) m->window_bytes = 100 + rng_() % 600;
    v1::GroupConfig c = config_;
    c.add_subscriptions(g.subscription);
    SimMember* raw = m.get();
    members_.push_back(std::move(m));
    h_.Join(raw->peer, g.name, static_cast<std::uint32_t>(raw->window), c, /*heartbeat_ms=*/200, raw->window_bytes);
    Collect();
  }

  void Publish(int n) {
    for (int i = 0; i < n; ++i) {
      std::string topic = rng_() % 3 == 0 ? "shop.Order/order_paid" : std::string(kUserSaved);
      std::string key = rng_() % 5 == 0 ? "" : "key" + std::to_string(rng_() % 15);
      std::string event = MakeEvent(topic, key);
      std::uint64_t offset = *h_.store().Append(topic, event, 0);
      if (rng_() % 2 == 0) h_.coord().NoteKey(offset, key);  // as the broker may
      events_[offset] = {topic, key, event};
      for (GroupModel& g : groups_) {
        if (g.subscription == "*" || topic == g.subscription) g.matching.insert(offset);
      }
    }
    h_.Durable();
    Collect();
  }

  void AckSome() {
    std::vector<SimMember*> live = Live();
    if (live.empty()) return;
    SimMember* m = live[rng_() % live.size()];
    if (m->held.empty()) return;
    std::shuffle(m->held.begin(), m->held.end(), rng_);
    std::size_t n = 1 + rng_() % m->held.size();
    std::vector<v1::Delivery> acks(m->held.begin(), m->held.begin() + static_cast<std::ptrdiff_t>(n));
    m->held.erase(m->held.begin(), m->held.begin() + static_cast<std::ptrdiff_t>(n));
    h_.AckAll(m->peer, acks);
    Collect();
  }

  void NackOne() {
    std::vector<SimMember*> live = Live();
    if (live.empty()) return;
    SimMember* m = live[rng_() % live.size()];
    if (m->held.empty()) return;
    v1::Delivery d = m->held.back();
    m->held.pop_back();
    h_.Nack(m->peer, d.offset(), d.attempt(), "failed at attempt " + std::to_string(d.attempt()));
    Collect();
  }

  void LeaveOrSilence() {
    std::vector<SimMember*> live = Live();
    if (live.size() <= 2) return;
    SimMember* m = live[rng_() % live.size()];
    if (rng_() % 2 == 0) {
      h_.Leave(m->peer);
      m->gone = true;
      m->held.clear();
    } else {
      m->silent = true;  // expires after 3 x 200 ms without a word
    }
    Collect();
  }

  void GrantCredit() {
    std::vector<SimMember*> live = Live();
    if (live.empty()) return;
    SimMember* m = live[rng_() % live.size()];
    std::uint32_t n = 1 + rng_() % 4;
    m->window += n;
    h_.Credit(m->peer, n);
    Collect();
  }

  void Advance(std::chrono::milliseconds d) {
    h_.Advance(d);
    for (SimMember* m : Live()) h_.Heartbeat(m->peer);
    Collect();
  }

  GroupModel& Group(const std::string& name) {
    for (GroupModel& g : groups_) {
      if (g.name == name) return g;
    }
    std::abort();
  }

  // Takes every delivery sent so far and checks it.
  void Collect() {
    for (auto& m : members_) {
      std::vector<v1::Delivery> got = h_.Take(m->peer);
      h_.Replies(m->peer);
      if (got.empty()) continue;
      ASSERT_FALSE(m->gone) << m->peer << " got deliveries after it left";
      GroupModel& g = Group(m->group);
      for (const v1::Delivery& d : got) {
        ASSERT_TRUE(g.matching.count(d.offset())) << g.name << " got offset " << d.offset();
        const auto& [topic, key, event] = events_.at(d.offset());
        ASSERT_EQ(d.topic(), topic);
        ASSERT_EQ(d.event(), event);
        if (!key.empty()) {
          std::uint64_t& last = g.last_offset_of_key[key];
          ASSERT_GE(d.offset(), last) << g.name << ": key " << key << " went back from " << last << " to " << d.offset();
          last = d.offset();
        }
        m->held.push_back(d);
      }
      // Silent members hold on to everything; the others also keep what they have not
      // acked. Either way: never more than the credits granted, nor more bytes than the
      // byte window unless it is one delivery.
      ASSERT_LE(m->held.size(), m->window) << m->peer;
      std::uint64_t bytes = 0;
      for (const v1::Delivery& d : m->held) bytes += d.topic().size() + d.event().size();
      if (m->window_bytes > 0 && m->held.size() > 1) {
        ASSERT_LE(bytes, m->window_bytes) << m->peer;
      }
    }
  }

  void Drain() {
    for (GroupModel& g : groups_) {
      bool has_live = false;
      for (SimMember* m : Live()) has_live |= m->group == g.name;
      if (!has_live) JoinMember(g);
    }
    for (SimMember* m : Live()) {
      if (m->window == 0) {
        m->window = 5;
        h_.Credit(m->peer, 5);
      }
    }
    Collect();
    for (int round = 0; round < 2000; ++round) {
      for (SimMember* m : Live()) {
        if (m->held.empty()) continue;
        std::vector<v1::Delivery> acks;
        acks.swap(m->held);
        h_.AckAll(m->peer, acks);
        Collect();
      }
      Advance(std::chrono::milliseconds(100));
      bool done = true;
      for (GroupModel& g : groups_) done &= h_.Info(g.name).ack_floor() == h_.store().durable_offset();
      if (done) break;
    }
    for (GroupModel& g : groups_) {
      v1::GroupInfo info = h_.Info(g.name);
      EXPECT_EQ(info.ack_floor(), h_.store().durable_offset()) << g.name;
      EXPECT_EQ(info.lag(), 0u) << g.name;
      EXPECT_EQ(info.pending(), 0u) << g.name;
      std::set<std::uint64_t> dead;
      for (const v1::DeadLetter& l : h_.AllDeadLetters(g.name)) {
        EXPECT_TRUE(g.matching.count(l.offset()));
        EXPECT_TRUE(dead.insert(l.offset()).second);
      }
      // Each matching event finished exactly once: either acked or dead-lettered.
      EXPECT_EQ(info.acked() + dead.size(), g.matching.size()) << g.name;
      EXPECT_GT(info.acked(), 0u);
    }
    CoordinatorCounters c = h_.coord().counters();
    EXPECT_GT(c.redelivered, 0u);
    EXPECT_GT(c.stale_acks, 0u);
  }

  std::mt19937_64 rng_;
  Harness h_;
  v1::GroupConfig config_;
  std::vector<GroupModel> groups_;
  std::vector<std::unique_ptr<SimMember>> members_;
  std::map<std::uint64_t, std::tuple<std::string, std::string, std::string>> events_;
  int next_peer_ = 0;
};

class CoordinatorRandomTest : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(CoordinatorRandomTest, EveryEventFinishesOnceKeysStayOrderedCreditsHold) {
  RandomRun run(GetParam());
  run.Run(1500);
}

INSTANTIATE_TEST_SUITE_P(Seeds, CoordinatorRandomTest, ::testing::Values(1, 2, 3, 4, 5, 6, 7, 8));

}  // namespace
}  // namespace signalbus::groups::testing
