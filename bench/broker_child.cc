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
  auto endpoint = [&](const char* name) { return ipc ? "ipc://" + pattern + "/" + name + ".sock" : "tcp://127.0.0.1:*"; };
  const std::vector<std::string> argv = {broker_path, "--data-dir", pattern,          "--fsync",   fsync,
                                         "--ingest",  endpoint("ingest"), "--live", endpoint("live"), "--groups",
                                         endpoint("groups"), "--metrics", "off", "--log-level", "warn"};
  broker->process_ = std::make_unique<ChildProcess>(argv, base_dir + "/broker.log");
  std::optional<std::string> ready =
      broker->process_->pid() > 0 ? broker->process_->WaitForLine("signalbus-broker ready", std::chrono::seconds(30))
                                  : std::nullopt;
  if (!ready) {
    *error = "signalbus-broker (" + broker_path + ") did not get ready; see " + base_dir + "/broker.log";
    return nullptr;
  }
  broker->ingest_ = FieldOf(*ready, "ingest");
  broker->groups_ = FieldOf(*ready, "groups");
  return broker;
}

BrokerChild::~BrokerChild() {
  if (process_) process_->Stop();
  std::error_code ec;
  std::filesystem::remove_all(data_dir_, ec);
}

}  // namespace signalbus::bench
