// A receiver with two handlers on auth.User/post_save, for the integration test of
// "each handler runs once per event": `welcome` (the receiver's own group) appends each
// event id to OUT; `always-fails` (its own group, "<name>.always-fails") appends each
// attempt and throws.
//
//   two_handlers GROUPS_ENDPOINT OUT_FILE
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "signalbus/core/shutdown.h"
#include "signalbus/receivers/receiver.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: two_handlers GROUPS_ENDPOINT OUT_FILE\n");
    return 2;
  }
  const std::string out = argv[2];
  auto record = [out](const signalbus::v1::Event& event, const char* handler) {
    std::ofstream(out, std::ios::app) << handler << " " << event.event_id() << "\n";
  };
  signalbus::ReceiverOptions options;
  options.name = "site";
  options.groups_endpoint = argv[1];
  options.group.heartbeat = std::chrono::milliseconds(200);
  options.group.max_deliver = 3;
  options.group.backoff_initial = std::chrono::milliseconds(10);
  options.group.backoff_max = std::chrono::milliseconds(20);
  options.group.start.set_earliest(true);
  signalbus::Receiver receiver(options);
  receiver.on("post_save", "auth.User", [&](const signalbus::v1::Event& e) { record(e, "welcome"); })
      .on("post_save", "auth.User",
          [&](const signalbus::v1::Event& e) {
            record(e, "always-fails");
            throw std::runtime_error("this handler always fails");
          },
          {.uid = "always-fails"});
  signalbus::InstallShutdownHandlers();
  if (signalbus::Status s = receiver.Connect(); !s.ok()) {
    std::fprintf(stderr, "two_handlers: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("two_handlers ready\n");
  std::fflush(stdout);
  signalbus::Status s = receiver.Run();
  return s.ok() ? 0 : 1;
}
