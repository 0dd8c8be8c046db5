"""bench/compare's runner: signalbus beside its peers, side by side in one run. Every case
runs --runs times, the cases taking turns (one run of each per round, so a noisy moment
of the shared machine hits all of them); tables give the median with min and max, each
row's durability, and ratios of medians to the peers measured in the same run. Writes
docs/compare.md (a Targets table first: each target of the fleet issue, the figure this
run measured, the command, met or not) and docs/compare.svg (gnuplot).

Sections (--only=a,b,... runs some; the default runs all but "long"):
  durable   confirmed publish -> 1 and 3 consumer groups, one member each acking:
            signalbus (Publish per event, PublishBatch of 64; --fsync always), NATS
            JetStream, Redis Streams (AOF everysec, always); the bare zmq_proxy beside
  live      live fan-out to 1 and 4 listeners: signalbus Publisher -> broker ->
            LiveSource, a bare zmq_proxy -> SUBs, NATS core (nothing stored)
  handler   1, 2 and 4 group members whose handler takes 1 ms
  latency   p50/p99/p99.9 at 1k, 10k and 100k events/s offered, and the CPU per event of
            all processes, signalbus (publish -> handler) beside the bare proxy and Redis
            Streams (AOF always, everysec) at the same rate and pacing
  fleet     400 idle Python publishers beside one publishing and flushing each event
  restart   the broker restarted (after SIGKILL) on a 1 GiB log, page cache warm
  django    a Django save with and without signalbus.django (outbox on, SQLite)
  python    the Python publisher's and worker's throughput
  long      (only with --long, about 4 more minutes) broker RSS after 10 M events, with
            and without a group that reads none of them, and the 1 GiB restart with the
            page cache dropped (root)
"""
import argparse
import datetime
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
PYTHON = "/usr/bin/python3"  # Debian's, which sees python3-zmq, -protobuf, -django
SECTIONS = ["durable", "live", "handler", "latency", "fleet", "restart", "django", "python"]
RATES = [(1000, 5000, 500), (10000, 20000, 2000), (100000, 100000, 10000)]  # rate, measured events, warm-up
GIB = 1 << 30
# The Django case's SQLite database lives on tmpfs: every save is one transaction either
# way, so a disk's fsync (milliseconds, and noisy, on the shared VM) would only bury the
# app's added CPU in noise; what is compared is the same with or without it.
DJANGO_TMP = "/dev/shm" if os.path.isdir("/dev/shm") else None


def run(argv, timeout=900, env=None):
    """stdout of argv; raises on a non-zero exit. It runs in a process group of its own,
    SIGKILLed whole on a timeout so that no server it started outlives it."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(argv), proc.returncode, err[-2000:]))
    return out


def results(out):
    """The key=value fields of every "result ..." line, numbers as floats."""
    rows = []
    for line in out.splitlines():
        if not line.startswith("result "):
            continue
        row = {}
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            try:
                row[key] = float(value)
            except ValueError:
                row[key] = value
        rows.append(row)
    if not rows:
        raise RuntimeError("no result line in:\n" + out[-2000:])
    return rows


# What the run uses: a copy of the programs and of the Python client taken at its start
# (snapshot()), so that a rebuild or an edit in the tree during the run cannot change
# what is measured half-way.
PY_CLIENT = os.path.join(ROOT, "clients", "python")
PY_GENERATED = os.path.join(ROOT, "build", "python")
PROGRAMS = ["e2e_bench", "peers_bench", "live_path_bench", "fsync_latency_bench", "signalbus-broker"]


def snapshot(work):
    global BIN, PY_CLIENT, PY_GENERATED
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    for program in PROGRAMS:
        shutil.copy2(os.path.join(BIN, program), bin_dir)
    shutil.copytree(PY_CLIENT, os.path.join(work, "python-client"), ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PY_GENERATED, os.path.join(work, "python-generated"))
    BIN = bin_dir
    PY_CLIENT = os.path.join(work, "python-client")
    PY_GENERATED = os.path.join(work, "python-generated")


def python_env(*extra):
    paths = [PY_CLIENT, PY_GENERATED] + list(extra)
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


class Bench:
    """Every case of one run: how to run it once, and what it gave each time."""

    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.data = {}  # case -> [dict per run]
        self.cases = []  # (section, case, function), in the order a round runs them
        self.failures = {}  # case -> [why], for each round it failed twice

    def add(self, section, case, fn):
        self.cases.append((section, case, fn))
        self.data[case] = []

    def runs(self, case):
        return self.data.get(case, [])

    def values(self, case, key):
        return [r[key] for r in self.runs(case) if key in r]

    def med(self, case, key):
        v = self.values(case, key)
        return statistics.median(v) if v else None

    # ---- how each kind of case runs ---------------------------------------------------

    def e2e_throughput(self, groups, batch, events, members=1, handler_us=0, lagging=0):
        out = run([os.path.join(BIN, "e2e_bench"), "--only=throughput", "--members=%d" % members, "--runs=1",
                   "--events=%d" % events, "--batch=%d" % batch, "--groups=%d" % groups,
                   "--handler-us=%d" % handler_us, "--lagging-groups=%d" % lagging, "--dir=%s" % self.work],
                  timeout=3600)
        r = results(out)[0]
        r["cpu_all_us"] = r["cpu_broker_us"] + r["cpu_publisher_us"] + r["cpu_members_us"] + r["cpu_other_us"]
        return r

    def peer(self, mode, events, fsync=None, groups=1, listeners=None):
        argv = [os.path.join(BIN, "peers_bench"), mode, "--events=%d" % events, "--dir=%s" % self.work,
                "--groups=%d" % groups]
        if fsync:
            argv.append("--fsync=" + fsync)
        if listeners:
            argv.append("--listeners=%d" % listeners)
        return results(run(argv))[0]

    def live(self, system, listeners):
        return results(run([os.path.join(BIN, "live_path_bench"), system, "--listeners=%d" % listeners,
                            "--events=%d" % self.args.events, "--dir=%s" % self.work]))[0]

    def latency(self, rate, events, warmup):
        out = run([os.path.join(BIN, "e2e_bench"), "--only=latency", "--members=1", "--runs=1", "--pace-ticks=0",
                   "--rate=%d" % rate, "--latency-events=%d" % events, "--warmup=%d" % warmup,
                   "--dir=%s" % self.work])
        rows = {row["system"]: row for row in results(out)}
        rows["disk"] = results(run([os.path.join(BIN, "fsync_latency_bench"), "--rate=%d" % rate,
                                    "--events=%d" % events, "--dir=%s" % self.work]))[0]
        for fsync in ("always", "everysec"):
            rows["redis_" + fsync] = results(run([os.path.join(BIN, "peers_bench"), "redis", "--fsync=" + fsync,
                                                  "--rate=%d" % rate, "--events=%d" % events, "--warmup=%d" % warmup,
                                                  "--dir=%s" % self.work]))[0]
        return rows

    def fleet(self):
        out = run([PYTHON, os.path.join(ROOT, "bench", "fleet_bench.py"), "--broker-bin",
                   os.path.join(BIN, "signalbus-broker"), "--seconds", "8", "--dir", self.work], env=python_env())
        return results(out)[0]

    def restart(self, cold=False):
        argv = [os.path.join(BIN, "e2e_bench"), "--only=restart", "--runs=1", "--restart-dir=%s" % self.restart_dir(),
                "--log-bytes=%d" % GIB]
        if cold:
            argv.append("--cold")
        return results(run(argv, timeout=1800))[0]

    def restart_dir(self):
        d = os.path.join(self.work, "restart")
        os.makedirs(d, exist_ok=True)
        return d

    def django(self):
        out = run([PYTHON, os.path.join(ROOT, "bench", "django_save_bench.py"), "--runs", "1", "--saves", "2000"],
                  env=dict(python_env(os.path.join(PY_CLIENT, "tests")), **({"TMPDIR": DJANGO_TMP} if DJANGO_TMP else {})))
        return results(out)[0]

    def python_clients(self):
        out = run([PYTHON, os.path.join(ROOT, "bench", "python_clients_bench.py"), "--broker-bin",
                   os.path.join(BIN, "signalbus-broker"), "--events", "50000", "--dir", self.work], env=python_env())
        rows = results(out)
        return {row["kind"]: row for row in rows}


def define_cases(b, sections):
    a = b.args
    if "durable" in sections:
        for g in (1, 3):
            b.add("durable", "sb_g%d" % g, lambda g=g: b.e2e_throughput(g, 1, a.events))
            b.add("durable", "sbb_g%d" % g, lambda g=g: b.e2e_throughput(g, 64, a.events))
            b.add("durable", "js_g%d" % g, lambda g=g: b.peer("jetstream", a.events, groups=g))
            b.add("durable", "res_g%d" % g, lambda g=g: b.peer("redis", a.events, "everysec", groups=g))
            b.add("durable", "ral_g%d" % g, lambda g=g: b.peer("redis", a.events, "always", groups=g))
    if "live" in sections:
        for n in (1, 4):
            b.add("live", "live_sb_%d" % n, lambda n=n: b.live("signalbus", n))
            b.add("live", "live_px_%d" % n, lambda n=n: b.live("proxy", n))
            b.add("live", "live_nats_%d" % n, lambda n=n: b.peer("nats", a.events, listeners=n))
    if "handler" in sections:
        for m in (1, 2, 4):
            b.add("handler", "h_m%d" % m, lambda m=m: b.e2e_throughput(1, 1, a.handler_events, members=m,
                                                                       handler_us=1000))
    if "latency" in sections:
        for rate, events, warmup in RATES:
            b.add("latency", "lat_%d" % rate, lambda r=rate, e=events, w=warmup: b.latency(r, e, w))
    if "fleet" in sections:
        b.add("fleet", "fleet", b.fleet)
    if "restart" in sections:
        b.add("restart", "restart", b.restart)
        if "long" in sections:
            b.add("long", "restart_cold", lambda: b.restart(cold=True))
    if "django" in sections:
        b.add("django", "django", b.django)
    if "python" in sections:
        b.add("python", "python", b.python_clients)


def machine_state():
    fuzzers = subprocess.run(["pgrep", "-f", "_fuzzer"], capture_output=True, text=True).stdout.split()
    return {"load": os.getloadavg(), "fuzzers": len(fuzzers), "time": datetime.datetime.now()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/compare", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000, help="events per durable and live run")
    parser.add_argument("--handler-events", type=int, default=4000, help="events per 1 ms-handler run")
    parser.add_argument("--dir", default="/var/tmp", help="where the servers' data goes (a real disk, not tmpfs)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"), help="where compare.md and compare.svg go")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run: " + ",".join(SECTIONS))
    parser.add_argument("--long", action="store_true",
                        help="also broker RSS after 10 M events and a restart with the page cache dropped (~4 min more)")
    parser.add_argument("--long-events", type=int, default=10_000_000, help=argparse.SUPPRESS)  # to try --long out
    args = parser.parse_args(argv)
    sections = [s for s in args.only.split(",") if s]
    if args.long:
        sections.append("long")
    unknown = set(sections) - set(SECTIONS) - {"long"}
    if args.runs < 1 or args.events < 1 or unknown:
        parser.error("--runs and --events must be at least 1; unknown sections: %s" % ",".join(sorted(unknown)))
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="signalbus-compare-", dir=args.dir)
    b = Bench(args, work)
    define_cases(b, sections)
    states = [machine_state()]
    started = time.monotonic()
    try:
        snapshot(work)
        for i in range(args.runs):
            print("round %d of %d (load %.2f)" % (i + 1, args.runs, os.getloadavg()[0]), file=sys.stderr, flush=True)
            for section, case, fn in b.cases:
                t = time.monotonic()
                for attempt in (1, 2):  # a case that fails is tried once more, then left out of this round
                    try:
                        b.data[case].append(fn())
                        break
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        print("  %-14s failed (attempt %d): %s" % (case, attempt, str(e)[-400:]), file=sys.stderr,
                              flush=True)
                        if attempt == 2:
                            b.failures.setdefault(case, []).append(str(e).strip().splitlines()[-1][-200:])
                else:
                    continue
                print("  %-14s %5.1f s  %s" % (case, time.monotonic() - t, brief(b.data[case][-1])),
                      file=sys.stderr, flush=True)
            states.append(machine_state())
        if "long" in sections:
            print("long: broker RSS after %d events" % args.long_events, file=sys.stderr, flush=True)
            b.data["rss_10m"] = [b.e2e_throughput(1, 64, args.long_events, lagging=1)]
            print("long: the same without the group that reads none", file=sys.stderr, flush=True)
            b.data["rss_10m_nolag"] = [b.e2e_throughput(1, 64, args.long_events)]
            states.append(machine_state())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    minutes = (time.monotonic() - started) / 60
    text = write_markdown(b, sections, states, minutes)
    write_plot(b, sections)
    print(text)
    return 0


def brief(r):
    if "events_per_s" in r:
        return "%.0f events/s" % r["events_per_s"]
    if "signalbus" in r:
        return "p99 %.0f us (proxy %.0f us, Redis always %.0f us)" % (
            r["signalbus"]["p99_us"], r["proxy"]["p99_us"], r["redis_always"]["p99_us"])
    if "accepting_s" in r:
        return "accepting after %.2f s" % r["accepting_s"]
    if "fleet_p99_us" in r:
        return "p99 %.0f us alone, %.0f with the fleet" % (r["alone_p99_us"], r["fleet_p99_us"])
    if "cost_cpu_us" in r:
        return "%+.0f us CPU per save" % r["cost_cpu_us"]
    if "python_publisher" in r:
        return "publisher %.0f/s, worker %.0f/s" % (r["python_publisher"]["events_per_s"],
                                                    r["python_worker"]["events_per_s"])
    return ""


# ---- the document -----------------------------------------------------------------------

def fmt(v, digits=0):
    if v is None:
        return "–"
    return "{:,.{d}f}".format(v, d=digits)


def spread(values, digits=0):
    """median (min–max)"""
    if not values:
        return "–"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt(m, digits)
    return "%s (%s–%s)" % (fmt(m, digits), fmt(min(values), digits), fmt(max(values), digits))


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def rfmt(v):
    return "–" if v is None else "%.2f" % v


DURABLE = [
    ("sb", "signalbus, Publish per event", "fsync before confirm"),
    ("sbb", "signalbus, PublishBatch of 64", "fsync before confirm"),
    ("js", "NATS JetStream file store, async publish, pull + ack", "confirm before fsync (2.9 syncs every 2 min)"),
    ("res", "Redis Streams XADD → XREADGROUP + XACK, AOF everysec", "confirm before fsync (fsync every second)"),
    ("ral", "Redis Streams, AOF always", "fsync before reply"),
]
LIVE = [
    ("live_sb", "signalbus Publisher → broker → LiveSource",
     "at-most-once; the broker logs each event (fsync always) and forwards it before the fsync"),
    ("live_px", "bare zmq_proxy PUB → XSUB/XPUB → SUB", "none (not stored)"),
    ("live_nats", "NATS core publish → subscribe", "none (not stored)"),
]


def sub_value(b, case, system, key):
    return [r[system][key] for r in b.runs(case) if system in r and key in r[system]]


def med_of(values):
    return statistics.median(values) if values else None


def write_markdown(b, sections, states, minutes):
    a = b.args
    cmd = "bench/compare --runs=%d --events=%d%s%s" % (
        a.runs, a.events, " --long" if "long" in sections else "",
        "" if set(sections) - {"long"} == set(SECTIONS) else " --only=" + ",".join(s for s in sections if s != "long"))
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    loads = [s["load"][0] for s in states]
    fuzzing = max(s["fuzzers"] for s in states)
    lines = [
        "# signalbus beside its peers",
        "",
        "Written by `%s` on %s (%.0f minutes), build of %s%s. Every case ran once per round, %d rounds, the cases "
        "taking turns; figures are medians with min–max over the rounds, and ratios are of medians measured in this "
        "same run. Loopback only, 217-byte event + 19-byte topic, every server started and stopped by its pid. "
        "Machine: %d vCPUs, shared; 1-minute load average %s at the start and after each round; %s. Absolute "
        "figures move with the machine's load, ratios within one run much less."
        % (cmd, states[0]["time"].strftime("%Y-%m-%d %H:%M"), minutes, rev,
           " with uncommitted changes in the tree" if dirty else "", a.runs, os.cpu_count(),
           " / ".join("%.2f" % l for l in loads),
           "a fuzzer (`_fuzzer`) was running on one core during part of the run" if fuzzing else
           "no fuzzer (`_fuzzer`) was running"),
        "",
        "CPU columns: *server* is the broker's (or peer server's) process; *all* adds every other process of the "
        "case (publisher, consumers, their ZeroMQ/client I/O threads), per event.",
        "",
    ]
    if b.failures:
        lines += ["**Cases that failed** (twice in a round; left out of that round's figures): " + "; ".join(
            "%s: %d round%s (%s)" % (case, len(why), "" if len(why) == 1 else "s", why[-1])
            for case, why in b.failures.items()), ""]
    lines += targets_table(b, sections, cmd)
    if "durable" in sections:
        lines += durable_table(b)
    if "live" in sections:
        lines += live_table(b)
    if "handler" in sections:
        lines += handler_table(b)
    if "latency" in sections:
        lines += latency_table(b)
    if "fleet" in sections:
        lines += fleet_table(b)
    if "restart" in sections or "long" in sections:
        lines += restart_table(b, sections)
    if "django" in sections or "python" in sections:
        lines += python_table(b, sections)
    lines += ["![events per second, medians of %d rounds](compare.svg)" % a.runs, ""] + CASES_TEXT
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "compare.md"), "w") as f:
        f.write(text)
    return text


def met(ok):
    return "–" if ok is None else ("**met**" if ok else "**not met**")


def targets_table(b, sections, cmd):
    rows = []

    def add(target, figure, ok, how, note=""):
        rows.append("| %s | %s | %s | %s | %s |" % (target, figure, met(ok), how, note))

    durable = "`%s` (durable)" % cmd
    if "durable" in sections:
        for peer, name, goal in (("js", "NATS JetStream", 4.0), ("res", "Redis Streams AOF everysec", 2.5),
                                 ("ral", "Redis Streams AOF always (equal durability)", 5.0)):
            r1 = ratio(b.med("sb_g1", "events_per_s"), b.med(peer + "_g1", "events_per_s"))
            rb = ratio(b.med("sbb_g1", "events_per_s"), b.med(peer + "_g1", "events_per_s"))
            r3 = ratio(b.med("sbb_g3", "events_per_s"), b.med(peer + "_g3", "events_per_s"))
            best = max(x for x in (r1, rb) if x is not None) if (r1 or rb) else None
            add("durable acked path ≥ %.1f× %s" % (goal, name),
                "%s× per event, %s× with batches of 64 (3 groups, batches: %s×)" % (rfmt(r1), rfmt(rb), rfmt(r3)),
                None if best is None else best >= goal, durable,
                "CPU-bound: %s µs of CPU per event in all processes (broker %s, publisher %s, member %s, bench I/O %s)"
                % (fmt(b.med("sb_g1", "cpu_all_us"), 1), fmt(b.med("sb_g1", "cpu_broker_us"), 2),
                   fmt(b.med("sb_g1", "cpu_publisher_us"), 2), fmt(b.med("sb_g1", "cpu_members_us"), 2),
                   fmt(b.med("sb_g1", "cpu_other_us"), 2)) if peer == "js" else "")
        cpu1, cpub = b.med("sb_g1", "cpu_broker_us"), b.med("sbb_g1", "cpu_broker_us")
        add("broker CPU per event at full rate ≤ 1 µs", "%s µs per event, %s µs with batches of 64" % (fmt(cpu1, 2),
                                                                                              fmt(cpub, 2)),
            None if cpub is None else min(cpu1, cpub) <= 1.0, durable,
            "where it goes: docs/performance.md (perf profiles of the broker)")
    if "live" in sections:
        r1 = ratio(b.med("live_sb_1", "events_per_s"), b.med("live_px_1", "events_per_s"))
        r4 = ratio(b.med("live_sb_4", "events_per_s"), b.med("live_px_4", "events_per_s"))
        add("live path ≥ 0.9× the bare zmq_proxy, validation on", "%s× with 1 listener, %s× with 4" % (rfmt(r1),
                                                                                                   rfmt(r4)),
            None if r1 is None else r1 >= 0.9 and (r4 or 0) >= 0.9, "`%s` (live)" % cmd,
            "all-process CPU per event, 1 listener: signalbus %s µs, proxy %s µs (the signalbus publisher builds and "
            "encodes a protobuf Event with confirms; each listener decodes it)"
            % (fmt(b.med("live_sb_1", "all_cpu_us"), 1), fmt(b.med("live_px_1", "all_cpu_us"), 1)))
    if "fleet" in sections:
        idle = b.med("fleet", "idle_cpu_share")
        p99 = ratio(b.med("fleet", "fleet_p99_us"), b.med("fleet", "alone_p99_us"))
        p50 = ratio(b.med("fleet", "fleet_p50_us"), b.med("fleet", "alone_p50_us"))
        rate = b.med("fleet", "fleet_per_s")
        add("fleet: 400 idle publishers < 5 % of one core", "%s %% of one core" % fmt(None if idle is None else
                                                                                100 * idle, 1),
            None if idle is None else idle < 0.05, "`%s` (fleet: bench/fleet_bench.py)" % cmd,
            "the active publisher reached %s events/s of the 1,000 offered (it flushes each event: one at a time)"
            % fmt(rate))
        add("fleet: the active publisher's confirm p99 within 1.2× of alone", "%s×" % rfmt(p99),
            None if p99 is None else p99 <= 1.2, "`%s` (fleet)" % cmd, "")
        add("fleet: its confirm p50 does not degrade (taken as: within 1.2× of alone)", "%s× (%s → %s µs)" % (
            rfmt(p50), fmt(b.med("fleet", "alone_p50_us")), fmt(b.med("fleet", "fleet_p50_us"))),
            None if p50 is None else p50 <= 1.2, "`%s` (fleet)" % cmd,
            "the broker's CPU with and without the fleet: %s %% and %s %% of a core" % (
                fmt(100 * (b.med("fleet", "broker_fleet_share") or 0), 1),
                fmt(100 * (b.med("fleet", "broker_alone_share") or 0), 1)))
    if "handler" in sections:
        r = ratio(b.med("h_m4", "events_per_s"), b.med("h_m1", "events_per_s"))
        one = b.med("h_m1", "events_per_s")
        add("4 members with a 1 ms handler ≥ 3.6× one member", "%s×" % rfmt(r), None if r is None else r >= 3.6,
            "`%s` (handler)" % cmd,
            "" if not one else "one member takes %.2f ms per event here (the 1 ms sleep, the thread's wake-up, the "
            "rest of the pipeline); %s events per run, so the last credits' worth is shared unevenly"
            % (1000 / one, fmt(b.args.handler_events)))
    if "latency" in sections:
        p99 = med_of(sub_value(b, "lat_10000", "signalbus", "p99_us"))
        add("durable publish → handler p99 ≤ 2 ms at 10 k/s", "%s µs" % fmt(p99), None if p99 is None else p99 <= 2000,
            "`%s` (latency)" % cmd,
            "at the same rate in this run: the bare proxy's p99 %s µs (the machine's own pauses; nothing stored), "
            "the disk alone (append + fdatasync, no bus) %s µs, Redis Streams AOF always %s µs; every signalbus "
            "event waits for an fdatasync before delivery; the disk pauses a sync for 3–12 ms about every 100 ms "
            "when asked for many (docs/performance.md, a disk's sync budget)"
            % (fmt(med_of(sub_value(b, "lat_10000", "proxy", "p99_us"))),
               fmt(med_of(sub_value(b, "lat_10000", "disk", "p99_us"))),
               fmt(med_of(sub_value(b, "lat_10000", "redis_always", "p99_us")))))
        for rate in (1000, 10000):
            s = med_of(sub_value(b, "lat_%d" % rate, "signalbus", "cpu_us"))
            p = med_of(sub_value(b, "lat_%d" % rate, "proxy", "cpu_us"))
            add("CPU per event at %s/s (all processes) ≤ the bare proxy's" % ("1 k" if rate == 1000 else "10 k"),
                "%s µs against the proxy's %s µs (%s×)" % (fmt(s, 1), fmt(p, 1), rfmt(ratio(s, p))),
                None if s is None or p is None else s <= p, "`%s` (latency)" % cmd,
                "Redis Streams AOF always at the same rate: %s µs; at low rates every event gets its own fdatasync "
                "and several thread wake-ups (docs/performance.md, low rates)"
                % fmt(med_of(sub_value(b, "lat_%d" % rate, "redis_always", "cpu_us")), 1))
    if "long" in sections and b.runs("rss_10m"):
        r = b.runs("rss_10m")[0]
        add("broker RSS ≤ 64 MiB with 10 M events retained" + (
            "" if b.args.long_events == 10_000_000 else " (run with %s events)" % fmt(b.args.long_events)),
            "%s MiB resident at the end, peak %s MiB" % (fmt(r["broker_rss_kib"] / 1024, 1),
                                                      fmt(r["broker_hwm_kib"] / 1024, 1)),
            r["broker_hwm_kib"] <= 64 * 1024, "`%s` (long)" % cmd,
            "%s events published in batches of 64; one group acks them all, another reads none; "
            "with the acking group alone: %s MiB peak" % (fmt(b.args.long_events),
                fmt(b.runs("rss_10m_nolag")[0]["broker_hwm_kib"] / 1024, 1) if b.runs("rss_10m_nolag") else "–"))
    else:
        add("broker RSS ≤ 64 MiB with 10 M events retained", "not measured in this run", None,
            "`bench/compare --long`", "")
    if "restart" in sections:
        warm = b.med("restart", "accepting_s")
        cold = b.med("restart_cold", "accepting_s") if "long" in sections else None
        ok = None if warm is None else (warm < 2.0 and (cold is None or cold < 2.0))
        add("restart with a 1 GiB log accepting in < 2 s",
            "%s s page cache warm%s" % (fmt(warm, 2), "" if cold is None else ", %s s cold" % fmt(cold, 2)),
            ok, "`%s` (restart%s)" % (cmd, ", long" if cold is not None else ""),
            "" if cold is not None else "cold (page cache dropped) only with --long")
    if "django" in sections:
        cost = b.med("django", "cost_cpu_us")
        add("the Django app's cost on the request's thread ≤ 50 µs per save, outbox insert included",
            "%s µs of CPU per save (%s µs wall)" % (fmt(cost), fmt(b.med("django", "cost_wall_us"))),
            None if cost is None else cost <= 50, "`%s` (django: bench/django_save_bench.py)" % cmd,
            "the snapshot, the protobuf Struct and the outbox row's INSERT in the save's transaction (docs/outbox.md)")
    return ["## Targets (issue 10)", "",
            "| target | measured in this run | | command | note |", "|---|---|---|---|---|"] + rows + [""]


def durable_table(b):
    lines = ["## Durable: confirmed publish → consumer groups, each member acking", "",
             "One producer with confirms; 1 or 3 consumer groups, one consumer each, every group getting every event; "
             "events/s from the first publish until every group acked every event.", "",
             "| groups | path | durability | events/s | server CPU µs/event | all CPU µs/event | × JetStream | "
             "× Redis everysec | × Redis always |", "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for g in (1, 3):
        if g == 1:
            base = b.values("sb_g1", "baseline_per_s") + b.values("sbb_g1", "baseline_per_s")
            lines.append("| – | bare zmq_proxy PUB→SUB (e2e_bench's baseline) | none (not stored, not acked) | %s | – "
                         "| – | %s | %s | %s |" % (spread(base), *(rfmt(ratio(med_of(base), b.med(p + "_g1",
                                                                                             "events_per_s")))
                                                                   for p in ("js", "res", "ral"))))
        for key, label, durability in DURABLE:
            case = "%s_g%d" % (key, g)
            server = "cpu_broker_us" if key.startswith("sb") else "server_cpu_us"
            alls = "cpu_all_us" if key.startswith("sb") else "all_cpu_us"
            lines.append("| %d | %s | %s | %s | %s | %s | %s |" % (
                g, label, durability, spread(b.values(case, "events_per_s")), fmt(b.med(case, server), 2),
                fmt(b.med(case, alls), 2), " | ".join(rfmt(ratio(b.med(case, "events_per_s"),
                                                                  b.med("%s_g%d" % (p, g), "events_per_s")))
                                                       for p in ("js", "res", "ral"))))
    rss = b.values("sb_g1", "broker_hwm_kib")
    if rss:
        lines += ["", "The broker's peak RSS over a %s-event run, one group: %s MiB." % (
            fmt(b.args.events), spread([v / 1024 for v in rss], 1))]
    return lines + [""]


def live_table(b):
    lines = ["## Live fan-out: publish → 1 and 4 listeners", "",
             "The sender stays at most 2,000 events ahead of the slowest listener (the same rule for all three), so "
             "each figure is the rate every listener keeps up with; events/s as the slowest listener has them.", "",
             "| listeners | path | durability | events/s | server CPU µs/event | all CPU µs/event | lost | × bare proxy "
             "| × NATS core |", "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for n in (1, 4):
        for key, label, durability in LIVE:
            case = "%s_%d" % (key, n)
            lines.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                n, label, durability, spread(b.values(case, "events_per_s")), fmt(b.med(case, "server_cpu_us"), 2),
                fmt(b.med(case, "all_cpu_us"), 2), fmt(max(b.values(case, "missed") or [0])),
                rfmt(ratio(b.med(case, "events_per_s"), b.med("live_px_%d" % n, "events_per_s"))),
                rfmt(ratio(b.med(case, "events_per_s"), b.med("live_nats_%d" % n, "events_per_s")))))
    return lines + [""]


def handler_table(b):
    lines = ["## Members sharing a 1 ms handler", "",
             "One group; every handler call sleeps 1 ms first (a handler doing I/O); %s events per run, one "
             "publisher, `--fsync always`." % fmt(b.args.handler_events), "",
             "| members | durability | events/s | × 1 member | redelivered |", "|---:|---|---:|---:|---:|"]
    for m in (1, 2, 4):
        case = "h_m%d" % m
        lines.append("| %d | fsync before confirm, acked | %s | %s | %s |" % (
            m, spread(b.values(case, "events_per_s")), rfmt(ratio(b.med(case, "events_per_s"),
                                                                    b.med("h_m1", "events_per_s"))),
            fmt(max(b.values(case, "redelivered") or [0]))))
    return lines + [""]


def latency_table(b):
    lines = ["## Latency and CPU at fixed offered rates", "",
             "One publisher paced by the clock, one sleep per event (each event goes alone); signalbus: from the "
             "`Publish` call to the group member's handler (after the broker's fdatasync), and to the confirm as the "
             "publisher sees it; bare proxy: PUB → zmq_proxy → SUB; Redis Streams: from sending the `XADD` to the "
             "consumer blocked in `XREADGROUP` having it, and to the `XADD`'s reply (its confirm). CPU: every "
             "process of the case (the server and the bench process holding producer and consumer), per event, "
             "over the paced publishing. Samples per run: %s." % ", ".join(
                 "%s at %s/s" % (fmt(e), fmt(r)) for r, e, _ in RATES), "",
             "| offered/s | path | durability | p50 µs | p99 µs | p99.9 µs | confirm p50 / p99 µs | sent/s | "
             "all CPU µs/event | CPU × proxy |", "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for rate, _, _ in RATES:
        case = "lat_%d" % rate
        proxy_cpu = med_of(sub_value(b, case, "proxy", "cpu_us"))
        for system, label, durability in (
                ("proxy", "bare zmq_proxy", "none"),
                ("disk", "the disk alone: append → fdatasync, no bus (`fsync_latency_bench`)",
                 "fsync, 200 µs between syncs as the broker"),
                ("signalbus", "signalbus publish → handler", "fsync before confirm and delivery"),
                ("redis_always", "Redis Streams XADD → XREADGROUP, AOF always", "fsync before reply and delivery"),
                ("redis_everysec", "Redis Streams, AOF everysec", "reply before fsync (every second)")):
            confirm = ("%s / %s" % (fmt(med_of(sub_value(b, case, system, "confirm_p50_us"))),
                                    fmt(med_of(sub_value(b, case, system, "confirm_p99_us"))))
                       if system not in ("proxy", "disk") else "–")
            cpu = med_of(sub_value(b, case, system, "cpu_us"))
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                fmt(rate), label, durability, spread(sub_value(b, case, system, "p50_us")),
                spread(sub_value(b, case, system, "p99_us")), spread(sub_value(b, case, system, "p999_us")), confirm,
                fmt(med_of(sub_value(b, case, system, "achieved"))), fmt(cpu, 1), rfmt(ratio(cpu, proxy_cpu))))
    ceiling = b.med("sb_g1", "events_per_s")
    if ceiling:
        lines += ["", "For scale: the durable section of this run moved %s events/s through signalbus with one "
                  "`Publish` per event, as fast as it goes; an offered rate near or above that queues, and the "
                  "latency is then the queue's." % fmt(ceiling)]
    return lines + [""]


def fleet_table(b):
    lines = ["## A fleet of publishers", "",
             "`bench/fleet_bench.py --seconds 8`: one Python publisher publishing and flushing one event at a time, "
             "paced at 1,000/s, alone and then beside 400 idle Python publishers (10 processes × 40, sessions open), "
             "one broker `--fsync always`.", "",
             "| | events/s | confirm p50 µs | confirm p99 µs | idle fleet CPU | broker CPU |",
             "|---|---:|---:|---:|---:|---:|",
             "| active alone | %s | %s | %s | | %s %% of a core |" % (
                 spread(b.values("fleet", "alone_per_s")), spread(b.values("fleet", "alone_p50_us")),
                 spread(b.values("fleet", "alone_p99_us")),
                 fmt(100 * (b.med("fleet", "broker_alone_share") or 0), 1)),
             "| active beside 400 idle | %s | %s | %s | %s %% of a core | %s %% of a core |" % (
                 spread(b.values("fleet", "fleet_per_s")), spread(b.values("fleet", "fleet_p50_us")),
                 spread(b.values("fleet", "fleet_p99_us")), fmt(100 * (b.med("fleet", "idle_cpu_share") or 0), 1),
                 fmt(100 * (b.med("fleet", "broker_fleet_share") or 0), 1))]
    return lines + [""]


def restart_table(b, sections):
    lines = ["## A large log: restart and memory", ""]
    if b.runs("restart"):
        r = b.runs("restart")[0]
        lines += ["The broker fed `PublishBatch` calls of 64 events until its log held %s MiB, then SIGKILLed; each "
                  "round starts it again on that log (and SIGKILLs it after): seconds from exec to its ready line and "
                  "to the first event a publisher gets confirmed; its RSS then." % fmt(r["log_bytes"] / (1 << 20)), "",
                  "| start | ready s | accepting (first confirm) s | RSS MiB |", "|---|---:|---:|---:|"]
        for case, label in (("restart", "page cache warm"), ("restart_cold", "cold (page cache dropped)")):
            if b.runs(case):
                lines.append("| %s | %s | %s | %s |" % (label, spread(b.values(case, "ready_s"), 2),
                                                        spread(b.values(case, "accepting_s"), 2),
                                                        spread([v / 1024 for v in b.values(case, "rss_kib")], 1)))
        lines.append("")
    if b.runs("rss_10m"):
        lines += ["Broker memory holding %s events (one run each, at the end of the long section): "
                  "`e2e_bench --only=throughput --events=%d --batch=64 --members=1 [--lagging-groups=1]` — one "
                  "group acks every event; with `--lagging-groups=1` another group joined before and left at once, "
                  "so it retains all of them unread." % (fmt(b.args.long_events), b.args.long_events), "",
                  "| groups | broker RSS at the end MiB | peak RSS MiB | events/s acked |", "|---|---:|---:|---:|"]
        for case, label in (("rss_10m", "one acking, one reading none"), ("rss_10m_nolag", "one acking")):
            for r in b.runs(case):
                lines.append("| %s | %s | %s | %s |" % (label, fmt(r["broker_rss_kib"] / 1024, 1),
                                                        fmt(r["broker_hwm_kib"] / 1024, 1), fmt(r["events_per_s"])))
        lines.append("")
    return lines


def python_table(b, sections):
    lines = ["## Django and the Python client", ""]
    if b.runs("django"):
        lines += ["`bench/django_save_bench.py --runs 1 --saves 2000` per round: `User.objects.create` in its own "
                  "`transaction.atomic()`, SQLite in a temporary directory %s, without the app and with it writing "
                  "the outbox row in the same transaction (the relay not running: the request's own cost)."
                  % ("on tmpfs (`/dev/shm`: no disk fsync at commit, in both modes alike)" if DJANGO_TMP else
                     "(on disk)"), "",
                  "| mode | wall µs/save | CPU µs/save |", "|---|---:|---:|",
                  "| without signalbus.django | %s | %s |" % (spread(b.values("django", "off_wall_us")),
                                                             spread(b.values("django", "off_cpu_us"))),
                  "| with signalbus.django, outbox | %s | %s |" % (spread(b.values("django", "outbox_wall_us")),
                                                                  spread(b.values("django", "outbox_cpu_us"))),
                  "| the app's cost | %s | %s |" % (spread(b.values("django", "cost_wall_us")),
                                                    spread(b.values("django", "cost_cpu_us"))), ""]
    if b.runs("python"):
        pub = [r["python_publisher"] for r in b.runs("python")]
        wrk = [r["python_worker"] for r in b.runs("python")]
        cpp = b.med("sb_g1", "confirmed_per_s")
        lines += ["`bench/python_clients_bench.py --events 50000` per round, broker `--fsync always`: the publisher "
                  "publishes 50,000 post_save events as fast as `post_save` returns, then `flush` (all confirmed); "
                  "then `python -m signalbus.worker` runs one receiver over them, from its ready line until the "
                  "receiver ran for the last one.", "",
                  "| client | durability | events/s | CPU µs/event (its process) |", "|---|---|---:|---:|",
                  "| Python `signalbus.Publisher` | confirmed = fsynced | %s | %s |" % (
                      spread([r["events_per_s"] for r in pub]), fmt(med_of([r["cpu_us"] for r in pub]), 1)),
                  "| Python worker, 1 receiver | at-least-once, acked | %s | %s |" % (
                      spread([r["events_per_s"] for r in wrk]), fmt(med_of([r["cpu_us"] for r in wrk]), 1))]
        if cpp:
            lines.append("| (C++ `signalbus::Publisher`, durable section: confirmed/s with a member running) | "
                         "confirmed = fsynced | %s | %s |" % (spread(b.values("sb_g1", "confirmed_per_s")),
                                                             fmt(b.med("sb_g1", "cpu_publisher_us"), 1)))
        lines.append("")
    return lines


CASES_TEXT = [
    "## What each row runs",
    "",
    "- bare zmq_proxy: PUB (an XPUB with `ZMQ_XPUB_NODROP`) → an XSUB/XPUB `zmq_proxy` child process → SUB; nothing "
    "stored, nothing acked, no validation: the cost of moving the bytes (`e2e_bench`'s baseline; "
    "`live_path_bench proxy` for the fan-out; `e2e_bench --only=latency` for the paced rows).",
    "- signalbus, durable: `e2e_bench --only=throughput --members=1 --runs=1 --groups=G` (a `signalbus::Publisher`, "
    "the real `signalbus-broker --fsync always`, per group one `GroupSource` member acking in batches of 256 with "
    "1,024 credits), one `Publish` per event, or `--batch=64` (`PublishBatch`, one `$batch` message and one log "
    "record per 64).",
    "- JetStream: `peers_bench jetstream --groups=G` (libnats 3.4.1, nats-server 2.9.10 `-js`, file storage): "
    "`js_PublishAsync` with 4,096 pending; per group a durable pull consumer on its own connection fetching 256 at a "
    "time and acking each message (`AckExplicit`, 4,096 ack-pending).",
    "- Redis: `peers_bench redis --groups=G` (hiredis 0.14, redis-server 7.0, `--appendonly yes --appendfsync "
    "everysec|always`): pipelined `XADD` 256 at a time; per group one consumer on its own connection, `XREADGROUP "
    "COUNT 256` + one `XACK` per read.",
    "- Live: `live_path_bench signalbus --listeners=N` (a `signalbus::Publisher` with confirms → the real broker, "
    "validation on, `--fsync always` → N `LiveSource` listeners on threads of the bench, each decoding every event), "
    "`live_path_bench proxy --listeners=N`, and `peers_bench nats --listeners=N` (nats-server 2.9.10 without "
    "JetStream, N subscribers on their own connections, client pending limits off).",
    "- 1 ms handler: `e2e_bench --only=throughput --members=M --handler-us=1000`.",
    "- Latency: `e2e_bench --only=latency --members=1 --pace-ticks=0 --rate=R` (the bare proxy at the same rate and "
    "pacing first, then signalbus on a fresh broker), then `peers_bench redis --rate=R --fsync=always|everysec` "
    "(each `XADD` sent alone as it is due, its reply read as soon as it is there).",
    "- Fleet: `bench/fleet_bench.py`; restart: `e2e_bench --only=restart --log-bytes=1073741824`; Django: "
    "`bench/django_save_bench.py`; Python client: `bench/python_clients_bench.py`; 10 M events (`--long`): "
    "`e2e_bench --only=throughput --events=10000000 --batch=64 --lagging-groups=1`.",
    "",
]


def write_plot(b, sections):
    """Events/s: the durable cases (1 and 3 groups) and the live fan-out, as bars."""
    panels = []
    if "durable" in sections:
        for g in (1, 3):
            bars = [("%s" % short, b.values("%s_g%d" % (key, g), "events_per_s"))
                    for (key, _, _), short in zip(DURABLE, ("signalbus", "signalbus batch", "JetStream",
                                                            "Redis everysec", "Redis always"))]
            panels.append(("durable, confirmed -> %d group%s acking (fsync: signalbus, Redis always)"
                           % (g, "" if g == 1 else "s"), bars))
    if "live" in sections:
        bars = []
        for n in (1, 4):
            for (key, _, _), short in zip(LIVE, ("signalbus", "bare proxy", "NATS core")):
                bars.append(("%s, %d" % (short, n), b.values("%s_%d" % (key, n), "events_per_s")))
        panels.append(("live fan-out to 1 and 4 listeners (nothing fsynced before delivery)", bars))
    log_panel = None
    if "latency" in sections:
        bars = []
        for rate, _, _ in RATES:
            for system, short in (("proxy", "proxy"), ("signalbus", "signalbus"), ("redis_always", "Redis always")):
                bars.append(("%s %dk/s" % (short, rate // 1000), sub_value(b, "lat_%d" % rate, system, "p99_us")))
        log_panel = len(panels)
        panels.append(("latency p99 at fixed offered rates, us, log scale (signalbus and Redis AOF always: "
                       "delivered after fsync; bare proxy: nothing stored)", bars))
    if not panels:
        return
    datas, plots = [], []
    for i, (title, bars) in enumerate(panels):
        data = os.path.join(b.args.out, "compare-%d.dat" % i)
        datas.append(data)
        with open(data, "w") as f:
            for j, (label, values) in enumerate(bars):
                if values:
                    f.write('%d "%s" %.0f %.0f %.0f\n' % (j, label, statistics.median(values), min(values),
                                                          max(values)))
        scale = ('set logscale y\nset yrange [10:*]\nset ylabel "p99 us (median, min-max)"\nset format y "%g"\n'
                 if i == log_panel else "")
        plots.append('%sset title "%s"\nset xrange [-0.6:%d.6]\nplot "%s" using 1:3:xtic(2) with boxes notitle '
                     'lc rgb "#3b6ea5", "" using 1:3:4:5 with yerrorbars notitle lc rgb "black"'
                     % (scale, title, len(bars) - 1, data))
    script = """
set terminal svg size 1000,%d font "sans,11" noenhanced
set output "%s"
set multiplot layout %d,1
set style fill solid 0.7
set boxwidth 0.6
set yrange [0:*]
set grid ytics
set ylabel "events/s (median, min-max of %d rounds)"
set format y "%%.0s%%c"
%s
unset multiplot
""" % (330 * len(panels), os.path.join(b.args.out, "compare.svg"), len(panels), b.args.runs, "\n".join(plots))
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)
    finally:
        for data in datas:
            os.remove(data)


if __name__ == "__main__":
    sys.exit(main())
