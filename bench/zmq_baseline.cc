// Bare ZeroMQ XSUB/XPUB forwarding: the proxy child and the measurement around it.
#include "zmq_baseline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "child_process.h"

namespace signalbus::bench {
namespace {

constexpr int kHwm = 100'000;  // as signalbus's sockets (core/sockets.h)
using Clock = std::chrono::steady_clock;

// The proxy child, a PUB connected to it and `subs` SUBs, every subscription through
// to the PUB (no slow-joiner loss from here on).
struct ProxyRig {
  std::unique_ptr<ChildProcess> proxy;
  zmq::context_t context{1};
  std::vector<zmq::socket_t> subs;
  zmq::socket_t pub;

  bool Start(int sub_count, const std::string& log_path) {
    proxy = std::make_unique<ChildProcess>(std::vector<std::string>{SelfPath(), kProxyChildFlag}, log_path);
    std::optional<std::string> ready = proxy->WaitForLine("proxy ready", std::chrono::seconds(10));
    if (!ready) return false;
    for (int i = 0; i < sub_count; ++i) {
      zmq::socket_t& sub = subs.emplace_back(context, zmq::socket_type::sub);
      sub.set(zmq::sockopt::rcvhwm, kHwm);
      sub.set(zmq::sockopt::subscribe, "");
      sub.connect(FieldOf(*ready, "xpub"));
    }
    pub = zmq::socket_t(context, zmq::socket_type::xpub);
    pub.set(zmq::sockopt::sndhwm, kHwm);
    pub.set(zmq::sockopt::xpub_nodrop, 1);
    pub.connect(FieldOf(*ready, "xsub"));
    // The proxy forwards one subscription upstream however many SUBs hold it; give the
    // others time to reach the proxy after the first arrived.
    zmq::message_t subscription;
    pub.set(zmq::sockopt::rcvtimeo, 10'000);
    if (!pub.recv(subscription)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return true;
  }
};

}  // namespace

int RunProxyChild(const std::string& ipc_dir) {
  zmq::context_t context(1);
  zmq::socket_t frontend(context, zmq::socket_type::xsub);
  zmq::socket_t backend(context, zmq::socket_type::xpub);
  frontend.set(zmq::sockopt::rcvhwm, kHwm);
  backend.set(zmq::sockopt::sndhwm, kHwm);
  backend.set(zmq::sockopt::xpub_nodrop, 1);
  frontend.bind(ipc_dir.empty() ? "tcp://127.0.0.1:*" : "ipc://" + ipc_dir + "/xsub");
  backend.bind(ipc_dir.empty() ? "tcp://127.0.0.1:*" : "ipc://" + ipc_dir + "/xpub");
  std::printf("proxy ready xsub=%s xpub=%s\n", frontend.get(zmq::sockopt::last_endpoint).c_str(),
              backend.get(zmq::sockopt::last_endpoint).c_str());
  std::fflush(stdout);
  zmq::proxy(frontend, backend);  // until SIGTERM ends the process
  return 0;
}

double MeasureProxyBaseline(std::uint64_t messages, const std::string& topic, const std::string& event,
                            const std::string& log_path, const std::string& ipc_dir) {
  std::vector<std::string> argv = {SelfPath(), kProxyChildFlag};
  if (!ipc_dir.empty()) argv.push_back(ipc_dir);
  ChildProcess proxy(argv, log_path);
  std::optional<std::string> ready = proxy.WaitForLine("proxy ready", std::chrono::seconds(10));
  if (!ready) return -1;
  zmq::context_t context(1);
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::rcvhwm, kHwm);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(FieldOf(*ready, "xpub"));
  zmq::socket_t pub(context, zmq::socket_type::xpub);
  pub.set(zmq::sockopt::sndhwm, kHwm);
  pub.set(zmq::sockopt::xpub_nodrop, 1);
  pub.connect(FieldOf(*ready, "xsub"));
  // The subscription travels SUB -> proxy -> publisher: once it arrives, nothing sent
  // is lost to the slow-joiner effect.
  zmq::message_t subscription;
  pub.set(zmq::sockopt::rcvtimeo, 10'000);
  if (!pub.recv(subscription)) return -1;

  std::chrono::steady_clock::time_point done;
  std::thread receiver([&] {
    zmq::message_t frame;
    for (std::uint64_t i = 0; i < 2 * messages; ++i) (void)sub.recv(frame);
    done = std::chrono::steady_clock::now();
  });
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < messages; ++i) {
    pub.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    pub.send(zmq::buffer(event), zmq::send_flags::none);
  }
  receiver.join();
  return static_cast<double>(messages) / std::chrono::duration<double>(done - start).count();
}


ProxyLatency MeasureProxyLatency(double rate, std::uint64_t events, std::uint64_t warmup,
                                 std::chrono::microseconds tick, const std::string& topic, const std::string& event,
                                 const std::string& log_path) {
  ProxyLatency result;
  ProxyRig rig;
  if (!rig.Start(1, log_path)) return result;
  const std::uint64_t total = warmup + events;
  std::unique_ptr<std::atomic<std::int64_t>[]> sent_ns(new std::atomic<std::int64_t>[total]);
  std::vector<double> us(total, -1);
  auto now_ns = [] { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); };
  std::thread receiver([&] {
    zmq::message_t frame;
    for (std::uint64_t i = 0; i < total; ++i) {
      (void)rig.subs[0].recv(frame);
      (void)rig.subs[0].recv(frame);
      us[i] = static_cast<double>(now_ns() - sent_ns[i].load(std::memory_order_relaxed)) / 1e3;
    }
  });
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const double cpu_start = SelfCpuSeconds() + rig.proxy->CpuSeconds();
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < total; ++i) {
    const Clock::duration due = period * static_cast<Clock::rep>(i);
    if (Clock::now() < start + due) {
      const Clock::duration step = tick.count() > 0 ? Clock::duration(tick) : Clock::duration(1);
      std::this_thread::sleep_until(start + (due + step - Clock::duration(1)) / step * step);
    }
    sent_ns[i].store(now_ns(), std::memory_order_relaxed);
    rig.pub.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    rig.pub.send(zmq::buffer(event), zmq::send_flags::none);
  }
  const auto sent = Clock::now();
  result.cpu_us_per_event = (SelfCpuSeconds() + rig.proxy->CpuSeconds() - cpu_start) * 1e6 / static_cast<double>(total);
  receiver.join();
  result.achieved_rate = static_cast<double>(total) / std::chrono::duration<double>(sent - start).count();
  result.us.assign(us.begin() + static_cast<std::ptrdiff_t>(warmup), us.end());
  std::sort(result.us.begin(), result.us.end());
  result.ok = true;
  return result;
}

ProxyFanout MeasureProxyFanout(std::uint64_t messages, int subs, std::uint64_t ahead, const std::string& topic,
                               const std::string& event, const std::string& log_path) {
  ProxyFanout result;
  ProxyRig rig;
  if (!rig.Start(subs, log_path)) return result;
  std::vector<std::unique_ptr<std::atomic<std::uint64_t>>> received;
  std::vector<std::thread> threads;
  for (int i = 0; i < subs; ++i) received.push_back(std::make_unique<std::atomic<std::uint64_t>>(0));
  for (int i = 0; i < subs; ++i) {
    threads.emplace_back([&, i] {
      zmq::message_t frame;
      for (std::uint64_t n = 1; n <= messages; ++n) {
        (void)rig.subs[static_cast<std::size_t>(i)].recv(frame);
        (void)rig.subs[static_cast<std::size_t>(i)].recv(frame);
        received[static_cast<std::size_t>(i)]->store(n, std::memory_order_relaxed);
      }
    });
  }
  auto slowest = [&] {
    std::uint64_t least = messages;
    for (auto& r : received) least = std::min(least, r->load(std::memory_order_relaxed));
    return least;
  };
  const double server_start = rig.proxy->CpuSeconds();
  const double all_start = SelfCpuSeconds() + server_start;
  const auto start = Clock::now();
  for (std::uint64_t sent = 0; sent < messages;) {
    if (sent >= slowest() + ahead) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    rig.pub.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    rig.pub.send(zmq::buffer(event), zmq::send_flags::none);
    ++sent;
  }
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double server = rig.proxy->CpuSeconds();
  result.per_s = static_cast<double>(messages) / seconds;
  result.server_cpu_us = (server - server_start) * 1e6 / static_cast<double>(messages);
  result.all_cpu_us = (SelfCpuSeconds() + server - all_start) * 1e6 / static_cast<double>(messages);
  result.ok = true;
  return result;
}

}  // namespace signalbus::bench
