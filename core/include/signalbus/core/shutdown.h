// SIGINT / SIGTERM (shutdown) and SIGHUP (reload) handling for long-running programs:
// the handlers only record the signal; loops poll ShutdownRequested() and
// TakeReloadRequest() between bounded waits.
#pragma once

namespace signalbus {

// Installs handlers for SIGINT and SIGTERM and ignores SIGPIPE. Call once, early.
void InstallShutdownHandlers();
bool ShutdownRequested();
// The signal that asked for shutdown, or 0.
int ShutdownSignal();
// Asks for shutdown from code (tests, fatal errors in a worker thread).
void RequestShutdown();

// Installs a handler that records SIGHUP (a daemon that reloads its files on it).
void InstallReloadHandler();
// True once per SIGHUP received since the last call.
bool TakeReloadRequest();

}  // namespace signalbus
