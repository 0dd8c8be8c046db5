// SIGINT / SIGTERM handling for long-running programs: the handler only records the
// signal; loops poll ShutdownRequested() between bounded waits.
#pragma once

namespace signalbus {

// Installs handlers for SIGINT and SIGTERM and ignores SIGPIPE. Call once, early.
void InstallShutdownHandlers();
bool ShutdownRequested();
// The signal that asked for shutdown, or 0.
int ShutdownSignal();
// Asks for shutdown from code (tests, fatal errors in a worker thread).
void RequestShutdown();

}  // namespace signalbus
