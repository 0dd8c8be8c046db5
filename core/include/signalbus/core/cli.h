// What every signalbus command does with a command-line mistake: one clear line on
// stderr and exit status 2. --help and --version still print and exit 0.
#pragma once

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

namespace signalbus {

inline constexpr int kExitUsage = 2;
inline constexpr int kExitFailure = 1;

inline int ReportParseError(const CLI::App& app, const CLI::ParseError& error) {
  if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
  std::string what = error.what();
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  std::fprintf(stderr, "%s: %s (see --help)\n", app.get_name().c_str(), what.c_str());
  return kExitUsage;
}

}  // namespace signalbus
