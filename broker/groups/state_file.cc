// Group state files: GroupStateFile (group_state.proto) in one framed record.
#include "state_file.h"

#include "group_state.pb.h"
#include "record_file.h"

namespace signalbus::groups {

namespace {
constexpr std::uint8_t kStateRecord = 1;
}  // namespace

std::string StateFileName(std::string_view group) { return std::string(group) + std::string(kStateSuffix); }
std::string DeadLetterFileName(std::string_view group) {
  return std::string(group) + std::string(kDeadLetterSuffix);
}

std::string EncodeGroupState(const GroupStateData& state) {
  internal::GroupStateFile msg;
  msg.set_name(state.name);
  *msg.mutable_config() = state.config;
  msg.set_ack_floor(state.ack_floor);
  for (const auto& [first, count] : state.finished_runs) {
    msg.add_finished_runs(first);
    msg.add_finished_runs(count);
  }
  msg.set_acked(state.acked);
  msg.set_redelivered(state.redelivered);
  std::string out = FileHeader(kStateMagic);
  AppendRecord(kStateRecord, msg.SerializeAsString(), &out);
  return out;
}

Result<GroupStateData> DecodeGroupState(std::string_view bytes, const std::string& path) {
  Result<ParsedFile> parsed = ParseFile(bytes, kStateMagic, path, /*allow_torn_tail=*/false);
  if (!parsed.ok()) return parsed.status();
  if (parsed->records.size() != 1 || parsed->records[0].type != kStateRecord) {
    return DataLoss(path + ": file is damaged: expected one state record, found " +
                    std::to_string(parsed->records.size()));
  }
  internal::GroupStateFile msg;
  std::string_view payload = parsed->records[0].payload;
  if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return DataLoss(path + ": file is damaged: state record does not parse");
  }
  if (msg.finished_runs_size() % 2 != 0) return DataLoss(path + ": file is damaged: odd finished_runs");
  GroupStateData state;
  state.name = msg.name();
  state.config = msg.config();
  state.ack_floor = msg.ack_floor();
  std::uint64_t previous_end = state.ack_floor + 1;
  for (int i = 0; i < msg.finished_runs_size(); i += 2) {
    std::uint64_t first = msg.finished_runs(i);
    std::uint64_t count = msg.finished_runs(i + 1);
    if (count == 0 || first < previous_end || first + count < first) {
      return DataLoss(path + ": file is damaged: finished runs out of order");
    }
    previous_end = first + count;
    state.finished_runs.emplace_back(first, count);
  }
  state.acked = msg.acked();
  state.redelivered = msg.redelivered();
  return state;
}

Status WriteGroupState(eventlog::FileIo& io, const std::string& dir, const GroupStateData& state) {
  return WriteFileAtomically(io, dir, StateFileName(state.name), EncodeGroupState(state));
}

Result<GroupStateData> ReadGroupState(eventlog::FileIo& io, const std::string& path) {
  Result<std::string> bytes = ReadWholeFile(io, path);
  if (!bytes.ok()) return bytes.status();
  return DecodeGroupState(*bytes, path);
}

}  // namespace signalbus::groups
