// Fuzzes a consumer group's dead-letter file (broker/groups/dead_letter_store.cc,
// record_file.cc): DeadLetterStore::Load on the input as <dir>/orders.dlq, then the same
// file beside a valid orders.state, opened by a Coordinator whose admin requests list,
// replay and purge the letters while a member works. Input: the file's bytes.
// Asserts, beyond not crashing:
//   - a loaded store lists exactly size() letters, in offset order, all visible;
//   - what it syncs after changes loads again to the same letters (the torn tail it
//     cut, and the compaction, lose nothing that was kept);
//   - a Coordinator that opened it keeps its invariants, and its admin lists agree
//     with the store's count.
#include <cstddef>
#include <cstdint>
#include <fstream>

#include "dead_letter_store.h"
#include "fuzz_support.h"
#include "group_files_rig.h"
#include "signalbus/log/file_io.h"
#include "state_file.h"

namespace groups = signalbus::groups;
namespace v1 = signalbus::v1;
using signalbus::fuzz::GroupFilesRig;
using signalbus::fuzz::kFuzzGroup;

namespace {

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::uint64_t> Offsets(const groups::DeadLetterStore& store) {
  std::vector<std::uint64_t> out;
  for (const v1::DeadLetter* l : store.List(0, SIZE_MAX)) out.push_back(l->offset());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  signalbus::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static signalbus::fuzz::ScratchDir scratch;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  signalbus::eventlog::FileIo* io = signalbus::eventlog::DefaultFileIo();

  const std::string& dir = scratch.Fresh();
  const std::string dlq = dir + "/" + groups::DeadLetterFileName(kFuzzGroup);
  WriteFile(dlq, bytes);
  std::vector<std::uint64_t> kept;
  {
    groups::DeadLetterStore store(io, dir, kFuzzGroup);
    if (!store.Load().ok()) return 0;
    kept = Offsets(store);
    SIGNALBUS_FUZZ_CHECK(kept.size() == store.size());
    SIGNALBUS_FUZZ_CHECK(store.VisibleOffsets() == kept);
    for (std::size_t i = 1; i < kept.size(); ++i) SIGNALBUS_FUZZ_CHECK(kept[i - 1] < kept[i]);
    // Change it: a new letter, one purged, one replayed and finished.
    v1::DeadLetter letter;
    letter.set_offset(7);
    letter.set_attempts(3);
    letter.set_topic("auth.User/post_save");
    store.Add(letter);
    if (!kept.empty()) SIGNALBUS_FUZZ_CHECK(store.Purge(kept.front()));
    if (kept.size() > 1 && store.TakeForReplay(kept.back())) store.FinishReplay(kept.back());
    SIGNALBUS_FUZZ_CHECK(store.Sync().ok());
    kept = Offsets(store);
  }
  {
    groups::DeadLetterStore again(io, dir, kFuzzGroup);
    SIGNALBUS_FUZZ_CHECK(again.Load().ok());
    SIGNALBUS_FUZZ_CHECK(Offsets(again) == kept);
  }

  // The same letters under a Coordinator: a group at ack floor 0 with this queue.
  WriteFile(dlq, bytes);
  groups::GroupStateData state;
  state.name = kFuzzGroup;
  state.config.add_subscriptions("*");
  state.config.set_max_deliver(2);
  SIGNALBUS_FUZZ_CHECK(groups::WriteGroupState(*io, dir, state).ok());
  GroupFilesRig rig(dir);
  SIGNALBUS_FUZZ_CHECK(rig.Open());
  v1::GroupRequest list;
  list.mutable_list_dead_letters()->set_group(kFuzzGroup);
  list.mutable_list_dead_letters()->set_limit(1000);
  rig.Request("admin", list);
  const std::size_t listed = static_cast<std::size_t>(rig.admin().dead_letters_size());
  auto info = rig.Info();
  SIGNALBUS_FUZZ_CHECK(info.has_value());
  // All of them, unless the page filled up first.
  if (!rig.admin().more()) SIGNALBUS_FUZZ_CHECK(info->dead_lettered() == listed);
  SIGNALBUS_FUZZ_CHECK(listed <= info->dead_lettered());
  v1::GroupRequest replay;
  replay.mutable_replay_dead_letters()->set_group(kFuzzGroup);
  rig.Request("admin", replay);
  rig.Work(/*rounds=*/5, /*nack_every=*/3);
  v1::GroupRequest purge;
  purge.mutable_purge_dead_letters()->set_group(kFuzzGroup);
  rig.Request("admin", purge);
  SIGNALBUS_FUZZ_CHECK(rig.coord().Persist().ok());
  SIGNALBUS_FUZZ_CHECK(rig.Open());
  return 0;
}
