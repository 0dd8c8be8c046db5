"""The real signalbus programs under test: the broker (ephemeral ports read back from its
ready line, restartable on the same ports and data directory), the C++ profile-creator,
signalbus-listen, signalbus-admin and the Python worker."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.request

from support.processes import wait_until

BIN_DIR = os.environ.get("SIGNALBUS_BIN_DIR", "")
PYTHON = os.environ.get("SIGNALBUS_PYTHON") or sys.executable
TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def program(name):
    path = os.path.join(BIN_DIR, name)
    if not BIN_DIR or not os.access(path, os.X_OK):
        raise AssertionError("%s not found: set SIGNALBUS_BIN_DIR to the build's bin directory (got %r)"
                             % (name, BIN_DIR))
    return path


def child_env(**extra):
    """The environment for a child: this one, with the tests directory importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([TESTS_DIR] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _field(line, key):
    match = re.search(r"\b%s=(\S+)" % key, line)
    return match.group(1) if match else None


class Broker:
    def __init__(self, spawn, data_dir, extra_args=(), fsync="never"):
        self._spawn = spawn
        self.data_dir = data_dir
        self.fsync = fsync
        self.extra_args = list(extra_args)
        self.process = None
        self.ingest = self.live = self.groups = self.metrics_url = None

    def start(self):
        """Starts on ephemeral ports the first time, on the same ports afterwards."""
        if self.ingest is None:
            endpoints = ["tcp://127.0.0.1:*"] * 3 + ["127.0.0.1:0"]
        else:
            endpoints = [self.ingest, self.live, self.groups, self.metrics_url[len("http://"):]]
        argv = [program("signalbus-broker"), "--ingest", endpoints[0], "--live", endpoints[1],
                "--groups", endpoints[2], "--metrics", endpoints[3], "--data-dir", self.data_dir,
                "--fsync", self.fsync] + self.extra_args
        self.process = self._spawn(argv, name="broker")
        line = self.process.wait_for_line("signalbus-broker ready")
        self.ingest, self.live = _field(line, "ingest"), _field(line, "live")
        self.groups, self.metrics_url = _field(line, "groups"), _field(line, "metrics")
        return self

    def stop(self):
        status = self.process.stop()
        assert status == 0, "broker exited with %s:\n%s" % (status, self.process.stderr())

    def metric(self, name):
        """The value of a metric sample (first line starting with `name`), or None."""
        try:
            with urllib.request.urlopen(self.metrics_url + "/metrics", timeout=2) as response:
                page = response.read().decode()
        except OSError:
            return None
        for line in page.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_for_metric(self, name, at_least, timeout=20.0):
        wait_until(lambda: (self.metric(name) or 0) >= at_least, timeout, "%s >= %s" % (name, at_least))


def start_profile_creator(spawn, broker, db_path, *extra):
    process = spawn([program("signalbus-profile-creator"), "--db", db_path, "--groups", broker.groups,
                     "--heartbeat", "200ms"] + list(extra), name="profile-creator")
    process.wait_for_line("signalbus-profile-creator ready")
    return process


def start_listener(spawn, broker, *topics):
    """signalbus-listen on the live fan-out, returned once the broker counts its subscription."""
    before = broker.metric("signalbus_live_subscriptions") or 0
    process = spawn([program("signalbus-listen"), "--live", broker.live] + list(topics), name="listen")
    broker.wait_for_metric("signalbus_live_subscriptions", before + len(topics or ["*"]))
    return process


def listened_events(process, count, timeout=20.0):
    return [json.loads(line) for line in process.wait_for_lines(count, timeout)]


def start_worker(spawn, broker, prefix, modules, *extra, env=None):
    """python -m signalbus.worker; each receiver's group is named "<prefix>.<module>.<function>"."""
    process = spawn([PYTHON, "-m", "signalbus.worker", "--groups", broker.groups, "--prefix", prefix,
                     "--heartbeat", "200ms"] + list(extra) + list(modules), env=env or child_env(), name="worker")
    process.wait_for_line("signalbus-worker ready")
    return process


def admin(broker, *args):
    """Runs signalbus-admin; returns its stdout (fails the test on a non-zero exit)."""
    result = subprocess.run([program("signalbus-admin"), "--broker", broker.groups] + list(args),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def query(db_path, sql, *params):
    """Rows from a SQLite file written by another process (read-only)."""
    if not os.path.exists(db_path):
        return []
    connection = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=5)
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # the schema is not there yet
    finally:
        connection.close()
