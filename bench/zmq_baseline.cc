// Bare ZeroMQ XSUB/XPUB forwarding: the proxy child and the measurement around it.
#include "zmq_baseline.h"

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "child_process.h"

namespace signalbus::bench {
namespace {

constexpr int kHwm = 100'000;  // as signalbus's sockets (core/sockets.h)

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

}  // namespace signalbus::bench
