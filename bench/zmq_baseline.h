// The baseline the end-to-end figures are quoted against: bare ZeroMQ forwarding,
// PUB -> XSUB/XPUB proxy (zmq_proxy, in a child process like the broker) -> SUB over
// loopback TCP (or ipc:// sockets, as the end-to-end run uses), with the same two frames (topic, ~200-byte event) and no drops (the
// sender is an XPUB with ZMQ_XPUB_NODROP, as signalbus::Publisher; so is the proxy's
// XPUB). No validation, no disk, no confirms, no acks.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace signalbus::bench {

// The flag that makes the benchmark executable run as the proxy child.
inline constexpr const char* kProxyChildFlag = "--proxy-child";

// The child's main: binds XSUB and XPUB on ephemeral loopback ports (`ipc_dir` empty)
// or as ipc://<ipc_dir>/xsub and /xpub, prints "proxy ready xsub=<endpoint>
// xpub=<endpoint>", and forwards until it is killed.
int RunProxyChild(const std::string& ipc_dir);

// Starts the proxy child, sends `messages` [topic, event] messages through it as fast
// as the sender can, and returns messages per second (first send to last receive).
// Negative when the proxy could not be started. `ipc_dir`: as for RunProxyChild.
double MeasureProxyBaseline(std::uint64_t messages, const std::string& topic, const std::string& event,
                            const std::string& log_path, const std::string& ipc_dir);

// The same proxy at a fixed offered rate, paced as e2e_bench's latency test paces the
// signalbus publisher (`tick` 0: one sleep per event; else a wake-up every `tick`
// publishing what is due): send -> SUB receive latency of the last `events` after
// `warmup`, and the CPU of both processes (this one and the proxy) over the paced sending.
struct ProxyLatency {
  bool ok = false;
  std::vector<double> us;  // ascending
  double achieved_rate = 0;
  double cpu_us_per_event = 0;  // this process + the proxy, per message sent
};
ProxyLatency MeasureProxyLatency(double rate, std::uint64_t events, std::uint64_t warmup,
                                 std::chrono::microseconds tick, const std::string& topic, const std::string& event,
                                 const std::string& log_path);

// Fan-out: one PUB -> proxy -> `subs` SUBs (each on its own thread), the sender at most
// `ahead` messages ahead of the slowest SUB (the same rule as the signalbus and NATS
// fan-out cases). Messages per second as the slowest SUB has them, and CPU per message.
struct ProxyFanout {
  bool ok = false;
  double per_s = 0;             // messages / (first send .. the slowest SUB has all)
  double server_cpu_us = 0;     // the proxy process, per message
  double all_cpu_us = 0;        // the proxy and this process, per message
};
ProxyFanout MeasureProxyFanout(std::uint64_t messages, int subs, std::uint64_t ahead, const std::string& topic,
                               const std::string& event, const std::string& log_path);

}  // namespace signalbus::bench
