"""bench/compare's runner: signalbus and its peers on the durable, acked path, side by
side in one run. Each case runs --runs times, the cases taking turns (so a noisy moment
hits all of them), and the table gives the median with min and max, each row's
durability, and ratios to the peers measured in the same run. Writes the table
(docs/compare.md) and a plot (docs/compare.svg, gnuplot).

Cases (every one: one producer with confirms, one consumer-group member that acks, on
loopback, its own server started and stopped by pid):
  zmq_proxy        bare ZeroMQ PUB -> XSUB/XPUB proxy -> SUB (no durability, no acks:
                   the ceiling of moving the bytes), measured by e2e_bench
  signalbus        signalbus::Publisher -> signalbus-broker (--fsync always) -> a member,
                   one Publish per event
  signalbus_batch  the same with PublishBatch of 64 events
  jetstream        NATS JetStream (Debian's nats-server 2.9), file store (peers_bench)
  redis_everysec   Redis Streams, AOF everysec (peers_bench)
  redis_always     Redis Streams, AOF always (peers_bench)
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")

DURABILITY = {
    "zmq_proxy": "none (not stored, not acked)",
    "signalbus": "fsync before confirm",
    "signalbus_batch": "fsync before confirm",
    "jetstream": "confirm before fsync (2.9 syncs every 2 min)",
    "redis_everysec": "confirm before fsync (fsync every second)",
    "redis_always": "fsync before reply",
}
LABEL = {
    "zmq_proxy": "bare zmq_proxy PUB→SUB",
    "signalbus": "signalbus, Publish per event, 1 member",
    "signalbus_batch": "signalbus, PublishBatch of 64, 1 member",
    "jetstream": "NATS JetStream file store, async publish, pull + ack",
    "redis_everysec": "Redis Streams XADD → XREADGROUP + XACK, AOF everysec",
    "redis_always": "Redis Streams, AOF always",
}


def run(argv, timeout):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (argv[0], result.returncode, result.stderr[-2000:]))
    return result.stdout


def signalbus_case(events, batch, work):
    """(events/s, broker CPU µs per event, baseline msgs/s) from one e2e_bench run."""
    out = run([os.path.join(BIN, "e2e_bench"), "--only=throughput", "--members=1", "--runs=1",
               "--events=%d" % events, "--batch=%d" % batch, "--dir=%s" % work], 600)
    rate = re.search(r"^\s+1 member\s+(\d+)", out, re.M)
    cpu = re.search(r"^CPU per event.*\n\s+1 member\s+([\d.]+)", out, re.M)
    base = re.search(r"^baseline: .*: (\d+) msgs/s", out, re.M)
    if not (rate and cpu and base):
        raise RuntimeError("unexpected e2e_bench output:\n" + out)
    return float(rate.group(1)), float(cpu.group(1)), float(base.group(1))


def peer_case(mode, events, work, fsync=None):
    argv = [os.path.join(BIN, "peers_bench"), mode, "--events=%d" % events, "--dir=%s" % work]
    if fsync:
        argv.append("--fsync=" + fsync)
    out = run(argv, 600)
    m = re.search(r"events_per_s=([\d.]+) server_cpu_us=([\d.]+)", out)
    if not m:
        raise RuntimeError("unexpected peers_bench output:\n" + out)
    return float(m.group(1)), float(m.group(2))


def summary(values):
    return statistics.median(values), min(values), max(values)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/compare", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--dir", default="/var/tmp", help="where the servers' data goes (a real disk, not tmpfs)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="where compare.md and compare.svg go")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.events < 1:
        parser.error("--runs and --events must be at least 1")
    work = tempfile.mkdtemp(prefix="signalbus-compare-", dir=args.dir)
    rates = {case: [] for case in DURABILITY}
    cpus = {case: [] for case in DURABILITY}
    for i in range(args.runs):
        print("run %d of %d" % (i + 1, args.runs), file=sys.stderr, flush=True)
        rate, cpu, base = signalbus_case(args.events, 1, work)
        rates["signalbus"].append(rate)
        cpus["signalbus"].append(cpu)
        rates["zmq_proxy"].append(base)
        rate, cpu, base = signalbus_case(args.events, 64, work)
        rates["signalbus_batch"].append(rate)
        cpus["signalbus_batch"].append(cpu)
        rates["zmq_proxy"].append(base)
        for case, mode, fsync in (("jetstream", "jetstream", None), ("redis_everysec", "redis", "everysec"),
                                  ("redis_always", "redis", "always")):
            rate, cpu = peer_case(mode, args.events, work, fsync)
            rates[case].append(rate)
            cpus[case].append(cpu)
        for case in DURABILITY:
            if rates[case]:
                print("  %-16s %10.0f events/s" % (case, rates[case][-1]), file=sys.stderr, flush=True)
    write_table(args, rates, cpus)
    write_plot(args, rates)
    return 0


def write_table(args, rates, cpus):
    med = {case: statistics.median(v) for case, v in rates.items()}
    lines = [
        "# signalbus beside its peers",
        "",
        "Written by `bench/compare --runs=%d --events=%d` (one run of every case per round, %d rounds, "
        "cases taking turns); medians with min–max. One producer with confirms, one consumer-group member "
        "acking each event, 217-byte event, loopback, on this machine (2 vCPUs, shared: figures move with "
        "its load, ratios within one run much less). Server CPU: µs of the server process's CPU per event."
        % (args.runs, args.events, args.runs),
        "",
        "| path | durability | events/s | server CPU µs/event | × JetStream | × Redis everysec | × Redis always |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for case in DURABILITY:
        m, lo, hi = summary(rates[case])
        cpu = "%.2f" % statistics.median(cpus[case]) if cpus[case] else "–"
        ratios = " | ".join("%.2f" % (m / med[peer]) for peer in ("jetstream", "redis_everysec", "redis_always"))
        lines.append("| %s | %s | %s (%s–%s) | %s | %s |" % (LABEL[case], DURABILITY[case], "{:,.0f}".format(m),
                                                           "{:,.0f}".format(lo), "{:,.0f}".format(hi), cpu, ratios))
    lines += ["", "![events per second, median of %d runs](compare.svg)" % args.runs, ""] + CASES_TEXT
    with open(os.path.join(args.out, "compare.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


PLOT_LABEL = {
    "signalbus": "signalbus (fsync)",
    "signalbus_batch": "signalbus, batches (fsync)",
    "jetstream": "JetStream (no fsync)",
    "redis_everysec": "Redis AOF everysec",
    "redis_always": "Redis AOF always (fsync)",
}


CASES_TEXT = [
    "What each row runs:",
    "",
    "- bare zmq_proxy: e2e_bench's baseline, PUB → an XSUB/XPUB `zmq_proxy` child → SUB; nothing stored, "
    "nothing acked: the cost of moving the bytes.",
    "- signalbus: `e2e_bench --only=throughput --members=1 --runs=1` (a `signalbus::Publisher`, the real "
    "`signalbus-broker --fsync always`, one `GroupSource` member acking in batches of 256 with 1,024 credits), "
    "one `Publish` per event, or `--batch=64` (`PublishBatch`, one `$batch` message and one log record per 64).",
    "- JetStream: `peers_bench jetstream` (libnats 3.4.1, nats-server 2.9.10 `-js`, file storage): "
    "`js_PublishAsync` with 4,096 pending, a durable pull consumer fetching 256 at a time and acking each "
    "message (`AckExplicit`, 4,096 ack-pending).",
    "- Redis: `peers_bench redis` (hiredis 0.14, redis-server 7.0, `--appendonly yes --appendfsync "
    "everysec|always`): pipelined `XADD` 256 at a time, one consumer `XREADGROUP COUNT 256` + one `XACK` per read.",
    "",
]


def write_plot(args, rates):
    """The durable cases as bars (the bare proxy stores nothing: it is in the table)."""
    data = os.path.join(args.out, "compare.dat")
    with open(data, "w") as f:
        for i, case in enumerate(PLOT_LABEL):
            m, lo, hi = summary(rates[case])
            f.write('%d "%s" %.0f %.0f %.0f\n' % (i, PLOT_LABEL[case], m, lo, hi))
    script = """
set terminal svg size 900,420 font "sans,12" noenhanced
set output "%s"
set title "one producer with confirms -> one group member acking: events/s (median, min-max of %d runs)"
set style fill solid 0.7
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:%d.6]
set grid ytics
set format y "%%.0s%%c"
plot "%s" using 1:3:xtic(2) with boxes notitle lc rgb "#3b6ea5", "" using 1:3:4:5 with yerrorbars notitle lc rgb "black"
""" % (os.path.join(args.out, "compare.svg"), args.runs, len(PLOT_LABEL) - 1, data)
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)
    finally:
        os.remove(data)


if __name__ == "__main__":
    sys.exit(main())
