#!/usr/bin/env python3
"""The CPU a benchmark figure was measured on, from /proc/cpuinfo and sysfs.

A figure from another CPU is another figure: issue 19 found the statistics kernel several times
slower on an AMD EPYC without VPCLMULQDQ (a Zen 1/Zen 2 core) than on this project's Zen 4, while
both VMs call themselves "AMD EPYC". So every figure carries the CPU's family and model numbers
(which tell the cores apart where the model name does not), the flags the kernels choose their
paths by, the L1d size, and whether the logical CPUs are SMT siblings of one core (then "2 cores"
is one core, and two threads share its L1d).

    python3 Tools/benchmarks/cpuinfo.py          # JSON on stdout (run.sh saves it beside the results)

peers.py, interleaved.py (through peers.machine_info) and ratios.py use describe(); the C harness
(Tools/benchmarks/stats-c) and the Swift benchmarks print the same one-line tag.
"""

from __future__ import annotations

import json
import os

# The flags the kernels choose paths by (statistics: AVX2; CRC-32C: SSE4.2, PCLMULQDQ, VPCLMULQDQ).
INTERESTING_FLAGS = ("avx2", "avx512f", "pclmulqdq", "vpclmulqdq", "bmi2")


def amd_core(family: int, model: int) -> str:
    """AMD's core generation from CPUID family/model (the model name of a cloud VM often says only
    "AMD EPYC")."""
    if family == 0x17:
        return "Zen/Zen+" if model < 0x30 else "Zen 2"
    if family == 0x19:
        return "Zen 3" if model < 0x10 or 0x20 <= model < 0x60 else "Zen 4"
    if family == 0x1A:
        return "Zen 5"
    return ""


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return ""


def describe() -> dict:
    fields: dict[str, str] = {}
    logical = 0
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, colon, value = line.partition(":")
                if not colon:
                    continue
                key = key.strip()
                if key == "processor":
                    logical += 1
                if logical <= 1:  # the first processor describes them all
                    fields.setdefault(key, value.strip())
    except OSError:
        pass

    def number(key: str) -> int | None:
        try:
            return int(fields[key])
        except (KeyError, ValueError):
            return None

    family, model = number("cpu family"), number("model")
    flags = fields.get("flags", "").split()
    siblings, cores = number("siblings"), number("cpu cores")
    smt = bool(siblings and cores and siblings > cores)
    core = amd_core(family or 0, model or 0) if "AMD" in fields.get("vendor_id", "") else ""
    chosen = " ".join(flag for flag in INTERESTING_FLAGS if flag in flags)
    l1d = _read("/sys/devices/system/cpu/cpu0/cache/index0/size")
    name = fields.get("model name", "unknown CPU")
    tag = (f"{name}, family {family} model {model}{f' ({core})' if core else ''}, {chosen}, "
           f"L1d {l1d or '?'}, {'SMT' if smt else 'no SMT'}")
    short = f"{name} {family}/{model}{f' {core}' if core else ''}"
    return {
        "model_name": name,
        "vendor": fields.get("vendor_id"),
        "family": family,
        "model": model,
        "stepping": number("stepping"),
        "microarchitecture": core or None,
        "logical_cpus": logical,
        "siblings": siblings,
        "cores": cores,
        "smt": smt,
        "l1d": l1d or None,
        "l2": _read("/sys/devices/system/cpu/cpu0/cache/index2/size") or None,
        "flags": flags,
        "tag": tag,
        "short": short,
    }


if __name__ == "__main__":
    print(json.dumps(describe(), indent=2))
