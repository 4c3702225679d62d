#!/usr/bin/env python3
"""Time `gradalert scan` on benchmark logdirs and record its peak memory.

usage: scan_bench.py --gradalert BIN --logdir DIR [--logdir DIR ...] --out scan.json [--repeat N]

For each logdir: the median wall time of N runs of `gradalert scan DIR --format json
--fail-on never` (all cores, as shipped; and pinned to core 0), MB/s (1 MB = 1e6 bytes of event
files), and the peak resident memory of the process (ru_maxrss from wait4).
"""

import argparse
import json
import os
import statistics
import subprocess
import time


def event_bytes(logdir):
    total = 0
    for root, _, files in os.walk(logdir):
        for name in files:
            if "tfevents" in name:
                total += os.path.getsize(os.path.join(root, name))
    return total


def run_once(command, pin):
    if pin is not None:
        command = ["taskset", "-c", str(pin)] + command
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed with status {status}")
    document = json.loads(output)
    return seconds, usage.ru_maxrss * 1024, document


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gradalert", required=True)
    parser.add_argument("--logdir", action="append", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {}
    for logdir in args.logdir:
        size = event_bytes(logdir)
        entry = {"bytes": size}
        for label, pin in (("all_cores", None), ("one_core", 0)):
            timings, peaks = [], []
            document = None
            run_once([args.gradalert, "scan", logdir, "--format", "json", "--fail-on", "never"], pin)  # warm the page cache
            for _ in range(args.repeat):
                seconds, peak, document = run_once([args.gradalert, "scan", logdir, "--format", "json", "--fail-on", "never"], pin)
                timings.append(seconds)
                peaks.append(peak)
            median = statistics.median(timings)
            entry[label] = {
                "seconds_median": median,
                "seconds": timings,
                "mb_per_s": size / 1e6 / median,
                "peak_rss_bytes": max(peaks),
                "runs": document["summary"]["runs"],
                "alerting": document["summary"]["alerting"],
            }
            print(f"scan {logdir} ({size / 1e6:.0f} MB, {label}): {median:.3f} s median, {size / 1e6 / median:.0f} MB/s, peak RSS {max(peaks) / 1e6:.0f} MB")
        results[logdir] = entry
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
