"""The Python client's two halves against a real broker (--fsync always, loopback):
the publisher (`signalbus.Publisher`: N post_save events published as fast as
`post_save` returns, then `flush`: every one confirmed, i.e. on the broker's disk) and
the worker (`python -m signalbus.worker` running one `@signalbus.receiver` over the N
events already in the log, from its ready line until its receiver has run N times).
Events/s and CPU µs per event of the Python process (the publisher's I/O thread
included; the worker's whole process). Prints one "result ..." line per half, per run.

    PYTHONPATH=clients/python:build/python /usr/bin/python3 bench/python_clients_bench.py \
        [--broker-bin build/bin/signalbus-broker] [--events 50000] [--runs 1] [--dir /var/tmp]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The receiver module the worker imports (bench/python_bench_receivers.py).
RECEIVERS = "python_bench_receivers"


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def start_broker(broker_bin, data):
    broker = subprocess.Popen([broker_bin, "--data-dir", data, "--ingest", "tcp://127.0.0.1:*", "--live",
                               "tcp://127.0.0.1:*", "--groups", "tcp://127.0.0.1:*", "--metrics", "off",
                               "--fsync", "always", "--log-level", "warn"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = broker.stdout.readline()
    ingest = re.search(r"ingest=(\S+)", line)
    groups = re.search(r"groups=(\S+)", line)
    if not (ingest and groups):
        broker.kill()
        raise RuntimeError("the broker did not get ready: %r" % line)
    return broker, ingest.group(1), groups.group(1)


def publish(ingest, events):
    from signalbus import Publisher

    publisher = Publisher(ingest, "bench", connect_timeout=30, send_timeout=60)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(1, events + 1):
        publisher.post_save("auth.User", i, {"username": "user%d" % i, "email": "user%d@example.com" % i,
                                             "is_staff": False}, created=True)
    publisher.flush(120)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    publisher.close(5)
    return events / wall, cpu / events * 1e6


def work(groups, events, done_file):
    env = dict(os.environ, SIGNALBUS_BENCH_EVENTS=str(events), SIGNALBUS_BENCH_DONE=done_file,
               PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    worker = subprocess.Popen([sys.executable, "-m", "signalbus.worker", "--groups", groups, "--start", "earliest",
                               "--credits", "256", RECEIVERS], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        line = worker.stdout.readline()
        if "ready" not in line:
            raise RuntimeError("the worker did not get ready: %r" % line)
        ready, cpu_ready = time.monotonic(), cpu_seconds(worker.pid)
        deadline = ready + 600
        while not os.path.exists(done_file):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the worker did not handle %d events" % events)
            time.sleep(0.005)
        cpu = cpu_seconds(worker.pid) - cpu_ready
        with open(done_file) as f:
            finished = float(f.read())
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return events / (finished - ready), cpu / events * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker-bin", default="build/bin/signalbus-broker")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dir", default="/var/tmp")
    args = parser.parse_args()
    for _ in range(args.runs):
        data = tempfile.mkdtemp(prefix="sb-pybench-", dir=args.dir)
        broker, ingest, groups = start_broker(args.broker_bin, os.path.join(data, "broker"))
        try:
            rate, cpu = publish(ingest, args.events)
            print("result kind=python_publisher events=%d events_per_s=%.0f cpu_us=%.1f durability=fsync_always"
                  % (args.events, rate, cpu), flush=True)
            rate, cpu = work(groups, args.events, os.path.join(data, "done"))
            print("result kind=python_worker events=%d events_per_s=%.0f cpu_us=%.1f durability=at_least_once_acked"
                  % (args.events, rate, cpu), flush=True)
        finally:
            broker.send_signal(signal.SIGTERM)
            try:
                broker.wait(30)
            except subprocess.TimeoutExpired:
                broker.kill()
                broker.wait()
            shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
