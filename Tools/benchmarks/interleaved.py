#!/usr/bin/env python3
"""The decoding reader and `gradalert scan` against TensorBoard's data server, in interleaved rounds.

On a shared, noisy machine the speed of everything moves by a third from one minute to the next.
`peers.py` and the Swift benchmarks measure the data server and the reader minutes apart, so their
ratio also carries the change in the machine between the two. Here each round measures both, one
right after the other (alternating which goes first), and the ratio is taken within the round:

  - the reader: `read-logdir LOGDIR PASSES`, pinned to one core (like the Swift benchmarks): the
    median of PASSES decoding reads of the whole logdir, after one warm-up read, in one process;
  - the data server: one `tensorboard --load_fast=true` launch, timed from launch to the data
    server's "Finished load cycle" line (start-up included, as in `peers.py`), its data checked
    over HTTP against the logdir;
  - with --gradalert: `gradalert scan LOGDIR --format json`, launch to exit on every core (as in
    `scan_bench.py`), the median of 3.

Each round starts from the same page-cache state (`--page-cache`, see pagecache.py): by default
the logdir is dropped from the cache and read back sequentially, which leaves it as large folios;
`single-pages` leaves it as single 4 KiB pages, the slowest cached state (the kernel's copy out of
it takes about twice as long). The state found at the start of each round is recorded.

Reports the median of the per-round ratios, and each side's median, to a JSON file.

Usage (from the repository root; run.sh does this)::

    .venv-bench/bin/python Tools/benchmarks/interleaved.py --read-logdir BIN/read-logdir \\
        --logdir /tmp/gradalert-bench/logdir --rounds 9 --out interleaved.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pagecache  # noqa: E402
import peers  # noqa: E402  (the data server's launch, timing and checks are shared)


def read_once(binary: str, logdir: str, passes: int, core: int) -> dict:
    out = subprocess.run([binary, logdir, str(passes)], check=True, capture_output=True, text=True,
                         preexec_fn=peers._affinity_preexec({core}))
    result = json.loads(out.stdout)
    result["seconds_median"] = statistics.median(result["seconds"])
    return result


def scan_once(binary: str, logdir: str) -> float:
    """Seconds from launch to exit of `gradalert scan LOGDIR --format json` (every core)."""
    start = time.perf_counter()
    out = subprocess.run([binary, "scan", logdir, "--format", "json", "--fail-on", "never"],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"gradalert scan failed ({out.returncode}): {out.stderr[-500:]}")
    json.loads(out.stdout)  # a whole report came out
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--read-logdir", required=True, help="the read-logdir executable")
    p.add_argument("--logdir", required=True)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--passes", type=int, default=5, help="reader passes per round (median)")
    p.add_argument("--core", type=int, default=0, help="the core the reader is pinned to")
    p.add_argument("--samples-per-plugin", default="scalars=100000")
    p.add_argument("--server-timeout", type=float, default=600.0)
    p.add_argument("--gradalert", help="the gradalert executable, to time `gradalert scan` in each round too")
    p.add_argument("--page-cache", choices=pagecache.LAYOUTS + ("as-is",), default="sequential",
                   help="the page-cache state each round starts from (pagecache.py): the logdir dropped and read "
                        "back sequentially (large folios), or 4 KiB at a time (single pages), or left as it is")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    scan = peers.scan_logdir(args.logdir)
    if args.page_cache == "as-is":
        peers.warm_page_cache(args.logdir)  # otherwise every round settles the cache itself
    every = peers.all_cpus()
    rounds = []
    for index in range(args.rounds):
        # Each round starts from the same page-cache state: this VM hands pages back while idle
        # and reads them again one by one, which moves the kernel's copy by a factor of two.
        if args.page_cache != "as-is":
            pagecache.settle([args.logdir], args.page_cache)
        census = pagecache.census([args.logdir])

        def server():
            r = peers.run_tensorboard_once(args.logdir, scan, "log", args.server_timeout, every,
                                           args.samples_per_plugin)
            if not r["verification"]["ok"]:
                raise RuntimeError(f"the data server's data did not match the logdir: {r['verification']}")
            return r["seconds"]

        def reader():
            r = read_once(args.read_logdir, args.logdir, args.passes, args.core)
            if r["event_bytes"] != scan["event_bytes"]:
                raise RuntimeError(f"read-logdir read {r['event_bytes']} bytes, the logdir holds {scan['event_bytes']}")
            return r

        def scan_run():
            if not args.gradalert:
                return None
            return statistics.median(scan_once(args.gradalert, args.logdir) for _ in range(3))

        if index % 2 == 0:
            ours, theirs, scanned = reader(), server(), scan_run()
        else:
            scanned = scan_run()
            theirs = server()
            ours = reader()
        ratio = theirs / ours["seconds_median"]
        entry = {"reader_seconds": ours["seconds"], "reader_seconds_median": ours["seconds_median"],
                 "data_server_seconds": theirs, "ratio": ratio, "reader_first": index % 2 == 0,
                 "loadavg": peers.loadavg(), "page_cache_at_start": census}
        note = ""
        if scanned is not None:
            entry["scan_seconds_median"] = scanned
            entry["scan_ratio"] = theirs / scanned
            note = f", scan {scanned * 1000:.1f} ms, ratio {theirs / scanned:.1f}"
        rounds.append(entry)
        share = f", {census['large_folio_share']:.0%} of cached pages in large folios" if census else ""
        peers.log(f"round {index + 1}/{args.rounds}{share}: reader {ours['seconds_median'] * 1000:.1f} ms, "
                  f"data server {theirs:.3f} s, ratio {ratio:.1f}{note}")

    nbytes = scan["event_bytes"]
    ratios = [r["ratio"] for r in rounds]
    reader_medians = [r["reader_seconds_median"] for r in rounds]
    server_seconds = [r["data_server_seconds"] for r in rounds]
    result = {
        "what": "decoding reader (1 core) vs tensorboard --load_fast=true (start-up incl.), interleaved rounds",
        "logdir": args.logdir,
        "event_bytes": nbytes,
        "page_cache": args.page_cache,
        "rounds": rounds,
        "ratio": peers.summarize(ratios, "x"),
        "reader_mb_per_s": peers.summarize([nbytes / peers.MB / s for s in reader_medians], "MB/s"),
        "data_server_mb_per_s": peers.summarize([nbytes / peers.MB / s for s in server_seconds], "MB/s"),
        **({"scan_ratio": peers.summarize([r["scan_ratio"] for r in rounds], "x"),
            "scan_mb_per_s": peers.summarize([nbytes / peers.MB / r["scan_seconds_median"] for r in rounds], "MB/s")}
           if args.gradalert else {}),
        "machine": peers.machine_info(),
        "versions": peers.versions(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    if args.gradalert:
        scans = [r["scan_ratio"] for r in rounds]
        print(f"scan: median ratio {statistics.median(scans):.1f}x (min {min(scans):.1f}, max {max(scans):.1f})")
    print(f"page cache: {args.page_cache}; median ratio {statistics.median(ratios):.1f}x over {len(ratios)} rounds "
          f"(min {min(ratios):.1f}, max {max(ratios):.1f}); reader {statistics.median(reader_medians) * 1000:.1f} ms, "
          f"data server {statistics.median(server_seconds):.3f} s (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
