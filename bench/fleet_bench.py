"""The fleet case of issue 10: N idle Python publishers (processes x publishers each,
connected, sessions open) beside one active publisher that publishes and flushes one
event at a time at a fixed rate. Reports the idle processes' CPU (as a share of one
core) and the active publisher's publish->confirm latency (p50/p99), alone and with the
fleet, in one run. A real broker (--fsync always) on loopback, every process stopped.

    PYTHONPATH=clients/python:build/python /usr/bin/python3 bench/fleet_bench.py \
        --broker-bin build/bin/signalbus-broker [--processes 10 --per-process 40 --rate 1000 --seconds 10]
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

IDLE = r"""
import sys, time
from signalbus import Publisher
pubs = [Publisher(sys.argv[1], "fleet", connect_timeout=30) for _ in range(int(sys.argv[2]))]
print("ready", flush=True)
sys.stdin.read()  # until the bench closes our stdin
for p in pubs: p.close(0)
"""


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def active_run(ingest, rate, seconds):
    from signalbus import Publisher

    publisher = Publisher(ingest, "active", connect_timeout=10)
    latencies = []
    interval = 1.0 / rate
    next_at = time.monotonic()
    end = next_at + seconds
    i = 0
    while time.monotonic() < end:
        i += 1
        start = time.perf_counter()
        publisher.post_save("auth.User", str(i), {"username": "u%d" % i}, created=True)
        publisher.flush(5)
        latencies.append((time.perf_counter() - start) * 1e6)
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the load, not synchronisation
    publisher.close(1)
    latencies.sort()
    return len(latencies) / seconds, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker-bin", default="build/bin/signalbus-broker")
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--per-process", type=int, default=40)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--dir", default=None, help="where the broker's data directory goes (default: $TMPDIR)")
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="sb-fleet-", dir=args.dir)
    broker = subprocess.Popen([args.broker_bin, "--data-dir", data, "--ingest", "tcp://127.0.0.1:*", "--live",
                               "tcp://127.0.0.1:*", "--groups", "tcp://127.0.0.1:*", "--metrics", "off",
                               "--fsync", "always"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    idle = []
    try:
        line = broker.stdout.readline()
        ingest = re.search(r"ingest=(\S+)", line).group(1)
        broker_before, t0 = cpu_seconds(broker.pid), time.monotonic()
        alone = active_run(ingest, args.rate, args.seconds)
        broker_alone_share = (cpu_seconds(broker.pid) - broker_before) / (time.monotonic() - t0)
        for _ in range(args.processes):
            idle.append(subprocess.Popen([sys.executable, "-c", IDLE, ingest, str(args.per_process)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for p in idle:
            assert p.stdout.readline().strip() == "ready"
        before = sum(cpu_seconds(p.pid) for p in idle)
        broker_before = cpu_seconds(broker.pid)
        t0 = time.monotonic()
        fleet = active_run(ingest, args.rate, args.seconds)
        elapsed = time.monotonic() - t0
        idle_share = (sum(cpu_seconds(p.pid) for p in idle) - before) / elapsed
        broker_share = (cpu_seconds(broker.pid) - broker_before) / elapsed
    finally:
        for p in idle:
            p.stdin.close()
        for p in idle:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        broker.send_signal(signal.SIGTERM)
        broker.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    n = args.processes * args.per_process
    print("fleet_bench: %d idle Python publishers (%d processes x %d), one active publisher flushing each event at "
          "%d/s for %.0f s, broker --fsync always" % (n, args.processes, args.per_process, args.rate, args.seconds))
    print("%-22s %10s %14s %14s" % ("", "events/s", "confirm p50 us", "confirm p99 us"))
    print("%-22s %10.0f %14.0f %14.0f" % ("active alone", *alone))
    print("%-22s %10.0f %14.0f %14.0f" % ("active beside fleet", *fleet))
    print("idle fleet CPU: %.1f %% of one core; broker CPU alone %.1f %%, with the fleet %.1f %% of one core; "
          "p99 ratio %.2f" % (100 * idle_share, 100 * broker_alone_share, 100 * broker_share, fleet[2] / alone[2]))
    print("result kind=fleet idle_publishers=%d rate=%d alone_per_s=%.0f alone_p50_us=%.0f alone_p99_us=%.0f "
          "fleet_per_s=%.0f fleet_p50_us=%.0f fleet_p99_us=%.0f idle_cpu_share=%.4f broker_alone_share=%.4f "
          "broker_fleet_share=%.4f durability=fsync_always" % ((n, args.rate) + alone + fleet + (
              idle_share, broker_alone_share, broker_share)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
