// Async-signal-safe recording of SIGINT/SIGTERM and SIGHUP.
#include "signalbus/core/shutdown.h"

#include <atomic>
#include <csignal>

namespace signalbus {
namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_requested{false};
std::atomic<bool> g_reload{false};

extern "C" void OnReloadSignal(int) { g_reload.store(true); }

extern "C" void OnShutdownSignal(int signo) {
  g_signal.store(signo);
  g_requested.store(true);
}

}  // namespace

void InstallShutdownHandlers() {
  struct sigaction action {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: blocking waits return early with EINTR
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

bool ShutdownRequested() { return g_requested.load(); }
int ShutdownSignal() { return g_signal.load(); }
void RequestShutdown() { g_requested.store(true); }

void InstallReloadHandler() {
  struct sigaction action {};
  action.sa_handler = OnReloadSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &action, nullptr);
}

bool TakeReloadRequest() { return g_reload.exchange(false); }

}  // namespace signalbus
