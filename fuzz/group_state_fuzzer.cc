// Fuzzes a consumer group's state file (broker/groups/state_file.cc, record_file.cc):
// DecodeGroupState on the input, then the input as <state_dir>/orders.state opened by a
// Coordinator (coordinator.cc Open, the ack tracker's Restore) over a log of 24 events,
// with a member that works through what the group delivers. Input: the file's bytes.
// Asserts, beyond not crashing:
//   - a state that decodes encodes to bytes that decode to the same state;
//   - a Coordinator that opened the file keeps its invariants (CheckInvariants after
//     every request), its ack floor never passes the end of the log, and the state it
//     persists opens again with the same ack floor.
#include <cstddef>
#include <cstdint>
#include <fstream>

#include "fuzz_support.h"
#include "group_files_rig.h"
#include "state_file.h"

namespace groups = signalbus::groups;
using signalbus::fuzz::GroupFilesRig;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  signalbus::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static signalbus::fuzz::ScratchDir scratch;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  auto state = groups::DecodeGroupState(bytes, "fuzz.state");
  if (state.ok()) {
    auto again = groups::DecodeGroupState(groups::EncodeGroupState(*state), "again.state");
    SIGNALBUS_FUZZ_CHECK(again.ok());
    SIGNALBUS_FUZZ_CHECK(again->name == state->name);
    SIGNALBUS_FUZZ_CHECK(again->config.SerializeAsString() == state->config.SerializeAsString());
    SIGNALBUS_FUZZ_CHECK(again->ack_floor == state->ack_floor);
    SIGNALBUS_FUZZ_CHECK(again->finished_runs == state->finished_runs);
    SIGNALBUS_FUZZ_CHECK(again->acked == state->acked && again->redelivered == state->redelivered);
  }

  const std::string& dir = scratch.Fresh();
  {
    std::ofstream out(dir + "/" + groups::StateFileName(signalbus::fuzz::kFuzzGroup), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  GroupFilesRig rig(dir);
  if (!rig.Open()) return 0;
  // Opened, so the file decoded and named the group.
  SIGNALBUS_FUZZ_CHECK(state.ok() && state->name == signalbus::fuzz::kFuzzGroup);
  rig.Work(/*rounds=*/6, /*nack_every=*/5);
  auto before = rig.Info();
  SIGNALBUS_FUZZ_CHECK(before.has_value());
  SIGNALBUS_FUZZ_CHECK(before->ack_floor() <= 24);
  SIGNALBUS_FUZZ_CHECK(rig.coord().Persist().ok());

  SIGNALBUS_FUZZ_CHECK(rig.Open());
  auto after = rig.Info();
  SIGNALBUS_FUZZ_CHECK(after.has_value() && after->ack_floor() == before->ack_floor());
  rig.Work(/*rounds=*/3, /*nack_every=*/0);
  return 0;
}
