// The baseline the end-to-end figures are quoted against: bare ZeroMQ forwarding,
// PUB -> XSUB/XPUB proxy (zmq_proxy, in a child process like the broker) -> SUB over
// loopback TCP (or ipc:// sockets, as the end-to-end run uses), with the same two frames (topic, ~200-byte event) and no drops (the
// sender is an XPUB with ZMQ_XPUB_NODROP, as signalbus::Publisher; so is the proxy's
// XPUB). No validation, no disk, no confirms, no acks.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace signalbus::bench
