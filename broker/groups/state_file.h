// A group's state file, <state_dir>/<group>.state: its config, ack floor, the finished
// offsets above the floor and kept totals. One checksummed record (record_file.h),
// replaced atomically; a file that fails its checks is an error naming it, never reset.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "signalbus/core/status.h"
#include "signalbus/log/file_io.h"
#include "signalbus/v1/groups.pb.h"

namespace signalbus::groups {

inline constexpr std::string_view kStateSuffix = ".state";
inline constexpr std::string_view kDeadLetterSuffix = ".dlq";

struct GroupStateData {
  std::string name;
  v1::GroupConfig config;
  std::uint64_t ack_floor = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> finished_runs;  // (first, count)
  std::uint64_t acked = 0;
  std::uint64_t redelivered = 0;
};

std::string StateFileName(std::string_view group);
std::string DeadLetterFileName(std::string_view group);

std::string EncodeGroupState(const GroupStateData& state);
// DataLoss naming `path` for any damage.
Result<GroupStateData> DecodeGroupState(std::string_view bytes, const std::string& path);

Status WriteGroupState(eventlog::FileIo& io, const std::string& dir, const GroupStateData& state);
Result<GroupStateData> ReadGroupState(eventlog::FileIo& io, const std::string& path);

}  // namespace signalbus::groups
