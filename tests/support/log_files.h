// A broker's log files as a test sees them: which segments a data directory holds and
// where each record of a segment begins, to damage them on purpose (format:
// docs/log-format.md).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace signalbus::testing {

// The segment files (*.log) of a log directory, oldest first.
std::vector<std::string> SegmentFiles(const std::string& dir);

// Where each record starts in a segment, plus the file's size as a last element, so
// record i spans [bounds[i], bounds[i+1]). Walks the length fields; empty if the file
// does not parse to its end.
std::vector<std::size_t> RecordBounds(const std::string& segment_path);

std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);
// XORs one byte of a file with `mask` where it lies, keeping the file (its inode and
// size) as it is, so that a process that has it open reads the damage too.
void FlipBitsInPlace(const std::string& path, std::size_t position, unsigned char mask);

}  // namespace signalbus::testing
