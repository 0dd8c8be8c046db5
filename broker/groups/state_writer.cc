// StateWriter's thread. Each write runs outside the lock, so the poll thread can hand
// over a newer version (which then waits for the next turn) while the disk is busy.
#include "state_writer.h"

#include <csignal>
#include <cstdlib>

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "record_file.h"

namespace signalbus::groups {

StateWriter::StateWriter(eventlog::FileIo* io, std::string dir)
    : io_(io), dir_(std::move(dir)), thread_([this] { Run(); }) {}

StateWriter::~StateWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void StateWriter::Submit(const std::string& name, std::uint64_t version, std::string contents) {
  {
    std::lock_guard lock(mu_);
    std::uint64_t& last = last_version_[name];
    if (version <= last) {
      spdlog::critical("state writer: {} version {} handed over after version {}", name, version, last);
      std::abort();
    }
    last = version;
    auto [it, inserted] = waiting_.try_emplace(name);
    if (inserted) order_.push_back(name);  // a replaced version keeps its place in line
    it->second = Waiting{version, std::move(contents)};
  }
  work_cv_.notify_one();
}

std::vector<StateWriter::Outcome> StateWriter::TakeOutcomes() {
  std::lock_guard lock(mu_);
  std::vector<Outcome> out;
  out.swap(outcomes_);
  return out;
}

void StateWriter::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return order_.empty() && !writing_; });
}

void StateWriter::Forget(const std::string& name) {
  std::lock_guard lock(mu_);
  last_version_.erase(name);
}

bool StateWriter::idle() const {
  std::lock_guard lock(mu_);
  return order_.empty() && !writing_ && outcomes_.empty();
}

void StateWriter::Run() {
  // SIGINT/SIGTERM go to the poll thread, whose poll they interrupt.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !order_.empty(); });
    if (order_.empty()) return;  // stopping, and everything handed over is written
    std::string name = std::move(order_.front());
    order_.pop_front();
    auto node = waiting_.extract(name);
    writing_ = true;
    lock.unlock();
    Status s = WriteFileAtomically(*io_, dir_, name, node.mapped().contents);
    lock.lock();
    writing_ = false;
    outcomes_.push_back(Outcome{std::move(name), node.mapped().version, std::move(s)});
    if (order_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace signalbus::groups
