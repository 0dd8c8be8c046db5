// StateWriter's thread. Each write runs outside the lock, so the poll thread can hand
// over a newer version (which then waits for the next turn) while the disk is busy.
#include "state_writer.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "record_file.h"

namespace signalbus::groups {

namespace {
// Files written per batch: large enough that a burst of new groups shares directory
// syncs, small enough that outcomes come back while a burst is being written.
constexpr std::size_t kMaxBatch = 256;
}  // namespace

StateWriter::StateWriter(eventlog::FileIo* io, std::string dir)
    : io_(io), dir_(std::move(dir)), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), thread_([this] { Run(); }) {
  if (wake_fd_ < 0) {
    spdlog::critical("state writer: cannot create an eventfd");
    std::abort();
  }
}

StateWriter::~StateWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
  ::close(wake_fd_);
}

void StateWriter::Wake() {
  std::uint64_t one = 1;
  // Fails only when the counter is at its maximum: it is readable already.
  (void)!::write(wake_fd_, &one, sizeof one);
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
  std::uint64_t count = 0;
  (void)!::read(wake_fd_, &count, sizeof count);
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
    std::vector<std::string> names;
    std::vector<Waiting> batch;
    while (!order_.empty() && names.size() < kMaxBatch) {
      names.push_back(std::move(order_.front()));
      order_.pop_front();
      batch.push_back(std::move(waiting_.extract(names.back()).mapped()));
    }
    writing_ = true;
    lock.unlock();
    std::vector<FileContents> files;
    for (std::size_t i = 0; i < names.size(); ++i) files.push_back(FileContents{names[i], batch[i].contents});
    std::vector<Status> written = WriteFilesAtomically(*io_, dir_, files);
    lock.lock();
    writing_ = false;
    for (std::size_t i = 0; i < names.size(); ++i) {
      outcomes_.push_back(Outcome{std::move(names[i]), batch[i].version, std::move(written[i])});
    }
    Wake();
    if (order_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace signalbus::groups
