"""What signalbus.django costs a save: a model save in its own transaction (SQLite in a
temporary directory, the test project's settings) without the app's forwarding
("off") and with it writing the event into the outbox ("outbox"; the relay is not
running, so only the request's own work is measured). Each mode in its own process,
the modes alternated, medians of the rounds' µs per save, wall and CPU. The last line,
"result kind=django ...", holds the medians as key=value (bench/compare).

    PYTHONPATH=clients/python:clients/python/tests:build/python /usr/bin/python3 bench/django_save_bench.py [--saves 2000] [--runs 3]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def child(mode, saves):
    directory = tempfile.mkdtemp(prefix="sb-djbench-")
    try:
        measure(mode, saves, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def measure(mode, saves, directory):
    os.environ["SIGNALBUS_TEST_DJANGO_DIR"] = directory
    os.environ["DJANGO_SETTINGS_MODULE"] = "djangoproject.settings"
    os.environ["SIGNALBUS_TEST_SIGNALBUS"] = json.dumps({
        "ENABLED": mode != "off", "OUTBOX": True, "OUTBOX_RELAY": "command", "SIGNALS": ["post_save"],
        "SENDERS": ["auth.User"], "BROKER": "tcp://127.0.0.1:1"})
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0, run_syncdb=True)
    for i in range(200):  # warm up
        with transaction.atomic():
            User.objects.create(username="warm%d" % i)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(saves):
        with transaction.atomic():
            User.objects.create(username="u%d" % i)
    print(json.dumps({"wall_us": (time.perf_counter() - wall) / saves * 1e6,
                      "cpu_us": (time.process_time() - cpu) / saves * 1e6}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=["off", "outbox"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.saves)
        return 0
    results = {"off": [], "outbox": []}
    for _ in range(args.runs):
        for mode in ("off", "outbox"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--saves", str(args.saves)],
                                 capture_output=True, text=True, check=True).stdout
            results[mode].append(json.loads(out.strip().splitlines()[-1]))
    print("django_save_bench: %d saves per run, %d runs, SQLite, each save in its own transaction; medians" %
          (args.saves, args.runs))
    print("%-8s %12s %12s" % ("mode", "wall us/save", "cpu us/save"))
    for mode, rows in results.items():
        print("%-8s %12.0f %12.0f" % (mode, statistics.median(r["wall_us"] for r in rows),
                                     statistics.median(r["cpu_us"] for r in rows)))
    off_cpu = statistics.median(r["cpu_us"] for r in results["off"])
    out_cpu = statistics.median(r["cpu_us"] for r in results["outbox"])
    off_wall = statistics.median(r["wall_us"] for r in results["off"])
    out_wall = statistics.median(r["wall_us"] for r in results["outbox"])
    print("the app's cost per save: %+.0f us of CPU" % (out_cpu - off_cpu))
    print("result kind=django saves=%d runs=%d off_wall_us=%.1f off_cpu_us=%.1f outbox_wall_us=%.1f "
          "outbox_cpu_us=%.1f cost_wall_us=%.1f cost_cpu_us=%.1f" % (args.saves, args.runs, off_wall, off_cpu, out_wall,
                                                                    out_cpu, out_wall - off_wall, out_cpu - off_cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
