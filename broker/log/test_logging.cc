// Keeps the log library's info lines (one per Open, one per retention delete) out of
// the test output; its warnings and errors (torn tails, skipped damage) still show.
#include <spdlog/spdlog.h>

namespace {

const bool kQuietInfo = [] {
  spdlog::set_level(spdlog::level::warn);
  return true;
}();

}  // namespace
