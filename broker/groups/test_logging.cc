// Keeps the groups library's info and warning lines (joins, expiries, dead letters) out
// of the test output; errors (damaged files, failed writes) still show.
#include <spdlog/spdlog.h>

namespace {

const bool kQuiet = [] {
  spdlog::set_level(spdlog::level::err);
  return true;
}();

}  // namespace
