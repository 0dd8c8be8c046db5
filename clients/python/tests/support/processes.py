"""Child processes for tests: started with their stdout read line by line in a thread and
their stderr in a file; waited for by condition with a deadline (never by sleeping);
stopped by pid (SIGTERM, then SIGKILL) by the fixture that started them."""
import os
import signal
import subprocess
import threading
import time


def appended_lines(path):
    """The whole lines of a file that another process appends to: a last line it is still
    writing (no newline yet) is left for the next look. [] while there is no file."""
    try:
        with open(path) as f:
            return [line for line in f if line.endswith("\n") and line.strip()]
    except FileNotFoundError:
        return []


def wait_until(condition, timeout=20.0, what="the condition", interval=0.02):
    """Polls `condition` until it returns something truthy (returned) or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("gave up after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)  # polling interval, not synchronisation


class Process:
    def __init__(self, argv, stderr_path, env=None):
        self.argv = [str(a) for a in argv]
        self.stderr_path = stderr_path
        self._lines = []
        self._cond = threading.Condition()
        self._stderr = open(stderr_path, "wb")
        self.popen = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
                                      stdin=subprocess.DEVNULL)
        self.pid = self.popen.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.popen.stdout:
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def lines(self):
        with self._cond:
            return list(self._lines)

    def stderr(self):
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_line(self, predicate, timeout=20.0):
        """The first stdout line for which predicate(line) holds; fails the test if none
        comes in time or the process exits first."""
        if isinstance(predicate, str):
            text = predicate
            predicate = lambda line: text in line  # noqa: E731
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    if predicate(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.popen.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError("%s printed no expected line (exit %s); stdout:\n%s\nstderr:\n%s" % (
                        os.path.basename(self.argv[0]), self.popen.poll(), "\n".join(self._lines), self.stderr()))
                self._cond.wait(min(remaining, 0.2))

    def wait_for_lines(self, count, timeout=20.0):
        wait_until(lambda: len(self.lines) >= count, timeout, "%d lines from %s" % (count, self.argv[0]))
        return self.lines

    def signal(self, signum):
        if self.popen.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout):
        """The exit status, or None if it is still running after `timeout`."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.signal(signal.SIGKILL)
                self.popen.wait()
        self._reader.join(5)
        self._stderr.close()
        return self.popen.returncode


class Spawner:
    """Starts processes for one test and stops every one of them at its end."""

    def __init__(self, directory):
        self.directory = directory
        self.processes = []

    def __call__(self, argv, env=None, name=None):
        name = name or os.path.basename(str(argv[0]))
        stderr_path = os.path.join(self.directory, "%s-%d.stderr" % (name, len(self.processes)))
        process = Process(argv, stderr_path, env)
        self.processes.append(process)
        return process

    def stop_all(self):
        for process in reversed(self.processes):
            process.stop()
