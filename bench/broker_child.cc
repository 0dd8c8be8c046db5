// Starting and stopping the broker under benchmark.
#include "broker_child.h"

#include <stdlib.h>

#include <filesystem>
#include <vector>

namespace signalbus::bench {

std::unique_ptr<BrokerChild> BrokerChild::Start(const std::string& broker_path, const std::string& base_dir,
                                                const std::string& fsync, bool ipc, std::string* error) {
  std::string pattern = base_dir + "/broker-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    *error = "cannot create a data directory under " + base_dir;
    return nullptr;
  }
  std::unique_ptr<BrokerChild> broker(new BrokerChild());
  broker->data_dir_ = pattern;
  return broker->Launch(broker_path, base_dir, fsync, ipc, error) ? std::move(broker) : nullptr;
}

std::unique_ptr<BrokerChild> BrokerChild::StartOn(const std::string& broker_path, const std::string& data_dir,
                                                  const std::string& base_dir, const std::string& fsync,
                                                  std::string* error) {
  std::unique_ptr<BrokerChild> broker(new BrokerChild());
  broker->data_dir_ = data_dir;
  broker->keep_data_ = true;
  return broker->Launch(broker_path, base_dir, fsync, false, error) ? std::move(broker) : nullptr;
}

bool BrokerChild::Launch(const std::string& broker_path, const std::string& base_dir, const std::string& fsync,
                         bool ipc, std::string* error) {
  const std::string& dir = data_dir_;
  auto endpoint = [&](const char* name) { return ipc ? "ipc://" + dir + "/" + name + ".sock" : "tcp://127.0.0.1:*"; };
  const std::vector<std::string> argv = {broker_path, "--data-dir", dir,          "--fsync",   fsync,
                                         "--ingest",  endpoint("ingest"), "--live", endpoint("live"), "--groups",
                                         endpoint("groups"), "--metrics", "off", "--log-level", "warn"};
  const auto spawned = std::chrono::steady_clock::now();
  process_ = std::make_unique<ChildProcess>(argv, base_dir + "/broker.log");
  std::optional<std::string> ready =
      process_->pid() > 0 ? process_->WaitForLine("signalbus-broker ready", std::chrono::seconds(120)) : std::nullopt;
  if (!ready) {
    *error = "signalbus-broker (" + broker_path + ") did not get ready; see " + base_dir + "/broker.log";
    return false;
  }
  ready_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - spawned).count();
  ingest_ = FieldOf(*ready, "ingest");
  live_ = FieldOf(*ready, "live");
  groups_ = FieldOf(*ready, "groups");
  return true;
}

BrokerChild::~BrokerChild() {
  if (process_) process_->Stop();
  if (keep_data_) return;
  std::error_code ec;
  std::filesystem::remove_all(data_dir_, ec);
}

}  // namespace signalbus::bench
