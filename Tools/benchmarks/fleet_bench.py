#!/usr/bin/env python3
"""The watch benchmark (issue 16): `gradalert watch --metrics-listen` following a fleet-shaped
logdir (bench-fleet: 1,000 runs x 4 ranks), measured from outside the process.

  python3 Tools/benchmarks/fleet_bench.py --gradalert .build/release/gradalert --logdir /tmp/fleet

For each setting (per-layer metrics off, then --metrics-layers 10) it starts watch on the logdir
and reports:
  - catch-up: wall time until the first poll has read every file, the CPU it used, and
    CPU/wall (how many cores it kept busy);
  - an idle poll (nothing changed): CPU per poll, from the process's CPU time over several polls
    (gradalert_polls_total counts them);
  - a poll with one new step in every file: a whole step (12 scalars) appended to each of the
    4,000 files, continuing their steps (fleet.json, written by bench-fleet, counts them);
  - peak memory (VmHWM) and memory now (VmRSS);
  - GET /metrics: median time over 20 requests, and its size;
  - exit: time from SIGINT to exit, once while idle, once in the middle of a catch-up.
Prints the CPU model and flags first. Standard library only; Linux (/proc).
"""
import argparse
import json
import os
import platform
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.request

# ---- CRC-32C and the TFRecord framing, for appending records ----------------------------------
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def scalar_event(step, wall_time, tag, value):
    tag_bytes = tag.encode()
    summary_value = b"\x0a" + varint(len(tag_bytes)) + tag_bytes + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + varint(len(summary_value)) + summary_value
    return b"\x09" + struct.pack("<d", wall_time) + b"\x10" + varint(step) + b"\x2a" + varint(len(summary)) + summary


def record(data):
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked(crc32c(length))) + data + struct.pack("<I", masked(crc32c(data)))


# ---- the process ------------------------------------------------------------------------------
def cpu_description():
    model, flags = "unknown", set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = [f for f in ("sse4_2", "avx2", "avx512f", "pclmulqdq", "vpclmulqdq") if f in flags]
    return "%s, %d cores, %s, %s" % (model, os.cpu_count(), " ".join(wanted), platform.platform())


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def memory(pid):
    values = {}
    for line in open("/proc/%d/status" % pid):
        if line.startswith(("VmHWM", "VmRSS")):
            key, value = line.split(":", 1)
            values[key] = int(value.split()[0]) / 1024
    return values.get("VmHWM", 0), values.get("VmRSS", 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as response:
        return response.read()


def metric(body, name):
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def start(args, port, layers):
    command = [args.gradalert, "watch", args.logdir, "--interval", str(args.interval), "--format", "jsonl",
               "--metrics-listen", "127.0.0.1:%d" % port, "--metrics-layers", str(layers)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            scrape(port)
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("gradalert watch did not start serving metrics")


def wait_polls(port, count, timeout=600):
    """Waits until gradalert_polls_total reaches `count`; returns its value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        polls = metric(scrape(port), "gradalert_polls_total") or 0
        if polls >= count:
            return polls
        time.sleep(0.02)
    raise SystemExit("watch did not reach %d polls" % count)


def stop(process):
    began = time.time()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    return time.time() - began


def files(logdir):
    for root, _, names in os.walk(logdir):
        for name in sorted(names):
            if "tfevents" in name:
                yield os.path.join(root, name)


def append_step(logdir):
    """Appends one whole step (every tag bench-fleet writes) to every file, continuing its steps,
    and notes it in fleet.json, so the benchmark can run again on the same logdir: a step that
    went back would start a new segment (a restart) and change what is measured."""
    state_path = os.path.join(logdir, "fleet.json")
    with open(state_path) as handle:
        state = json.load(handle)
    step = state["steps"]
    now = time.time()
    count = 0
    for index, path in enumerate(files(logdir)):
        level = 0.5 + 0.1 * ((index + step) % 7)
        data = bytearray()
        squares = 0.0
        for layer in range(state["layers"]):
            norm = level * (layer + 1) / 10
            squares += norm * norm
            data += record(scalar_event(step, now, "grad_norm/layer%d.weight" % layer, norm))
        data += record(scalar_event(step, now, "grad_norm/global", squares ** 0.5))
        data += record(scalar_event(step, now, "loss", 2.0 / (step + 1) + 0.1))
        with open(path, "ab") as handle:
            handle.write(data)
        count += 1
    state["steps"] = step + 1
    with open(state_path, "w") as handle:
        json.dump(state, handle)
    return count


def measure(args, layers):
    port = free_port()
    process = start(args, port, layers)
    began = time.time()
    cpu0 = cpu_seconds(process.pid)
    wait_polls(port, 1)
    catch_up_wall = time.time() - began
    catch_up_cpu = cpu_seconds(process.pid) - cpu0
    runs = metric(scrape(port), "gradalert_runs")
    # What one scrape costs the process (measured, to take out of the poll figures below).
    cpu_s = cpu_seconds(process.pid)
    for _ in range(10):
        scrape(port)
    scrape_cpu = (cpu_seconds(process.pid) - cpu_s) / 10
    # Idle polls: nothing changes; no scrape in between (a scrape renders every series).
    first = wait_polls(port, 2)
    cpu1 = cpu_seconds(process.pid)
    time.sleep(args.idle_seconds)
    last = metric(scrape(port), "gradalert_polls_total")
    idle_cpu = (cpu_seconds(process.pid) - cpu1 - scrape_cpu) / (last - first)
    # One new step in every file, judged at the next poll.
    polls = metric(scrape(port), "gradalert_polls_total")
    appended = append_step(args.logdir)
    cpu2 = cpu_seconds(process.pid)
    time.sleep(3 * args.interval + 1)
    after = metric(scrape(port), "gradalert_polls_total")
    # The poll that read the new records, less the idle ones around it.
    busy_cpu = cpu_seconds(process.pid) - cpu2 - scrape_cpu - (after - polls - 1) * idle_cpu
    peak, rss = memory(process.pid)
    # /metrics
    times, size = [], 0
    for _ in range(20):
        t = time.perf_counter()
        size = len(scrape(port))
        times.append(time.perf_counter() - t)
    exit_idle = stop(process)
    return {
        "layers": layers, "runs": runs, "catch_up_wall_s": catch_up_wall, "catch_up_cpu_s": catch_up_cpu,
        "catch_up_cores": catch_up_cpu / catch_up_wall if catch_up_wall else None,
        "idle_poll_cpu_ms": idle_cpu * 1000, "new_step_poll_cpu_ms": busy_cpu * 1000, "files_appended": appended,
        "scrape_cpu_ms": scrape_cpu * 1000,
        "peak_mb": peak, "rss_mb": rss, "metrics_ms_median": statistics.median(times) * 1000,
        "metrics_bytes": size, "exit_after_sigint_idle_s": exit_idle,
    }


def exit_during_catch_up(args):
    port = free_port()
    process = start(args, port, 0)
    time.sleep(args.interrupt_after)
    return stop(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradalert", required=True)
    parser.add_argument("--logdir", required=True, help="a logdir written by bench-fleet")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--idle-seconds", type=float, default=10, help="how long to measure idle polls")
    parser.add_argument("--interrupt-after", type=float, default=1.0, help="seconds into a catch-up to send SIGINT")
    parser.add_argument("--out", help="also write the numbers as JSON")
    args = parser.parse_args()
    total = sum(os.path.getsize(path) for path in files(args.logdir))
    count = sum(1 for _ in files(args.logdir))
    print("cpu: %s" % cpu_description())
    print("logdir: %d files, %.0f MB" % (count, total / 1e6))
    results = {"cpu": cpu_description(), "files": count, "bytes": total, "settings": []}
    for layers in (0, 10):
        result = measure(args, layers)
        results["settings"].append(result)
        print(json.dumps(result, indent=1))
    results["exit_after_sigint_during_catch_up_s"] = exit_during_catch_up(args)
    print("exit after SIGINT during a catch-up: %.2f s" % results["exit_after_sigint_during_catch_up_s"])
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
