#!/usr/bin/env python3
"""Measure gradalert's established Python/Rust peers on this machine.

gradalert's benchmarks report speed *ratios* against the peers measured in
the same run on the same machine.  This script is the peer side: it times

  a. tensorboardX ``SummaryWriter.add_scalar`` (events/s, close included),
  b. tensorboardX ``add_histogram`` of a float32 array, bins='tensorflow'
     (elements/s, 1e6 elements and 1e7 if one call takes < 10 s),
  c. CRC-32C throughput of the ``crc32c`` and ``google-crc32c`` packages
     (1 MiB and 64 MiB buffers, GB/s with 1 GB = 1e9 bytes),
  d. TensorBoard's Rust data server loading a whole logdir, launched through
     ``tensorboard --load_fast=true`` and directly as the
     ``tensorboard_data_server`` binary (MB/s with 1 MB = 1e6 bytes),
  e. ``EventAccumulator.Reload()`` over every run of the logdir (MB/s),
  f. tbparse ``SummaryReader`` (scalars + histograms) over the logdir (MB/s),

and writes every median, its repetitions and raw timings, the library
versions and the machine description to a JSON file, plus a human summary on
stdout.  Single-threaded measurements run with this process pinned to one
core (``--core``, default 0); the data server is measured as shipped (it is
multi-threaded) and additionally pinned to one core.

Usage (from the repository root)::

    python3.11 -m venv .venv-bench
    .venv-bench/bin/pip install -r Tools/benchmarks/peers-requirements.txt
    .venv-bench/bin/python Tools/benchmarks/peers.py \\
        --logdir /tmp/gradalert-bench/logdir --out peers.json
    .venv-bench/bin/python Tools/benchmarks/peers.py --quick --out quick.json

``--make-standin MB`` writes a tensorboardX logdir of roughly MB megabytes and
the benchmark's shape (several runs; per step a loss scalar, grad_norm/global,
10 grad_norm/<layer> scalars and 10 legacy histograms grad/<layer> of 1000
values) at ``--logdir`` and exits.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime
import gc
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpuinfo  # noqa: E402  (the CPU beside every figure; shared with ratios.py and run.sh)

SCHEMA = "gradalert-peers/1"
MB = 1e6
GB = 1e9
MIB = 1 << 20

PEER_PACKAGES = (
    "tensorboardX",
    "tensorboard",
    "tensorboard-data-server",
    "crc32c",
    "google-crc32c",
    "tbparse",
    "pandas",
    "numpy",
    "protobuf",
    "grpcio",
    "psutil",
)

# Every child process we start, so that nothing outlives the script.
_CHILDREN: list[subprocess.Popen] = []


def _kill_children() -> None:
    for proc in list(_CHILDREN):
        _stop_process(proc, grace=2.0)
        with contextlib.suppress(ValueError):
            _CHILDREN.remove(proc)


atexit.register(_kill_children)


def _on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


# --------------------------------------------------------------------------
# small utilities


def log(msg: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def all_cpus() -> set[int]:
    return set(range(os.cpu_count() or 1))


@contextlib.contextmanager
def pinned(core: int | None):
    """Pin this process (all its threads) to one core for the block."""
    if core is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _affinity_preexec(cpus: set[int]):
    def preexec():
        os.sched_setaffinity(0, cpus)

    return preexec


def summarize(values: list[float], unit: str, **extra) -> dict:
    """Median plus spread of repeated measurements (higher is better)."""
    med = statistics.median(values)
    out = {
        "value": med,
        "unit": unit,
        "median": med,
        "min": min(values),
        "max": max(values),
        "spread_pct": (100.0 * (max(values) - min(values)) / med) if med else None,
        "repetitions": len(values),
        "raw": values,
    }
    out.update(extra)
    return out


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def fmt_rate(v: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"


# --------------------------------------------------------------------------
# machine / versions


def machine_info() -> dict:
    cpu_model = None
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    nproc = None
    with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError):
        nproc = int(subprocess.run(["nproc"], capture_output=True, text=True,
                                   timeout=10).stdout.strip())
    flags = ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line
                    break
    mem = psutil.virtual_memory().total
    return {
        "cpu_model": cpu_model,
        # Family/model numbers, the kernels' flags, L1d and SMT: cpuinfo.py says why.
        "cpu": cpuinfo.describe(),
        "nproc": nproc,
        "os_cpu_count": os.cpu_count(),
        "affinity_at_start": sorted(os.sched_getaffinity(0)),
        "cpu_has_sse4_2": " sse4_2" in flags,
        "cpu_has_pclmulqdq": " pclmulqdq" in flags,
        "memory_bytes": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "hostname": platform.node(),
        "loadavg_at_start": loadavg(),
    }


def versions() -> dict:
    out = {}
    for name in PEER_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


# --------------------------------------------------------------------------
# logdir inspection (own TFRecord framing reader; no CRC check needed here)


def discover_runs(logdir: str) -> dict[str, list[str]]:
    """Map run name (dir relative to logdir, '.' for the root) to its event
    files, the way TensorBoard groups them (basename contains 'tfevents')."""
    runs: dict[str, list[str]] = {}
    for dirpath, _dirs, files in os.walk(logdir, followlinks=True):
        events = sorted(f for f in files if "tfevents" in f)
        if events:
            rel = os.path.relpath(dirpath, logdir)
            runs[rel] = [os.path.join(dirpath, f) for f in events]
    return dict(sorted(runs.items()))


def iter_record_spans(path: str):
    """Yield (offset, end_offset, payload) of each complete TFRecord."""
    with open(path, "rb") as f:
        offset = 0
        while True:
            header = f.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            payload = f.read(length)
            footer = f.read(4)
            if len(payload) < length or len(footer) < 4:
                return
            end = offset + 12 + length + 4
            yield offset, end, payload
            offset = end


def scan_logdir(logdir: str) -> dict:
    """Bytes, record counts and, per run, every scalar series' point count and
    last step (used to verify that a server really loaded everything)."""
    from tensorboard.compat.proto import event_pb2

    runs = discover_runs(logdir)
    info = {"path": os.path.abspath(logdir), "runs": {}, "event_files": 0,
            "event_bytes": 0, "records": 0, "scalar_points": 0,
            "histogram_points": 0, "other_values": 0}
    for run, files in runs.items():
        scalars: dict[str, list[int]] = {}   # tag -> [count, max_step]
        hist_last: dict[str, int] = {}
        scalar_plugin_tags: set[str] = set()
        last_value_tag = None
        run_bytes = 0
        for path in files:
            run_bytes += os.path.getsize(path)
            info["event_files"] += 1
            for _o, _e, payload in iter_record_spans(path):
                info["records"] += 1
                ev = event_pb2.Event.FromString(payload)
                if not ev.HasField("summary"):
                    continue
                for v in ev.summary.value:
                    kind = v.WhichOneof("value")
                    if v.HasField("metadata") and v.metadata.plugin_data.plugin_name == "scalars":
                        scalar_plugin_tags.add(v.tag)
                    if kind == "simple_value" or (kind == "tensor" and v.tag in scalar_plugin_tags):
                        c = scalars.setdefault(v.tag, [0, ev.step])
                        c[0] += 1
                        c[1] = max(c[1], ev.step)
                        info["scalar_points"] += 1
                        last_value_tag = ("scalar", v.tag, ev.step)
                    elif kind == "histo":
                        hist_last[v.tag] = max(hist_last.get(v.tag, ev.step), ev.step)
                        info["histogram_points"] += 1
                        last_value_tag = ("histogram", v.tag, ev.step)
                    else:
                        info["other_values"] += 1
        info["event_bytes"] += run_bytes
        info["runs"][run] = {
            "files": [os.path.relpath(p, logdir) for p in files],
            "bytes": run_bytes,
            "scalar_series": {t: {"count": c, "last_step": s} for t, (c, s) in sorted(scalars.items())},
            "histogram_series": {t: {"last_step": s} for t, s in sorted(hist_last.items())},
            "last_value": list(last_value_tag) if last_value_tag else None,
        }
    total = 0
    for dirpath, _dirs, files in os.walk(logdir, followlinks=True):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, f))
    info["total_bytes"] = total
    return info


def warm_page_cache(logdir: str) -> float:
    t0 = time.perf_counter()
    for files in discover_runs(logdir).values():
        for path in files:
            with open(path, "rb") as f:
                while f.read(8 * MIB):
                    pass
    return time.perf_counter() - t0


def make_subset(logdir: str, limit_bytes: int | None, workdir: str) -> dict:
    """A view of the logdir holding at most limit_bytes of event data: whole
    event files (symlinked) in run order, then one file cut at a record
    boundary.  Returns {'path', 'bytes', 'files': [...], 'subset': bool}."""
    runs = discover_runs(logdir)
    total = sum(os.path.getsize(p) for fs in runs.values() for p in fs)
    if limit_bytes is None or limit_bytes >= total:
        files = [{"file": os.path.relpath(p, logdir), "bytes": os.path.getsize(p),
                  "truncated": False} for fs in runs.values() for p in fs]
        return {"path": logdir, "bytes": total, "files": files, "subset": False}
    root = os.path.join(workdir, "subset")
    os.makedirs(root, exist_ok=True)
    used = 0
    chosen = []
    done = False
    for fs in runs.values():
        for p in fs:
            rel = os.path.relpath(p, logdir)
            dst = os.path.join(root, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            size = os.path.getsize(p)
            if used + size <= limit_bytes:
                os.symlink(os.path.abspath(p), dst)
                chosen.append({"file": rel, "bytes": size, "truncated": False})
                used += size
                continue
            # The first file that does not fit is cut at a record boundary
            # and ends the subset.
            done = True
            cut = 0
            for _o, end, _payload in iter_record_spans(p):
                if used + end > limit_bytes:
                    break
                cut = end
            if cut:
                with open(p, "rb") as src, open(dst, "wb") as out:
                    out.write(src.read(cut))
                chosen.append({"file": rel, "bytes": cut, "truncated": True,
                                "of_bytes": size})
                used += cut
            break
        if done:
            break
    return {"path": root, "bytes": used, "files": chosen, "subset": True}


# --------------------------------------------------------------------------
# stand-in logdir (same shape as the Swift benchmark logdir)

LAYERS = 10


def make_standin(logdir: str, target_mb: float, runs: int = 4, seed: int = 0) -> dict:
    """Write a tensorboardX logdir of ~target_mb MB: per step loss,
    grad_norm/global, grad_norm/layerK (K<10) scalars and legacy histograms
    grad/layerK of 1000 float32 values."""
    os.makedirs(logdir, exist_ok=True)
    rng = np.random.default_rng(seed)
    target = target_mb * MB
    # Measure the bytes/step of a short probe run, then size the real runs.
    probe_dir = tempfile.mkdtemp(prefix="standin-probe-")
    try:
        bytes_per_step = _write_standin_run(probe_dir, 20, rng) / 20
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    steps = max(2, int(target / runs / bytes_per_step))
    for r in range(runs):
        _write_standin_run(os.path.join(logdir, f"run{r}"), steps, rng)
    total = sum(os.path.getsize(p) for fs in discover_runs(logdir).values() for p in fs)
    return {"runs": runs, "steps_per_run": steps, "bytes": total}


def _write_standin_run(run_dir: str, steps: int, rng) -> int:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(run_dir)
    scales = np.exp(rng.normal(size=LAYERS)).astype(np.float32)
    for step in range(steps):
        norms = []
        for layer in range(LAYERS):
            g = rng.standard_normal(1000).astype(np.float32) * scales[layer] * 1e-3
            w.add_histogram(f"grad/layer{layer}", g, step, bins="tensorflow")
            norms.append(float(np.linalg.norm(g)))
        w.add_scalar("loss", float(2.0 / (1.0 + step * 0.01) + rng.normal() * 0.01), step)
        w.add_scalar("grad_norm/global", float(np.sqrt(np.sum(np.square(norms)))), step)
        for layer, n in enumerate(norms):
            w.add_scalar(f"grad_norm/layer{layer}", n, step)
    w.close()
    return sum(os.path.getsize(os.path.join(run_dir, f)) for f in os.listdir(run_dir))


# --------------------------------------------------------------------------
# a. tensorboardX add_scalar


def bench_add_scalar(n_events: int, reps: int, core: int | None) -> dict:
    from tensorboardX import SummaryWriter
    import tensorboardX.crc32c as tbx_crc

    rates, secs, sizes = [], [], []
    la0 = loadavg()
    with pinned(core):
        for rep in range(reps + 1):            # first pass is an untimed warm-up
            n = n_events if rep else max(1000, n_events // 10)
            d = tempfile.mkdtemp(prefix="peers-scalar-")
            try:
                gc.collect()
                t0 = time.perf_counter()
                w = SummaryWriter(d)
                for i in range(n):
                    w.add_scalar("loss", 1.0 / (i + 1.0), i)
                w.close()
                dt = time.perf_counter() - t0
                size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
            finally:
                shutil.rmtree(d, ignore_errors=True)
            if rep:
                rates.append(n / dt)
                secs.append(dt)
                sizes.append(size)
    return summarize(rates, "events/s", seconds=secs, events_per_repetition=n_events,
                     bytes_written=sizes[0], pinned_core=core,
                     crc_backend="crc32c package (native)" if tbx_crc._crc32c_native
                     else "pure Python table",
                     what="SummaryWriter(tmp) + add_scalar('loss', v, i) x N + close()",
                     loadavg=[la0, loadavg()])


# --------------------------------------------------------------------------
# b. tensorboardX add_histogram


def bench_add_histogram(n_elements: int, reps: int, core: int | None,
                        max_call_s: float | None = None) -> dict | None:
    from tensorboardX import SummaryWriter

    data = np.random.default_rng(1).standard_normal(n_elements).astype(np.float32)
    rates, secs = [], []
    la0 = loadavg()
    d = tempfile.mkdtemp(prefix="peers-hist-")
    try:
        with pinned(core):
            w = SummaryWriter(d)
            try:
                if max_call_s is None:
                    # Untimed warm-up call (first-call allocations, imports).
                    w.add_histogram("grad/warmup", data[: min(n_elements, 100_000)], 0)
                    w.flush()
                for rep in range(reps):
                    gc.collect()
                    t0 = time.perf_counter()
                    w.add_histogram("grad/x", data, rep, bins="tensorflow")
                    w.flush()
                    dt = time.perf_counter() - t0
                    if rep == 0 and max_call_s is not None and dt >= max_call_s:
                        return {"skipped": True, "reason": f"one call took {dt:.1f} s "
                                f">= {max_call_s} s", "first_call_s": dt,
                                "elements": n_elements}
                    rates.append(n_elements / dt)
                    secs.append(dt)
            finally:
                w.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return summarize(rates, "elements/s", seconds=secs, elements=n_elements,
                     dtype="float32", bins="tensorflow", pinned_core=core,
                     what="add_histogram(tag, float32[N], step, bins='tensorflow') + flush()",
                     loadavg=[la0, loadavg()])


# --------------------------------------------------------------------------
# c. CRC-32C

CHECK_INPUT = b"123456789"
CHECK_VALUE = 0xE3069283


def crc_functions() -> dict:
    import crc32c
    import google_crc32c

    fns = {
        "crc32c_pkg": crc32c.crc32c,
        "google_crc32c": google_crc32c.value,
    }
    impl = {
        "crc32c_pkg": "hardware" if getattr(crc32c, "hardware_based", False) else "software",
        "google_crc32c": getattr(google_crc32c, "implementation", "unknown"),
    }
    return {"fns": fns, "impl": impl}


def bench_crc(buf_bytes: int, reps: int, core: int | None, target_s: float) -> dict:
    cf = crc_functions()
    buf = np.random.default_rng(2).integers(0, 256, buf_bytes, dtype=np.uint8).tobytes()
    results = {}
    ref = None
    for name, fn in cf["fns"].items():
        got = fn(CHECK_INPUT)
        if got != CHECK_VALUE:
            raise SystemExit(f"{name}: crc32c(b'123456789') = {got:#010x}, expected {CHECK_VALUE:#010x}")
        v = fn(buf)
        if ref is None:
            ref = v
        elif v != ref:
            raise SystemExit(f"{name} disagrees with crc32c_pkg on a {buf_bytes}-byte buffer")
    for name, fn in cf["fns"].items():
        la0 = loadavg()
        with pinned(core):
            # Calibrate the number of calls so one repetition takes ~target_s.
            t0 = time.perf_counter()
            fn(buf)
            one = max(time.perf_counter() - t0, 1e-7)
            calls = max(1, int(target_s / one))
            rates, secs = [], []
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn(buf)
                dt = time.perf_counter() - t0
                rates.append(calls * buf_bytes / dt / GB)
                secs.append(dt)
        results[name] = summarize(rates, "GB/s", seconds=secs, buffer_bytes=buf_bytes,
                                  calls_per_repetition=calls, pinned_core=core,
                                  implementation=cf["impl"][name],
                                  check_value_ok=True, loadavg=[la0, loadavg()])
    return results


# --------------------------------------------------------------------------
# d. Rust data server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Terminate a process we started, and its own children, by pid."""
    if proc.poll() is not None:
        return
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        kids = []
    with contextlib.suppress(OSError):
        if proc.stdin:
            proc.stdin.close()
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    for k in kids:
        with contextlib.suppress(psutil.Error):
            if k.is_running():
                k.terminate()
    _gone, alive = psutil.wait_procs(kids, timeout=grace)
    for k in alive:
        with contextlib.suppress(psutil.Error):
            k.kill()


class LineWatcher:
    """Read a child's output lines on a thread, timestamping each, and flag
    the first line that contains a marker."""

    def __init__(self, stream, marker: str):
        self.lines: list[tuple[float, str]] = []
        self.marker = marker
        self.hit = threading.Event()
        self.hit_time: float | None = None
        self.hit_line: str | None = None
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            now = time.perf_counter()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if len(self.lines) < 2000:
                self.lines.append((now, line))
            if not self.hit.is_set() and self.marker in line:
                self.hit_time, self.hit_line = now, line
                self.hit.set()
        with contextlib.suppress(OSError):
            stream.close()

    def tail(self, n=20) -> list[str]:
        return [line for _t, line in self.lines[-n:]]


_DURATION_RE = re.compile(r"Finished load cycle \(([0-9.]+)\s*(ns|µs|us|ms|s)\)")


def parse_load_cycle(line: str | None) -> float | None:
    """Rust Debug format of a Duration, e.g. '1.234567s', '850.1ms'."""
    if not line:
        return None
    m = _DURATION_RE.search(line)
    if not m:
        return None
    scale = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]
    return float(m.group(1)) * scale


def data_server_binary() -> str:
    import tensorboard_data_server

    path = tensorboard_data_server.server_binary()
    if not path:
        raise SystemExit("tensorboard_data_server has no binary for this platform")
    return path


def tensorboard_command() -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if os.path.exists(exe):
        return [exe]
    return [sys.executable, "-m", "tensorboard.main"]


def _child_env() -> dict:
    env = os.environ.copy()
    env.pop("RUST_LOG", None)      # the data server's --verbose must decide
    env.pop("TENSORBOARD_DATA_SERVER_BINARY", None)
    env["PYTHONUNBUFFERED"] = "1"
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(url: str, timeout: float = 10.0):
    with _OPENER.open(url, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def verify_http(base: str, scan: dict, deadline: float) -> dict:
    """Check through TensorBoard's HTTP API that every run's scalar series
    end at their last step with all points, and each histogram series ends
    at its last step."""
    checked, problems = 0, []
    for run, rinfo in scan["runs"].items():
        for tag, s in rinfo["scalar_series"].items():
            q = urllib.parse.urlencode({"run": run, "tag": tag})
            pts = http_json(f"{base}/data/plugin/scalars/scalars?{q}",
                            timeout=max(1.0, deadline - time.perf_counter()))
            checked += 1
            last = pts[-1][1] if pts else None
            if last != s["last_step"] or (s["count"] <= 100000 and len(pts) != s["count"]):
                problems.append({"run": run, "tag": tag, "points": len(pts), "last_step": last,
                                 "expected_points": s["count"], "expected_last_step": s["last_step"]})
        for tag, h in list(rinfo["histogram_series"].items())[:3]:
            q = urllib.parse.urlencode({"run": run, "tag": tag})
            pts = http_json(f"{base}/data/plugin/histograms/histograms?{q}",
                            timeout=max(1.0, deadline - time.perf_counter()))
            checked += 1
            last = pts[-1][1] if pts else None
            if last != h["last_step"]:
                problems.append({"run": run, "tag": tag, "last_step": last,
                                 "expected_last_step": h["last_step"]})
    return {"ok": not problems, "series_checked": checked, "problems": problems[:10]}


def _http_complete(base: str, scan: dict) -> bool:
    """True when, for every run, the series holding the run's final record
    reaches its final step (the data server reads each run's files in order
    and commits in order, so everything before it is then visible too)."""
    for run, rinfo in scan["runs"].items():
        lv = rinfo["last_value"]
        if not lv:
            continue
        kind, tag, step = lv
        plugin = "scalars/scalars" if kind == "scalar" else "histograms/histograms"
        q = urllib.parse.urlencode({"run": run, "tag": tag})
        try:
            pts = http_json(f"{base}/data/plugin/{plugin}?{q}", timeout=5.0)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        if not pts or pts[-1][1] != step:
            return False
    return True


def run_tensorboard_once(logdir: str, scan: dict, detect: str, timeout: float,
                         cpus: set[int], samples: str) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = tensorboard_command() + [
        "--logdir", logdir, "--load_fast=true", "--host", "127.0.0.1",
        "--port", str(port), "--samples_per_plugin", samples,
        "--extra_data_server_flags=--verbose",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_child_env(),
                            preexec_fn=_affinity_preexec(cpus))
    _CHILDREN.append(proc)
    err = LineWatcher(proc.stderr, "Finished load cycle")
    out = LineWatcher(proc.stdout, "Finished load cycle")
    deadline = t0 + timeout
    try:
        t_done = None
        t_http_ready = None
        server_rss = None
        if detect == "log":
            while time.perf_counter() < deadline:
                if err.hit.wait(0.05) or out.hit.is_set():
                    break
                if proc.poll() is not None:
                    break
            hit = err if err.hit.is_set() else out
            if not hit.hit.is_set():
                raise RuntimeError("no 'Finished load cycle' line from the data server "
                                   f"(exit={proc.poll()}): " + " | ".join(err.tail()))
            t_done = hit.hit_time
            server_rss = _data_server_rss(proc)
        # Wait for the web server, then (http mode) poll until complete.
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("tensorboard exited: " + " | ".join(err.tail()))
            try:
                http_json(f"{base}/data/runs", timeout=2.0)
                t_http_ready = time.perf_counter()
                break
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.05)
        if t_http_ready is None:
            raise RuntimeError("tensorboard HTTP server did not answer in time")
        if detect == "http":
            while time.perf_counter() < deadline:
                if _http_complete(base, scan):
                    t_done = time.perf_counter()
                    break
                time.sleep(0.05)
            if t_done is None:
                raise RuntimeError("data never became complete over HTTP")
            server_rss = _data_server_rss(proc)
        verification = verify_http(base, scan, deadline + 60)
        return {
            "seconds": t_done - t0,
            "http_ready_s": t_http_ready - t0,
            "server_reported_load_cycle_s": parse_load_cycle(err.hit_line or out.hit_line),
            "data_server_rss_bytes": server_rss,
            "verification": verification,
            "cmd": cmd,
        }
    finally:
        _stop_process(proc)
        with contextlib.suppress(ValueError):
            _CHILDREN.remove(proc)


def _data_server_rss(proc: subprocess.Popen) -> int | None:
    with contextlib.suppress(psutil.Error):
        for k in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "server" in os.path.basename(k.exe()):
                    return k.memory_info().rss
    return None


def run_data_server_direct_once(logdir: str, scan: dict, timeout: float,
                                cpus: set[int], samples: str) -> dict:
    import grpc
    from tensorboard.data.proto import data_provider_pb2, data_provider_pb2_grpc

    binary = data_server_binary()
    with tempfile.TemporaryDirectory(prefix="peers-ds-") as tmp:
        port_file = os.path.join(tmp, "port")
        cmd = [binary, f"--logdir={logdir}", "--reload=once",
               f"--samples-per-plugin={samples}",
               "--host=127.0.0.1", "--port=0", f"--port-file={port_file}",
               "--die-after-stdin", "--verbose"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=_child_env(),
                                preexec_fn=_affinity_preexec(cpus))
        _CHILDREN.append(proc)
        err = LineWatcher(proc.stderr, "Finished load cycle")
        deadline = t0 + timeout
        try:
            while not err.hit.wait(0.02):
                if proc.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError("data server: no 'Finished load cycle' line "
                                       f"(exit={proc.poll()}): " + " | ".join(err.tail()))
            t_done = err.hit_time
            rss = psutil.Process(proc.pid).memory_info().rss
            cpu = psutil.Process(proc.pid).cpu_times()
            with open(port_file) as f:
                port = int(f.read().strip())
            channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[
                ("grpc.max_receive_message_length", 256 * MIB)])
            try:
                stub = data_provider_pb2_grpc.TensorBoardDataProviderStub(channel)
                req = data_provider_pb2.ReadScalarsRequest()
                req.plugin_filter.plugin_name = "scalars"
                req.downsample.num_points = 100000
                resp = stub.ReadScalars(req, timeout=60)
                got = {(r.run_name, t.tag_name): (len(t.data.step), t.data.step[-1] if t.data.step else None)
                       for r in resp.runs for t in r.tags}
            finally:
                channel.close()
            problems, checked = [], 0
            for run, rinfo in scan["runs"].items():
                for tag, s in rinfo["scalar_series"].items():
                    checked += 1
                    n, last = got.get((run, tag), (0, None))
                    if last != s["last_step"] or (s["count"] <= 100000 and n != s["count"]):
                        problems.append({"run": run, "tag": tag, "points": n, "last_step": last,
                                         "expected_points": s["count"],
                                         "expected_last_step": s["last_step"]})
            return {
                "seconds": t_done - t0,
                "server_reported_load_cycle_s": parse_load_cycle(err.hit_line),
                "data_server_rss_bytes": rss,
                "data_server_cpu_s": cpu.user + cpu.system,
                "verification": {"ok": not problems, "series_checked": checked,
                                 "problems": problems[:10], "via": "gRPC ReadScalars"},
                "cmd": cmd,
            }
        finally:
            _stop_process(proc)
            with contextlib.suppress(ValueError):
                _CHILDREN.remove(proc)


def bench_data_server(logdir: str, scan: dict, reps: int, core: int | None,
                      timeout: float, samples: str) -> dict:
    nbytes = scan["event_bytes"]
    every = all_cpus()
    variants = [
        ("data_server", "tensorboard --load_fast=true (launch -> 'Finished load cycle')",
         lambda: run_tensorboard_once(logdir, scan, "log", timeout, every, samples), every),
        ("data_server_http_poll", "tensorboard --load_fast=true (launch -> HTTP shows each run's final record)",
         lambda: run_tensorboard_once(logdir, scan, "http", timeout, every, samples), every),
        ("data_server_direct", "tensorboard_data_server binary (launch -> 'Finished load cycle')",
         lambda: run_data_server_direct_once(logdir, scan, timeout, every, samples), every),
    ]
    if core is not None:
        variants.append(
            ("data_server_direct_one_core", "data server binary pinned to one core",
             lambda: run_data_server_direct_once(logdir, scan, timeout, {core}, samples), {core}))
    out = {}
    for name, what, fn, cpus in variants:
        runs = []
        la0 = loadavg()
        for rep in range(reps):
            r = fn()
            log(f"  {name} rep {rep + 1}/{reps}: {r['seconds']:.3f} s "
                f"(server load cycle {r['server_reported_load_cycle_s']}) "
                f"verified={r['verification']['ok']}")
            runs.append(r)
        secs = [r["seconds"] for r in runs]
        cyc = [r["server_reported_load_cycle_s"] for r in runs if r["server_reported_load_cycle_s"]]
        extra = {
            "what": what,
            "seconds": secs,
            "seconds_median": statistics.median(secs),
            "logdir_event_bytes": nbytes,
            "cpus_allowed": sorted(cpus),
            "verification_ok": all(r["verification"]["ok"] for r in runs),
            "verification": runs[-1]["verification"],
            "data_server_rss_bytes": [r["data_server_rss_bytes"] for r in runs],
            "cmd": runs[-1]["cmd"],
            "loadavg": [la0, loadavg()],
        }
        if "http_ready_s" in runs[0]:
            extra["http_ready_s"] = [r["http_ready_s"] for r in runs]
        if "data_server_cpu_s" in runs[0]:
            extra["data_server_cpu_s"] = [r["data_server_cpu_s"] for r in runs]
        if cyc:
            extra["server_reported_load_cycle_s"] = cyc
        out[f"{name}_mb_per_s"] = summarize([nbytes / MB / s for s in secs], "MB/s", **extra)
        if cyc:
            out[f"{name}_load_cycle_mb_per_s"] = summarize(
                [nbytes / MB / s for s in cyc], "MB/s",
                what=what + "; the server's own 'Finished load cycle (T)' duration, start-up excluded",
                seconds=cyc, cpus_allowed=sorted(cpus))
    return out


# --------------------------------------------------------------------------
# e. EventAccumulator, f. tbparse


def _ea_size_guidance():
    from tensorboard.backend.event_processing import event_accumulator as ea

    return {k: 0 for k in (ea.COMPRESSED_HISTOGRAMS, ea.IMAGES, ea.AUDIO,
                           ea.SCALARS, ea.HISTOGRAMS, ea.TENSORS)}


def bench_event_accumulator(subset: dict, reps: int, core: int | None) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dirs = [os.path.join(subset["path"], r) for r in discover_runs(subset["path"])]
    rates, secs, counts, rss = [], [], None, []
    la0 = loadavg()
    proc = psutil.Process()
    with pinned(core):
        for _ in range(reps):
            gc.collect()
            rss0 = proc.memory_info().rss
            t0 = time.perf_counter()
            accs = []
            for d in run_dirs:
                acc = EventAccumulator(d, size_guidance=_ea_size_guidance())
                acc.Reload()
                accs.append(acc)
            dt = time.perf_counter() - t0
            rss.append(proc.memory_info().rss - rss0)
            if counts is None:
                counts = {"scalar_points": 0, "histogram_points": 0}
                for acc in accs:
                    tags = acc.Tags()
                    counts["scalar_points"] += sum(len(acc.Scalars(t)) for t in tags["scalars"])
                    counts["histogram_points"] += sum(len(acc.Histograms(t)) for t in tags["histograms"])
            del accs
            secs.append(dt)
            rates.append(subset["bytes"] / MB / dt)
    return summarize(rates, "MB/s", seconds=secs, bytes_read=subset["bytes"],
                     subset=subset["subset"], files_read=subset["files"],
                     runs=len(run_dirs), loaded=counts, rss_growth_bytes=rss,
                     pinned_core=core,
                     what="EventAccumulator(run_dir, size_guidance=all 0).Reload() per run",
                     loadavg=[la0, loadavg()])


def bench_tbparse(subset: dict, reps: int, core: int | None) -> dict:
    from tbparse import SummaryReader

    rates, secs, rows, rss = [], [], None, []
    la0 = loadavg()
    proc = psutil.Process()
    with pinned(core):
        for _ in range(reps):
            gc.collect()
            rss0 = proc.memory_info().rss
            t0 = time.perf_counter()
            reader = SummaryReader(subset["path"], event_types={"scalars", "histograms"})
            scalars = reader.scalars
            hists = reader.histograms
            dt = time.perf_counter() - t0
            rss.append(proc.memory_info().rss - rss0)
            rows = {"scalar_rows": len(scalars), "histogram_rows": len(hists)}
            del reader, scalars, hists
            secs.append(dt)
            rates.append(subset["bytes"] / MB / dt)
    return summarize(rates, "MB/s", seconds=secs, bytes_read=subset["bytes"],
                     subset=subset["subset"], files_read=subset["files"], loaded=rows,
                     rss_growth_bytes=rss, pinned_core=core,
                     what="SummaryReader(logdir, event_types={scalars, histograms}) "
                          "+ .scalars + .histograms DataFrames",
                     loadavg=[la0, loadavg()])


# --------------------------------------------------------------------------
# driver


def human_summary(res: dict) -> str:
    m = res["machine"]
    cpu = m.get("cpu") or {}
    short = cpu.get("short", m["cpu_model"])
    lines = [
        f"gradalert peers — {m['cpu_model']} — nproc={m['nproc']} — python {m['python']}",
        f"cpu: {cpu.get('tag', m['cpu_model'])}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in res["versions"].items()),
        f"logdir: {res['logdir']['path']} — {len(res['logdir']['runs'])} runs, "
        f"{res['logdir']['event_files']} event files, {res['logdir']['event_bytes'] / MB:.1f} MB, "
        f"{res['logdir']['records']} records",
        "",
        f"{'metric':52s} {'median':>10s} {'unit':10s} {'spread':>8s}  n  [cpu]",
    ]
    for name, r in res["metrics"].items():
        if r.get("skipped"):
            lines.append(f"{name:52s} {'skipped':>10s}  ({r['reason']})")
            continue
        spread = f"{r['spread_pct']:.1f}%" if r.get("spread_pct") is not None else "-"
        note = ""
        if "seconds_median" in r:
            note = f"  ({r['seconds_median']:.2f} s)"
        if "verification_ok" in r and not r["verification_ok"]:
            note += "  VERIFICATION FAILED"
        if r.get("subset"):
            note += f"  (subset: {r['bytes_read'] / MB:.1f} MB)"
        lines.append(f"{name:52s} {fmt_rate(r['value']):>10s} {r['unit']:10s} {spread:>8s}  "
                     f"{r['repetitions']}{note}  [{short}]")
    lines.append("")
    lines.append(f"total runtime {res['total_runtime_s']:.1f} s; "
                 f"loadavg start {res['machine']['loadavg_at_start']} end {res['loadavg_at_end']}")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--logdir", help="benchmark logdir (required unless --quick)")
    p.add_argument("--out", help="write results JSON here")
    p.add_argument("--repeat", type=int, help="repetitions for every measurement "
                   "(default 5 for a-c, 3 for d-f; --quick: 2)")
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    p.add_argument("--core", type=int, default=0, help="core for one-core measurements "
                   "(default 0; -1 = do not pin)")
    p.add_argument("--accumulator-limit-mb", type=float, default=None,
                   help="time EventAccumulator and tbparse on only the first N MB of "
                   "event data (whole files in run order, the last cut at a record boundary)")
    p.add_argument("--scalar-events", type=int, help="add_scalar events per repetition (50000)")
    p.add_argument("--server-timeout", type=float, default=600.0,
                   help="seconds to wait for one data-server load (default 600)")
    p.add_argument("--samples-per-plugin", default="scalars=100000")
    p.add_argument("--only", help="comma list of: scalar,histogram,crc,dataserver,accumulator,tbparse")
    p.add_argument("--make-standin", type=float, metavar="MB",
                   help="write a tensorboardX stand-in logdir of ~MB MB at --logdir and exit")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    t_start = time.perf_counter()
    core = None if args.core is not None and args.core < 0 else args.core
    if core is not None and core not in os.sched_getaffinity(0):
        raise SystemExit(f"--core {core} is not in this process's affinity set")

    if args.make_standin:
        if not args.logdir:
            raise SystemExit("--make-standin needs --logdir")
        info = make_standin(args.logdir, args.make_standin)
        print(json.dumps(info))
        return 0

    quick = args.quick
    reps_micro = args.repeat or (2 if quick else 5)
    reps_heavy = args.repeat or (2 if quick else 3)
    only = set(args.only.split(",")) if args.only else {
        "scalar", "histogram", "crc", "dataserver", "accumulator", "tbparse"}
    workdir = tempfile.mkdtemp(prefix="peers-work-")
    try:
        logdir = args.logdir
        standin = None
        if not logdir:
            if not quick:
                raise SystemExit("--logdir is required (or use --quick)")
            logdir = os.path.join(workdir, "quick-logdir")
            log("writing a tiny stand-in logdir for --quick")
            standin = make_standin(logdir, 1.5, runs=2)
        if not os.path.isdir(logdir):
            raise SystemExit(f"no such logdir: {logdir}")
        limit_mb = args.accumulator_limit_mb
        if quick and limit_mb is None:
            limit_mb = 3.0

        res: dict = {
            "schema": SCHEMA,
            "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else list(argv),
            "quick": quick,
            "units": {"MB": "1e6 bytes", "GB": "1e9 bytes", "MiB": "2**20 bytes"},
            "machine": machine_info(),
            "versions": versions(),
            "pinned_core": core,
            "metrics": {},
        }
        try:
            res["versions"]["tensorboard_data_server_binary"] = subprocess.run(
                [data_server_binary(), "--version"], capture_output=True, text=True,
                timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError, SystemExit):
            pass
        metrics = res["metrics"]

        log(f"scanning logdir {logdir}")
        scan = scan_logdir(logdir)
        res["logdir"] = {k: v for k, v in scan.items() if k != "runs"}
        res["logdir"]["runs"] = {r: {"bytes": v["bytes"], "files": v["files"],
                                     "scalar_tags": len(v["scalar_series"]),
                                     "histogram_tags": len(v["histogram_series"])}
                                 for r, v in scan["runs"].items()}
        if standin:
            res["logdir"]["standin"] = standin
        if not scan["runs"]:
            raise SystemExit(f"no event files under {logdir}")

        if "crc" in only:
            log("c. CRC-32C")
            for size, label in ((MIB, ""), ((4 if quick else 64) * MIB, f"_{4 if quick else 64}mib")):
                r = bench_crc(size, reps_micro, core, target_s=0.1 if quick else 0.4)
                metrics[f"crc32c_pkg{label}_gb_per_s"] = r["crc32c_pkg"]
                metrics[f"google_crc32c{label}_gb_per_s"] = r["google_crc32c"]

        if "scalar" in only:
            n = args.scalar_events or (5000 if quick else 50000)
            log(f"a. tensorboardX add_scalar x {n}")
            metrics["tensorboardx_add_scalar_events_per_s"] = bench_add_scalar(n, reps_micro, core)
            if core is not None:
                # Informational: tensorboardX hands every event to a writer
                # thread through a multiprocessing.Queue, so it gains from a
                # second core.
                metrics["tensorboardx_add_scalar_events_per_s_all_cores"] = bench_add_scalar(
                    n, reps_micro, None)

        if "histogram" in only:
            n = 100_000 if quick else 1_000_000
            log(f"b. tensorboardX add_histogram of {n} float32")
            metrics["tensorboardx_add_histogram_elements_per_s"] = bench_add_histogram(n, reps_micro, core)
            if not quick:
                log("b. tensorboardX add_histogram of 1e7 float32")
                metrics["tensorboardx_add_histogram_1e7_elements_per_s"] = bench_add_histogram(
                    10_000_000, min(reps_micro, 3), core, max_call_s=10.0)
                # The same sizes as the Swift benchmarks, so each is compared with its own size
                # (the anchor, 2.2e7 elements/s, was a 1e8 call).
                log("b. tensorboardX add_histogram of 1e5 float32")
                metrics["tensorboardx_add_histogram_1e5_elements_per_s"] = bench_add_histogram(
                    100_000, reps_micro, core)
                log("b. tensorboardX add_histogram of 1e8 float32")
                metrics["tensorboardx_add_histogram_1e8_elements_per_s"] = bench_add_histogram(
                    100_000_000, 3, core, max_call_s=60.0)

        if only & {"dataserver", "accumulator", "tbparse"}:
            res["logdir"]["page_cache_warmup_s"] = warm_page_cache(logdir)

        if "dataserver" in only:
            log(f"d. Rust data server x {reps_heavy} (each variant)")
            metrics.update(bench_data_server(logdir, scan, reps_heavy, core,
                                             args.server_timeout, args.samples_per_plugin))

        if only & {"accumulator", "tbparse"}:
            limit = int(limit_mb * MB) if limit_mb else None
            subset = make_subset(logdir, limit, workdir)
            if "accumulator" in only:
                log(f"e. EventAccumulator over {subset['bytes'] / MB:.1f} MB x {reps_heavy}")
                metrics["event_accumulator_mb_per_s"] = bench_event_accumulator(subset, reps_heavy, core)
            if "tbparse" in only:
                log(f"f. tbparse over {subset['bytes'] / MB:.1f} MB x {reps_heavy}")
                metrics["tbparse_mb_per_s"] = bench_tbparse(subset, reps_heavy, core)

        res["loadavg_at_end"] = loadavg()
        res["total_runtime_s"] = time.perf_counter() - t_start
        if args.out:
            with open(args.out, "w") as f:
                json.dump(res, f, indent=2, sort_keys=False)
                f.write("\n")
        print(human_summary(res))
        return 0
    finally:
        _kill_children()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
