#!/usr/bin/env python3
"""Check that a logdir reads back in TensorBoard exactly as its manifest says.

Usage:
    check_tensorboard.py LOGDIR MANIFEST.json [--timeout SECONDS] [--max-details N]
                                              [--skip-server]

Two independent TensorBoard read paths are checked against the manifest:

  A. TensorBoard's Python loader: one
     tensorboard.backend.event_processing.event_accumulator.EventAccumulator
     per run (size_guidance 0 = keep everything), plus TensorBoard's own
     TFRecord reader over every event file (CRC-checked).
  B. TensorBoard's Rust data server ("--load_fast=true"), queried over HTTP on
     127.0.0.1 through the same routes the TensorBoard frontend uses.

Exit status: 0 = everything matched, 1 = a mismatch (details printed),
2 = setup failure (bad arguments/manifest, missing packages, server did not
start or answer).

Manifest format (JSON):
  {"runs": {"<run, '/'-separated, relative to LOGDIR>": {
      "scalars":    {"<tag>": [[step, wall_time, value], ...]},
      "histograms": {"<tag>": [{"step":..,"wall_time":..,"min":..,"max":..,"num":..,
                                "sum":..,"sum_squares":..,"bucket_limit":[..],"bucket":[..]}]},
      "texts":      {"<tag>": [[step, wall_time, "text"], ...]},
      "images":     {"<tag>": [{"step":..,"wall_time":..,"width":..,"height":..,
                                "png_sha256":"hex"}]}}}}
  Floats may be the strings "NaN", "Infinity", "-Infinity".

See README.md next to this file for what is compared and the TensorBoard
quirks this accounts for.
"""

import argparse
import base64
import collections
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_SETUP = 2

PINNED_TENSORBOARD = "2.21.0"
PINNED_DATA_SERVER = "0.7.2"

# The histograms HTTP route always downsamples to this many samples
# (tensorboard/plugins/histogram/histograms_plugin.py, SAMPLE_SIZE = 51).
HISTOGRAM_ROUTE_SAMPLES = 51

# Logged by the Rust data server (tensorboard/data/server/cli.rs, at --verbose)
# when a full pass over the logdir is done and committed.
LOAD_DONE_MARKER = "Finished load cycle"


class SetupError(Exception):
    """Something other than a data mismatch went wrong (exit status 2)."""


# ---------------------------------------------------------------------------
# Float helpers
# ---------------------------------------------------------------------------

_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def same_float(a, b):
    """Exact equality: bit-identical doubles, except any NaN equals any NaN.

    Unlike ==, this distinguishes 0.0 from -0.0.
    """
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return struct.pack("<d", a) == struct.pack("<d", b)
    return False


def to_float32(x):
    """Rounds a double to the nearest float32 (IEEE round-to-nearest-even)."""
    if math.isnan(x) or math.isinf(x):
        return x
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        # Beyond float32 range: struct refuses, IEEE rounding gives +-inf
        # unless the value is within half an ulp of FLT_MAX.
        import numpy as np

        with np.errstate(over="ignore"):
            return float(np.float32(x))


def fmt(x):
    """Formats a value for a report, with the exact hex form for floats."""
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return repr(x)
        return "%r (%s)" % (x, x.hex())
    if isinstance(x, str) and len(x) > 200:
        return repr(x[:200]) + "...(%d chars)" % len(x)
    return repr(x)


def http_float(x):
    """Decodes a float from TensorBoard's JSON (json_util.Cleanse turns
    non-finite floats into strings)."""
    if isinstance(x, str) and x in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[x]
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    raise ValueError("not a number: %r" % (x,))


# ---------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------

KINDS = ("scalars", "histograms", "texts", "images")
HIST_FLOATS = ("min", "max", "num", "sum", "sum_squares")


def _m_float(x, where):
    if isinstance(x, str):
        if x in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[x]
        raise SetupError("manifest %s: bad float string %r" % (where, x))
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise SetupError("manifest %s: expected a number, got %r" % (where, x))
    return float(x)


def _m_int(x, where):
    if isinstance(x, bool) or not isinstance(x, int):
        raise SetupError("manifest %s: expected an integer, got %r" % (where, x))
    return x


def load_manifest(path):
    """Returns {run: {kind: {tag: [record dict, ...]}}} with floats decoded.

    Scalar values are rounded to float32 here, since that is what the event
    file can hold (Summary.Value.simple_value is a proto `float`).
    """
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise SetupError("cannot read manifest %s: %s" % (path, e))
    if not isinstance(raw, dict) or not isinstance(raw.get("runs"), dict):
        raise SetupError("manifest %s: top level must be {\"runs\": {...}}" % path)
    out = {}
    for run, kinds in raw["runs"].items():
        if not isinstance(kinds, dict):
            raise SetupError("manifest run %r: must be an object" % run)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise SetupError("manifest run %r: unknown keys %s" % (run, sorted(unknown)))
        r = out[run] = {k: {} for k in KINDS}
        for tag, pts in (kinds.get("scalars") or {}).items():
            recs = r["scalars"][tag] = []
            for i, p in enumerate(pts):
                w = "run %r scalars %r [%d]" % (run, tag, i)
                if not isinstance(p, list) or len(p) != 3:
                    raise SetupError("manifest %s: expected [step, wall_time, value]" % w)
                recs.append({"step": _m_int(p[0], w), "wall_time": _m_float(p[1], w),
                             "value": to_float32(_m_float(p[2], w))})
        for tag, hs in (kinds.get("histograms") or {}).items():
            recs = r["histograms"][tag] = []
            for i, h in enumerate(hs):
                w = "run %r histograms %r [%d]" % (run, tag, i)
                if not isinstance(h, dict):
                    raise SetupError("manifest %s: expected an object" % w)
                try:
                    rec = {"step": _m_int(h["step"], w), "wall_time": _m_float(h["wall_time"], w)}
                    for k in HIST_FLOATS:
                        rec[k] = _m_float(h[k], w + "." + k)
                    for k in ("bucket_limit", "bucket"):
                        rec[k] = [_m_float(x, w + "." + k) for x in h[k]]
                except KeyError as e:
                    raise SetupError("manifest %s: missing key %s" % (w, e))
                recs.append(rec)
        for tag, ts in (kinds.get("texts") or {}).items():
            recs = r["texts"][tag] = []
            for i, t in enumerate(ts):
                w = "run %r texts %r [%d]" % (run, tag, i)
                if not isinstance(t, list) or len(t) != 3 or not isinstance(t[2], str):
                    raise SetupError("manifest %s: expected [step, wall_time, \"text\"]" % w)
                recs.append({"step": _m_int(t[0], w), "wall_time": _m_float(t[1], w),
                             "text": t[2]})
        for tag, ims in (kinds.get("images") or {}).items():
            recs = r["images"][tag] = []
            for i, im in enumerate(ims):
                w = "run %r images %r [%d]" % (run, tag, i)
                try:
                    recs.append({"step": _m_int(im["step"], w),
                                 "wall_time": _m_float(im["wall_time"], w),
                                 "width": _m_int(im["width"], w),
                                 "height": _m_int(im["height"], w),
                                 "png_sha256": _png_sha256(im)})
                except (KeyError, TypeError) as e:
                    raise SetupError("manifest %s: bad image record (%s)" % (w, e))
        for kind in KINDS:  # a tag with no records cannot exist in an event file
            r[kind] = {t: recs for t, recs in r[kind].items() if recs}
    return out


def rust_view(records):
    """What the Rust data server keeps of a series written in this order.

    tensorboard/data/server/reservoir.rs: every new record at step s
    "preempts" (drops) all kept records with step >= s, so a repeated step
    keeps only its last record and a decreasing step discards the later
    ones. tensorboard/data/server/run.rs drops events whose wall_time is not
    finite. With an unbounded-enough reservoir nothing else is dropped.
    """
    out = []
    for rec in records:
        if not math.isfinite(rec["wall_time"]):
            continue
        while out and out[-1]["step"] >= rec["step"]:
            out.pop()
        out.append(rec)
    return out


def check_manifest_sanity(manifest, report):
    """Writer-contract checks on the manifest itself (things TensorBoard can't
    represent, or treats differently in its two loaders)."""
    report.section("M. manifest contents TensorBoard can represent", "M")
    failures = []
    n = 0
    for run in sorted(manifest):
        for kind in KINDS:
            for tag, recs in sorted(manifest[run][kind].items()):
                for r in recs:
                    n += 1
                    if not -(2 ** 63) <= r["step"] < 2 ** 63:
                        failures.append("%s (%s): step %d does not fit Event.step (int64)"
                                        % (where(run, tag), kind, r["step"]))
                    if math.isnan(r["wall_time"]):
                        failures.append("%s (%s) step %d: wall_time is NaN; the Rust data server "
                                        "stops reading the whole event file there (event_file.rs "
                                        "NanWallTime)" % (where(run, tag), kind, r["step"]))
                    elif math.isinf(r["wall_time"]):
                        failures.append("%s (%s) step %d: wall_time is infinite; the Rust data "
                                        "server drops the event (run.rs read_event)"
                                        % (where(run, tag), kind, r["step"]))
                if not steps_strictly_increase(recs):
                    report.note("%s (%s): steps are not strictly increasing; the Python loader keeps "
                                "every record, the Rust data server keeps only records not preempted "
                                "by a later record at the same or a lower step (reservoir.rs); both "
                                "are checked accordingly" % (where(run, tag), kind))
    report.check("steps fit int64, wall times finite", n, failures, what="records")


def steps_strictly_increase(records):
    return all(a["step"] < b["step"] for a, b in zip(records, records[1:]))


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

class Report:
    def __init__(self, max_details):
        self.max_details = max_details
        self.n_checks = 0
        self.n_failed = 0
        self.n_values = 0
        self.failed_names = []
        self.label = ""

    def section(self, title, label=None):
        """label: short prefix for this section's checks in the final summary."""
        self.label = label if label is not None else title.split(".")[0]
        print("\n== %s" % title, flush=True)

    def note(self, msg):
        print("   note: %s" % msg, flush=True)

    def check(self, name, n_values, failures, what="values", quiet_if_empty=False):
        if quiet_if_empty and n_values == 0 and not failures:
            return
        self.n_checks += 1
        self.n_values += n_values
        if failures:
            self.n_failed += 1
            self.failed_names.append("[%s] %s" % (self.label, name.split(" (")[0].split(":")[0]))
            print("   FAIL %s: %d problem(s) (%d %s compared)" % (name, len(failures), n_values, what))
            for msg in failures[: self.max_details]:
                print("        - %s" % msg)
            if len(failures) > self.max_details:
                print("        ... and %d more" % (len(failures) - self.max_details))
        else:
            print("   ok   %s: %d %s compared" % (name, n_values, what))
        sys.stdout.flush()


# ---------------------------------------------------------------------------
# Generic record comparison
# ---------------------------------------------------------------------------

def _cmp_field(kind, e, a):
    """Returns None if equal, else a short description of the difference."""
    if kind == "float":
        if not isinstance(a, float) or not same_float(e, a):
            return "expected %s, actual %s" % (fmt(e), fmt(a))
    elif kind == "floats":
        if len(e) != len(a):
            return "expected %d entries, actual %d: expected %s, actual %s" % (
                len(e), len(a), fmt(e), fmt(a))
        for i, (x, y) in enumerate(zip(e, a)):
            if not isinstance(y, float) or not same_float(x, y):
                return "first difference at [%d]: expected %s, actual %s" % (i, fmt(x), fmt(y))
    elif kind == "triples":  # list of [left, right, count]
        if len(e) != len(a):
            return "expected %d buckets, actual %d: expected %s, actual %s" % (
                len(e), len(a), e, a)
        for i, (x, y) in enumerate(zip(e, a)):
            for j, name in enumerate(("left", "right", "count")):
                if not same_float(x[j], y[j]):
                    return "bucket[%d].%s: expected %s, actual %s (expected bucket %s, actual %s)" % (
                        i, name, fmt(x[j]), fmt(y[j]), x, y)
    else:
        if type(e) is not type(a) or e != a:
            return "expected %s, actual %s" % (fmt(e), fmt(a))
    return None


def compare_series(where, expected, actual, fields):
    """Compares two lists of record dicts (each with "step").

    fields: [(name, kind)], kind in {"int", "float", "floats", "triples", "str"}.
    Returns (number of values compared, [failure messages]).
    """
    failures = []
    n = 0
    e_steps = [r["step"] for r in expected]
    a_steps = [r["step"] for r in actual]
    if e_steps == a_steps:
        pairs = list(zip(expected, actual))
    else:
        ce, ca = collections.Counter(e_steps), collections.Counter(a_steps)
        missing = sorted((ce - ca).elements())
        extra = sorted((ca - ce).elements())
        if missing:
            failures.append("%s: %d expected record(s) missing, at steps %s%s" % (
                where, len(missing), missing[:10], " ..." if len(missing) > 10 else ""))
        if extra:
            failures.append("%s: %d unexpected record(s), at steps %s%s" % (
                where, len(extra), extra[:10], " ..." if len(extra) > 10 else ""))
        if not missing and not extra:
            failures.append("%s: same steps but in a different order (expected %s..., actual %s...)"
                            % (where, e_steps[:10], a_steps[:10]))
        # Pair the k-th occurrence of each step on both sides.
        by_step = collections.defaultdict(list)
        for r in actual:
            by_step[r["step"]].append(r)
        pairs = []
        seen = collections.Counter()
        for r in expected:
            k = seen[r["step"]]
            seen[r["step"]] += 1
            if k < len(by_step[r["step"]]):
                pairs.append((r, by_step[r["step"]][k]))
        failures.append("%s: expected %d records, actual %d" % (where, len(expected), len(actual)))
    for e, a in pairs:
        for name, kind in fields:
            n += 1
            diff = _cmp_field(kind, e[name], a[name])
            if diff is not None:
                failures.append("%s step %d: %s %s" % (where, e["step"], name, diff))
    return n, failures


SCALAR_FIELDS = [("step", "int"), ("wall_time", "float"), ("value", "float")]
HIST_FIELDS = ([("step", "int"), ("wall_time", "float")] + [(k, "float") for k in HIST_FLOATS]
               + [("bucket_limit", "floats"), ("bucket", "floats")])
TEXT_FIELDS = [("step", "int"), ("wall_time", "float"), ("text", "str")]
IMAGE_FIELDS = [("step", "int"), ("wall_time", "float"), ("width", "int"), ("height", "int"),
                ("png_sha256", "str")]


def _png_sha256(im):
    """The manifest gives an image as png_sha256 (hex) or as png_base64 (the bytes themselves)."""
    if "png_sha256" in im:
        return str(im["png_sha256"]).lower()
    return hashlib.sha256(base64.b64decode(im["png_base64"], validate=True)).hexdigest()


def where(run, tag):
    return "run %r tag %r" % (run, tag)


# ---------------------------------------------------------------------------
# Part A: TensorBoard's Python loading path
# ---------------------------------------------------------------------------

def list_event_files(logdir):
    """Event files the way both loaders find them: '*tfevents*' basenames."""
    out = []
    for dirpath, _, filenames in os.walk(logdir, followlinks=True):
        for fn in sorted(filenames):
            if "tfevents" in fn:
                out.append(os.path.join(dirpath, fn))
    return sorted(out)


def count_framed_records(path):
    """Counts TFRecord frames by their length fields only (no CRC check).

    Returns (count, problem or None).
    """
    size = os.path.getsize(path)
    n = 0
    pos = 0
    with open(path, "rb") as f:
        while pos < size:
            header = f.read(12)
            if len(header) < 12:
                return n, "truncated record header at byte %d" % pos
            (length,) = struct.unpack("<Q", header[:8])
            end = pos + 12 + length + 4
            if end > size:
                return n, "record at byte %d claims %d bytes, past end of file" % (pos, length)
            f.seek(end)
            pos = end
            n += 1
    return n, None


@contextlib.contextmanager
def captured_warnings(logger_name="tensorboard"):
    """Collects WARNING+ log records emitted by TensorBoard's loaders."""
    records = []

    class H(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    h = H(level=logging.WARNING)
    lg = logging.getLogger(logger_name)
    lg.addHandler(h)
    try:
        yield records
    finally:
        lg.removeHandler(h)


def check_python_path(logdir, manifest, report):
    """Part A. Returns per-run info the HTTP part reuses (text tensor shapes)."""
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.backend.event_processing import io_wrapper
    from tensorboard.compat.proto import event_pb2
    from tensorboard.util import tensor_util

    info = {"text_shapes": {}}

    # --- A0: record framing + TensorBoard's CRC-checked reader, per file ---
    report.section("A0. event files: TFRecord framing and TensorBoard's record reader")
    files = list_event_files(logdir)
    failures = []
    n_records = 0
    no_version = []
    for path in files:
        rel = os.path.relpath(path, logdir)
        framed, problem = count_framed_records(path)
        if problem:
            failures.append("%s: %s (after %d whole records)" % (rel, problem, framed))
        tb_records = 0
        first = None
        for rec in event_file_loader.RawEventFileLoader(path).Load():
            if first is None:
                first = rec
            tb_records += 1
        n_records += tb_records
        if tb_records != framed:
            failures.append(
                "%s: TensorBoard's reader (CRC-checked) stopped after %d of %d records; "
                "it silently ignores the rest (bad CRC or truncation at record #%d)"
                % (rel, tb_records, framed, tb_records))
        if first is not None:
            try:
                ev = event_pb2.Event.FromString(first)
            except Exception as e:  # google.protobuf.message.DecodeError
                failures.append("%s: first record is not an Event proto (%s)" % (rel, e))
                continue
            if ev.WhichOneof("what") != "file_version" or ev.file_version != "brain.Event:2":
                no_version.append(rel)
    report.check("%d event file(s) read to the end by TensorBoard's TFRecord reader" % len(files),
                 n_records, failures, what="records")
    if not files:
        report.check("event files present", 0, ["no '*tfevents*' file under %s" % logdir])
    if no_version:
        report.note("first record is not file_version \"brain.Event:2\" in: %s" % no_version)

    # --- A1: run discovery (as EventMultiplexer.AddRunsFromDirectory does) ---
    report.section("A1. runs discovered by TensorBoard's Python loader")
    found = {}
    for subdir in io_wrapper.GetLogdirSubdirectories(logdir):
        name = os.path.relpath(subdir, logdir).replace(os.sep, "/")
        found[name] = subdir
    failures = []
    for run in sorted(set(manifest) - set(found)):
        failures.append("run %r in manifest but not found in logdir" % run)
    for run in sorted(set(found) - set(manifest)):
        failures.append("run %r found in logdir but not in manifest" % run)
    report.check("runs: manifest %s vs found %s" % (sorted(manifest), sorted(found)),
                 len(found), failures, what="runs")

    # --- A2: every run through EventAccumulator ---
    size_guidance = {k: 0 for k in ea.STORE_EVERYTHING_SIZE_GUIDANCE}
    for kind in ("images", "audio", "histograms", "scalars", "distributions", "tensors"):
        size_guidance[kind] = 0
    for run in sorted(manifest):
        if run not in found:
            continue
        exp = manifest[run]
        report.section("A2. EventAccumulator: run %r" % run, "A2 %s" % run)
        acc = ea.EventAccumulator(found[run], size_guidance=size_guidance)
        with captured_warnings() as warnings:
            try:
                acc.Reload()
            except Exception as e:  # e.g. a record that is not an Event proto
                report.check("EventAccumulator.Reload()", 0, ["raised %s: %s" % (type(e).__name__, e)])
                continue
        for msg in warnings:
            report.note("TensorBoard logged a warning while loading: %s" % msg)

        if hasattr(acc, "file_version"):
            fv = acc.file_version
            report.check("file_version record (accumulator.file_version == 2.0, i.e. \"brain.Event:2\")",
                         1, [] if fv == 2.0 else ["accumulator.file_version is %r" % (fv,)])
        else:
            report.note("this EventAccumulator has no file_version attribute; check skipped")

        tags = acc.Tags()
        tensor_tags = set(tags.get(ea.TENSORS, []))

        def plugin_of(tag):
            try:
                return acc.SummaryMetadata(tag).plugin_data.plugin_name
            except KeyError:
                return ""

        tensor_by_plugin = collections.defaultdict(set)
        for t in tensor_tags:
            tensor_by_plugin[plugin_of(t)].add(t)

        # Scalars: legacy simple_value summaries land in acc.Scalars(); rank-0
        # float tensors with plugin "scalars" (TF2 style) land in Tensors().
        scalar_tags = set(tags.get(ea.SCALARS, []))
        tensor_scalar_tags = tensor_by_plugin.pop("scalars", set())
        failures, n = [], 0
        for tag in sorted(set(exp["scalars"]) - scalar_tags - tensor_scalar_tags):
            failures.append("%s: scalar tag missing" % where(run, tag))
        for tag in sorted((scalar_tags | tensor_scalar_tags) - set(exp["scalars"])):
            failures.append("%s: scalar tag not in manifest" % where(run, tag))
        for tag in sorted(exp["scalars"]):
            if tag in scalar_tags:
                actual = [{"step": e.step, "wall_time": float(e.wall_time), "value": float(e.value)}
                          for e in acc.Scalars(tag)]
            elif tag in tensor_scalar_tags:
                report.note("scalar tag %r is stored as a tensor summary (plugin 'scalars')" % tag)
                actual = []
                for e in acc.Tensors(tag):
                    arr = tensor_util.make_ndarray(e.tensor_proto)
                    if arr.size != 1:
                        failures.append("%s step %d: scalar tensor has shape %s" % (
                            where(run, tag), e.step, arr.shape))
                        continue
                    actual.append({"step": e.step, "wall_time": float(e.wall_time),
                                   "value": float(arr.reshape(()))})
            else:
                continue
            k, f = compare_series(where(run, tag), exp["scalars"][tag], actual, SCALAR_FIELDS)
            n += k
            failures += f
        report.check("scalars (%d tags: step, wall_time, float32 value)" % len(exp["scalars"]),
                     n, failures, quiet_if_empty=True)

        # Histograms (legacy HistogramProto summaries).
        hist_tags = set(tags.get(ea.HISTOGRAMS, []))
        tensor_hist_tags = tensor_by_plugin.pop("histograms", set())
        failures, n = [], 0
        for tag in sorted(set(exp["histograms"]) - hist_tags):
            extra = " (found as a tensor summary with plugin 'histograms'; the manifest " \
                    "describes legacy HistogramProto values)" if tag in tensor_hist_tags else ""
            failures.append("%s: histogram tag missing%s" % (where(run, tag), extra))
        for tag in sorted((hist_tags | tensor_hist_tags) - set(exp["histograms"])):
            failures.append("%s: histogram tag not in manifest" % where(run, tag))
        for tag in sorted(set(exp["histograms"]) & hist_tags):
            actual = []
            for e in acc.Histograms(tag):
                h = e.histogram_value
                actual.append({"step": e.step, "wall_time": float(e.wall_time),
                               "min": h.min, "max": h.max, "num": h.num, "sum": h.sum,
                               "sum_squares": h.sum_squares,
                               "bucket_limit": [float(x) for x in h.bucket_limit],
                               "bucket": [float(x) for x in h.bucket]})
            k, f = compare_series(where(run, tag), exp["histograms"][tag], actual, HIST_FIELDS)
            n += k
            failures += f
        report.check("histograms (%d tags: step, wall_time, min, max, num, sum, sum_squares, "
                     "bucket_limit, bucket)" % len(exp["histograms"]), n, failures, quiet_if_empty=True)

        # Text: string tensors with plugin "text", one string per step.
        text_tags = tensor_by_plugin.pop("text", set())
        failures, n = [], 0
        for tag in sorted(set(exp["texts"]) - text_tags):
            failures.append("%s: text tag missing" % where(run, tag))
        for tag in sorted(text_tags - set(exp["texts"])):
            failures.append("%s: text tag not in manifest" % where(run, tag))
        for tag in sorted(set(exp["texts"]) & text_tags):
            actual = []
            shapes = info["text_shapes"].setdefault((run, tag), {})
            for e in acc.Tensors(tag):
                arr = tensor_util.make_ndarray(e.tensor_proto)
                shapes[e.step] = arr.shape
                if arr.size != 1:
                    failures.append("%s step %d: text tensor has shape %s, expected one string"
                                    % (where(run, tag), e.step, arr.shape))
                    continue
                raw = arr.reshape(-1)[0]
                try:
                    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                except UnicodeDecodeError as ex:
                    failures.append("%s step %d: text is not UTF-8 (%s)" % (where(run, tag), e.step, ex))
                    continue
                actual.append({"step": e.step, "wall_time": float(e.wall_time), "text": text})
            k, f = compare_series(where(run, tag), exp["texts"][tag], actual, TEXT_FIELDS)
            n += k
            failures += f
        report.check("texts (%d tags: step, wall_time, exact text)" % len(exp["texts"]), n, failures,
                     quiet_if_empty=True)

        # Images: legacy Summary.Image (or TF2-style string tensors, plugin "images").
        image_tags = set(tags.get(ea.IMAGES, []))
        tensor_image_tags = tensor_by_plugin.pop("images", set())
        failures, n = [], 0
        for tag in sorted(set(exp["images"]) - image_tags - tensor_image_tags):
            failures.append("%s: image tag missing" % where(run, tag))
        for tag in sorted((image_tags | tensor_image_tags) - set(exp["images"])):
            failures.append("%s: image tag not in manifest" % where(run, tag))
        for tag in sorted(exp["images"]):
            actual = []
            if tag in image_tags:
                for e in acc.Images(tag):
                    actual.append({"step": e.step, "wall_time": float(e.wall_time),
                                   "width": e.width, "height": e.height,
                                   "png_sha256": hashlib.sha256(e.encoded_image_string).hexdigest()})
            elif tag in tensor_image_tags:
                report.note("image tag %r is stored as a tensor summary (plugin 'images')" % tag)
                for e in acc.Tensors(tag):
                    sv = list(e.tensor_proto.string_val)
                    if len(sv) != 3:
                        failures.append("%s step %d: image tensor holds %d strings, expected 3 "
                                        "(width, height, one image)" % (where(run, tag), e.step, len(sv)))
                        continue
                    actual.append({"step": e.step, "wall_time": float(e.wall_time),
                                   "width": int(sv[0]), "height": int(sv[1]),
                                   "png_sha256": hashlib.sha256(sv[2]).hexdigest()})
            else:
                continue
            k, f = compare_series(where(run, tag), exp["images"][tag], actual, IMAGE_FIELDS)
            n += k
            failures += f
        report.check("images (%d tags: step, wall_time, width, height, sha256 of encoded bytes)"
                     % len(exp["images"]), n, failures, quiet_if_empty=True)

        # Anything else in the run is not described by the manifest.
        failures = []
        for plugin, ts in sorted(tensor_by_plugin.items()):
            for t in sorted(ts):
                failures.append("tensor tag %r (plugin %r) not in manifest" % (t, plugin))
        for key in (ea.AUDIO, ea.RUN_METADATA):
            for t in tags.get(key, []):
                failures.append("%s tag %r not in manifest" % (key, t))
        for key in (ea.GRAPH, ea.META_GRAPH):
            if tags.get(key):
                failures.append("run has a %s, not in manifest" % key)
        report.check("no data beyond the manifest (other tensors, audio, graphs, run metadata)",
                     0, failures)
    return info


# ---------------------------------------------------------------------------
# Part B: TensorBoard with the Rust data server, over HTTP
# ---------------------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpError(Exception):
    pass


class TensorBoardServer:
    """`tensorboard --load_fast=true` as a child process on 127.0.0.1."""

    def __init__(self, logdir, samples_per_plugin, workdir):
        self.logdir = logdir
        self.samples_per_plugin = samples_per_plugin
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(workdir, "tensorboard.stderr")
        self.stdout_path = os.path.join(workdir, "tensorboard.stdout")
        self.cmd = None

    def start(self):
        self.port = free_port()
        spp = ",".join("%s=%d" % kv for kv in sorted(self.samples_per_plugin.items()))
        self.cmd = [
            sys.executable, "-m", "tensorboard.main",
            "--logdir", self.logdir,
            "--load_fast=true",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            # 0 => the data server loads the logdir exactly once
            # (server_ingester.py passes --reload=once).
            "--reload_interval", "0",
            "--samples_per_plugin", spp,
            # --checksum: verify every record's CRC (off by default in the Rust
            # server); --verbose: log "Finished load cycle" so we know when
            # loading is complete.
            "--extra_data_server_flags=--checksum --verbose",
        ]
        env = dict(os.environ)
        env.pop("TENSORBOARD_DATA_SERVER_BINARY", None)  # use the pinned wheel's binary
        env["PYTHONUNBUFFERED"] = "1"
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, env=env, start_new_session=True)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, n=40):
        lines = self.stderr_text().splitlines()
        return "\n".join("        | " + l for l in lines[-n:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def returncode(self):
        return None if self.proc is None else self.proc.returncode

    def _group_members(self):
        """pids still in the child's process group (it leads its own group)."""
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    fields = f.read().decode("utf-8", "replace").rsplit(")", 1)[1].split()
                if int(fields[2]) == self.proc.pid:
                    pids.append(int(name))
            except (OSError, ValueError, IndexError):
                continue
        return pids

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # TensorBoard leads its own process group (start_new_session), which
            # also holds the data server it spawned; while the leader is alive
            # the group id cannot be reused, so signalling the group is safe.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=5.0)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Anything of ours left in the group (e.g. the data server, if
        # TensorBoard died first) is killed by pid.
        for _ in range(50):
            left = self._group_members()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for f in (self._out, self._err):
            f.close()
        self.proc = None

    def children(self):
        """(pid, cmdline) of processes whose parent is the TensorBoard process."""
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read().decode("utf-8", "replace")
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid != self.proc.pid:
                    continue
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
                out.append((int(name), cmdline.strip()))
            except (OSError, ValueError, IndexError):
                continue
        return out

    def url(self, path, params=None):
        u = "http://127.0.0.1:%d%s" % (self.port, path)
        if params:
            u += "?" + urllib.parse.urlencode(params)
        return u

    def get_raw(self, path, params=None, timeout=20):
        u = self.url(path, params)
        try:
            with urllib.request.urlopen(u, timeout=timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            body = e.read()[:300].decode("utf-8", "replace")
            raise HttpError("GET %s -> HTTP %d: %s" % (path, e.code, body))
        except (urllib.error.URLError, OSError) as e:
            raise HttpError("GET %s failed: %s" % (path, e))

    def get_json(self, path, params=None, timeout=20):
        data = self.get_raw(path, params, timeout)
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError as e:
            raise HttpError("GET %s: response is not JSON (%s): %r" % (path, e, data[:200]))


def samples_per_plugin_for(manifest):
    """Sample limits large enough that nothing is sampled away.

    Never 0: "scalars=0" is turned into "all" for the data server but the
    scalars plugin itself then asks for downsample=0, which returns nothing
    (core_plugin.py / server_ingester.py vs scalars_plugin.py).
    """
    def most(kind):
        return max([len(v) for r in manifest.values() for v in r[kind].values()] or [0])
    return {
        "scalars": max(100000, most("scalars")),
        "histograms": max(100000, most("histograms")),
        "images": max(100, most("images")),
        "text": max(100000, most("texts")),
    }


def wait_until_loaded(srv, manifest, expected, deadline, report):
    """Waits for the web server to answer, then for the data server to finish
    loading. Returns True if loading is known to be complete."""
    t0 = time.time()
    # 1. Web server up.
    while True:
        if not srv.alive():
            raise SetupError("tensorboard exited with status %s before serving:\n%s"
                             % (srv.returncode(), srv.stderr_tail()))
        try:
            srv.get_json("/data/runs", timeout=5)
            break
        except HttpError:
            pass
        if time.time() > deadline:
            raise SetupError("tensorboard did not answer on 127.0.0.1:%d within the timeout:\n%s"
                             % (srv.port, srv.stderr_tail()))
        time.sleep(0.25)
    report.note("web server answered after %.1f s" % (time.time() - t0))

    # 2. Data loaded: the data server logs LOAD_DONE_MARKER after a full,
    # committed pass over the logdir. As a fallback (e.g. if the log format
    # ever changes) also accept "all runs present with all scalar points".
    last_poll = 0.0
    while time.time() < deadline:
        if not srv.alive():
            raise SetupError("tensorboard exited with status %s while loading:\n%s"
                             % (srv.returncode(), srv.stderr_tail()))
        if LOAD_DONE_MARKER in srv.stderr_text():
            report.note("data server reported %r after %.1f s" % (LOAD_DONE_MARKER, time.time() - t0))
            return True
        if time.time() - last_poll > 2.0:
            last_poll = time.time()
            try:
                if counts_complete(srv, manifest, expected):
                    report.note("all runs and scalar points present after %.1f s" % (time.time() - t0))
                    return True
            except HttpError:
                pass
        time.sleep(0.2)
    report.note("timed out waiting for the data server to finish loading; comparing what it has")
    return False


def counts_complete(srv, manifest, expected):
    runs = srv.get_json("/data/runs", timeout=5)
    if not set(manifest) <= set(runs):
        return False
    for run in manifest:
        for tag, recs in expected[run]["scalars"].items():
            pts = srv.get_json("/data/plugin/scalars/scalars", {"run": run, "tag": tag}, timeout=5)
            if len(pts) != len(recs):
                return False
    return True


def decode_blob_key(key):
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    return json.loads(raw.decode("utf-8"))


def encode_blob_key(parts):
    raw = json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def legacy_histogram_to_triples(h):
    """TensorBoard's conversion of a HistogramProto for the histograms plugin
    (tensorboard/data/server/data_compat.rs, EventValue::into_tensor, same as
    tensorboard/data_compat.py): bucket i spans [left_i, right_i] where
    left_0 = min, left_i = bucket_limit[i-1], right_i = bucket_limit[i] and
    the last right edge is replaced by max. The count is bucket[i].

    Returns None if TensorBoard would drop the value (unequal array lengths).
    """
    lim, cnt = h["bucket_limit"], h["bucket"]
    if len(lim) != len(cnt):
        return None
    if not cnt:
        return []
    lefts = [h["min"]] + lim[:-1]
    rights = lim[:-1] + [h["max"]]
    return [[l, r, c] for l, r, c in zip(lefts, rights, cnt)]


def check_http_path(logdir, manifest, info, timeout, report):
    from tensorboard.plugins.text import text_plugin
    import numpy as np

    expected = {run: {kind: {tag: rust_view(recs) for tag, recs in kinds[kind].items()}
                      for kind in KINDS} for run, kinds in manifest.items()}
    workdir = tempfile.mkdtemp(prefix="check_tensorboard_")
    srv = TensorBoardServer(os.path.abspath(logdir), samples_per_plugin_for(manifest), workdir)
    report.section("B0. start TensorBoard with the Rust data server")
    for run in sorted(manifest):
        for kind in KINDS:
            for tag, recs in manifest[run][kind].items():
                if len(expected[run][kind][tag]) != len(recs):
                    report.note("%s (%s): the Rust data server keeps %d of %d records (repeated/"
                                "decreasing steps are preempted, reservoir.rs; non-finite wall "
                                "times are dropped, run.rs)" % (where(run, tag), kind,
                                                                len(expected[run][kind][tag]), len(recs)))

    t_start = time.time()
    ok = False
    try:
        for attempt in range(3):
            srv.start()
            print("   $ tensorboard %s" % " ".join(shlex.quote(c) for c in srv.cmd[3:]))
            try:
                loaded = wait_until_loaded(srv, manifest, expected, t_start + timeout, report)
                break
            except SetupError:
                if attempt < 2 and "could not bind" in srv.stderr_text().lower():
                    srv.stop()
                    report.note("port %d was taken; retrying on another port" % srv.port)
                    continue
                raise
        kids = srv.children()
        data_servers = [c for c in kids if "tensorboard_data_server" in c[1]]
        if not data_servers:
            raise SetupError("no tensorboard_data_server child process found (children: %s)" % kids)
        report.note("data server process: %s" % data_servers[0][1])
        # The data server logs its gRPC port at --verbose (cli.rs); TensorBoard
        # deletes the port file right after reading it.
        m = re.search(r'Wrote port "(\d+)"', srv.stderr_text())
        grpc_addr = "localhost:%s" % m.group(1) if m else None
        if not loaded:
            report.note("loading did not finish within %d s" % timeout)

        _http_checks(srv, manifest, expected, info, report, text_plugin, np, grpc_addr)
        ok = report.n_failed == 0
    finally:
        srv.stop()
        if not ok:
            tail = srv.stderr_tail()
            if tail:
                print("\n   tensorboard stderr (last lines):\n%s" % tail)
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
            report.note("tensorboard stopped; server phase took %.1f s" % (time.time() - t_start))
        else:
            report.note("tensorboard stopped; server phase took %.1f s; full log kept in %s"
                        % (time.time() - t_start, srv.stderr_path))


def check_grpc_histograms(addr, manifest, expected, report):
    """Every histogram step, straight from the data server.

    The HTTP route caps histograms at 51 samples, so to see all of them we
    ask the data server the way TensorBoard's web server does (ReadTensors
    through tensorboard.data.grpc_provider), just with a larger downsample.
    """
    n_series = sum(len(expected[r]["histograms"]) for r in manifest)
    if not n_series:
        return
    report.section("B3b. histograms, all steps (data server ReadTensors over gRPC, as "
                   "TensorBoard's web server calls it)", "B3b")
    if addr is None:
        report.check("data server address", 0, ["could not find the data server's port file"])
        return
    import grpc
    from tensorboard import context as tb_context
    from tensorboard.data import grpc_provider, provider

    channel = grpc.insecure_channel(addr, options=[("grpc.max_receive_message_length", 256 << 20)])
    try:
        dp = grpc_provider.GrpcDataProvider(addr, grpc_provider.make_stub(channel))
        failures, n = [], 0
        for run in sorted(manifest):
            for tag, recs in sorted(expected[run]["histograms"].items()):
                w = where(run, tag)
                want = [dict(r, triples=legacy_histogram_to_triples(r)) for r in recs
                        if legacy_histogram_to_triples(r) is not None]
                try:
                    res = dp.read_tensors(tb_context.RequestContext(), experiment_id="",
                                          plugin_name="histograms", downsample=len(recs) + 1,
                                          run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]))
                except Exception as e:  # grpc / tensorboard.errors
                    failures.append("%s: ReadTensors failed: %s" % (w, e))
                    continue
                series = res.get(run, {}).get(tag, [])
                actual = [{"step": d.step, "wall_time": float(d.wall_time),
                           "triples": [[float(x) for x in row] for row in d.numpy.tolist()]}
                          for d in series]
                k, f = compare_series(w, want, actual, [("step", "int"), ("wall_time", "float"),
                                                        ("triples", "triples")])
                n += k + sum(3 * len(r["triples"]) for r in want)
                failures += f
        report.check("histograms (%d series, every step: step, wall_time, [left, right, count] "
                     "buckets)" % n_series, n, failures)
    finally:
        channel.close()


def _http_checks(srv, manifest, expected, info, report, text_plugin, np, grpc_addr):
    def guarded(name, fn):
        try:
            fn()
        except HttpError as e:
            report.check(name, 0, [str(e)])

    # --- runs ---
    report.section("B1. runs (/data/runs)")

    def runs():
        got = srv.get_json("/data/runs")
        failures = []
        for r in sorted(set(manifest) - set(got)):
            failures.append("run %r in manifest but not listed" % r)
        for r in sorted(set(got) - set(manifest)):
            failures.append("run %r listed but not in manifest" % r)
        report.check("runs listed: %s" % got, len(got), failures, what="runs")
    guarded("runs", runs)

    def tag_index(plugin, kind):
        """Compares a plugin's /tags route with the manifest's tags."""
        got = srv.get_json("/data/plugin/%s/tags" % plugin)
        failures = []
        n = 0
        for run in sorted(manifest):
            want = set(manifest[run][kind])
            have = set(got.get(run, {}) or {})
            n += len(have)
            for t in sorted(want - have):
                failures.append("%s: tag not listed" % where(run, t))
            for t in sorted(have - want):
                failures.append("%s: tag listed but not in manifest" % where(run, t))
        for run in sorted(set(got) - set(manifest)):
            if got[run]:
                failures.append("run %r (not in manifest) has %s tags %s" % (run, plugin, got[run]))
        report.check("/data/plugin/%s/tags" % plugin, n, failures, what="tags")
        return got

    # --- scalars ---
    report.section("B2. scalars (/data/plugin/scalars/scalars): every point")

    def scalars():
        tag_index("scalars", "scalars")
        failures, n = [], 0
        n_series = 0
        for run in sorted(manifest):
            for tag, recs in sorted(expected[run]["scalars"].items()):
                n_series += 1
                try:
                    pts = srv.get_json("/data/plugin/scalars/scalars", {"run": run, "tag": tag})
                except HttpError as e:
                    failures.append("%s: %s" % (where(run, tag), e))
                    continue
                actual = [{"wall_time": http_float(p[0]), "step": p[1], "value": http_float(p[2])}
                          for p in pts]
                k, f = compare_series(where(run, tag), recs, actual, SCALAR_FIELDS)
                n += k
                failures += f
        report.check("scalars (%d series: step, wall_time, float32 value)" % n_series, n, failures)
    guarded("scalars", scalars)

    # --- histograms ---
    report.section("B3. histograms (/data/plugin/histograms/histograms): returned samples")

    def histograms():
        tag_index("histograms", "histograms")
        failures, n = [], 0
        n_series = 0
        for run in sorted(manifest):
            for tag, recs in sorted(expected[run]["histograms"].items()):
                n_series += 1
                w = where(run, tag)
                kept = [r for r in recs if legacy_histogram_to_triples(r) is not None]
                if len(kept) != len(recs):
                    report.note("%s: %d histogram(s) have len(bucket) != len(bucket_limit); "
                                "TensorBoard drops those (data_compat.rs)" % (w, len(recs) - len(kept)))
                try:
                    got = srv.get_json("/data/plugin/histograms/histograms", {"run": run, "tag": tag})
                except HttpError as e:
                    failures.append("%s: %s" % (w, e))
                    continue
                want_n = min(HISTOGRAM_ROUTE_SAMPLES, len(kept))
                if len(got) != want_n:
                    failures.append("%s: %d samples returned, expected min(%d, %d) = %d" % (
                        w, len(got), HISTOGRAM_ROUTE_SAMPLES, len(kept), want_n))
                steps = [g[1] for g in got]
                if steps != sorted(set(steps)):
                    failures.append("%s: returned steps not strictly increasing: %s" % (w, steps[:20]))
                if kept and (not steps or steps[-1] != kept[-1]["step"]):
                    failures.append("%s: last step %s not returned (TensorBoard always keeps the "
                                    "last sample); returned %s" % (w, kept[-1]["step"], steps[-5:]))
                by_step = {r["step"]: r for r in kept}
                for wall_time, step, buckets in got:
                    e = by_step.get(step)
                    if e is None:
                        failures.append("%s: returned step %d is not in the manifest" % (w, step))
                        continue
                    n += 2
                    d = _cmp_field("float", e["wall_time"], http_float(wall_time))
                    if d:
                        failures.append("%s step %d: wall_time %s" % (w, step, d))
                    actual = [[http_float(x) for x in b] for b in buckets]
                    want = legacy_histogram_to_triples(e)
                    n += 3 * len(want)
                    d = _cmp_field("triples", want, actual)
                    if d:
                        failures.append("%s step %d: [left, right, count] %s" % (w, step, d))
        report.check("histograms (%d series, at most %d samples each: step, wall_time, "
                     "[left, right, count] buckets)" % (n_series, HISTOGRAM_ROUTE_SAMPLES), n, failures)
    guarded("histograms", histograms)
    check_grpc_histograms(grpc_addr, manifest, expected, report)

    # --- text ---
    report.section("B4. text (/data/plugin/text/text): every step, rendered by TensorBoard")

    def texts():
        got_idx = srv.get_json("/data/plugin/text/tags")
        failures, n = [], 0
        for run in sorted(manifest):
            want, have = set(manifest[run]["texts"]), set(got_idx.get(run, []))
            for t in sorted(want - have):
                failures.append("%s: tag not listed" % where(run, t))
            for t in sorted(have - want):
                failures.append("%s: tag listed but not in manifest" % where(run, t))
        report.check("/data/plugin/text/tags", sum(len(v) for v in got_idx.values()), failures,
                     what="tags")
        failures, n, n_series = [], 0, 0
        for run in sorted(manifest):
            for tag, recs in sorted(expected[run]["texts"].items()):
                n_series += 1
                w = where(run, tag)
                shapes = info.get("text_shapes", {}).get((run, tag), {})
                for markdown in ("false", "true"):
                    try:
                        got = srv.get_json("/data/plugin/text/text",
                                           {"run": run, "tag": tag, "markdown": markdown})
                    except HttpError as e:
                        failures.append("%s: %s" % (w, e))
                        continue
                    actual = [{"step": g["step"], "wall_time": http_float(g["wall_time"]),
                               "text": g["text"]} for g in got]
                    want = []
                    for r in recs:
                        shape = shapes.get(r["step"], (1,))
                        arr = np.array([r["text"].encode("utf-8")], dtype=object).reshape(shape)
                        html = text_plugin.text_array_to_html(arr, enable_markdown=(markdown == "true"))
                        want.append({"step": r["step"], "wall_time": r["wall_time"], "text": html})
                    k, f = compare_series("%s (markdown=%s)" % (w, markdown), want, actual, TEXT_FIELDS)
                    n += k
                    failures += f
        report.check("texts (%d series: step, wall_time, HTML = TensorBoard's rendering of the "
                     "manifest text, markdown off and on)" % n_series, n, failures)
    guarded("texts", texts)

    # --- images ---
    report.section("B5. images (/data/plugin/images/images + /individualImage): every step")

    def images():
        idx = tag_index("images", "images")
        failures, n, n_series = [], 0, 0
        for run in sorted(manifest):
            for tag, recs in sorted(expected[run]["images"].items()):
                n_series += 1
                w = where(run, tag)
                samples = (idx.get(run, {}) or {}).get(tag, {}).get("samples")
                if samples is not None and samples != 1:
                    failures.append("%s: tags index says %r images per step, expected 1" % (w, samples))
                try:
                    got = srv.get_json("/data/plugin/images/images", {"run": run, "tag": tag, "sample": 0})
                except HttpError as e:
                    failures.append("%s: %s" % (w, e))
                    continue
                actual = []
                for g in got:
                    rec = {"step": g["step"], "wall_time": http_float(g["wall_time"]),
                           "width": None, "height": None, "png_sha256": None}
                    actual.append(rec)
                    q = urllib.parse.parse_qs(g["query"])
                    key = q.get("blob_key", [None])[0]
                    try:
                        parts = decode_blob_key(key)
                    except Exception as e:
                        failures.append("%s step %s: cannot decode blob key %r: %s" % (w, g["step"], key, e))
                        continue
                    # Blob key = [experiment, run, tag, step, index] (blob_key.rs);
                    # the image is blob 2, blobs 0 and 1 are width and height.
                    if parts[1:4] != [run, tag, g["step"]] or parts[4] != 2:
                        failures.append("%s step %s: blob key points elsewhere: %r" % (w, g["step"], parts))
                    try:
                        png = srv.get_raw("/data/plugin/images/individualImage", {"blob_key": key})
                        rec["png_sha256"] = hashlib.sha256(png).hexdigest()
                        for i, field in ((0, "width"), (1, "height")):
                            k2 = encode_blob_key(parts[:4] + [i])
                            v = srv.get_raw("/data/plugin/images/individualImage", {"blob_key": k2})
                            rec[field] = int(v.decode("ascii"))
                    except (HttpError, ValueError) as e:
                        failures.append("%s step %s: %s" % (w, g["step"], e))
                k, f = compare_series(w, recs, actual, IMAGE_FIELDS)
                n += k
                failures += f
        report.check("images (%d series: step, wall_time, sha256 of served bytes, width/height "
                     "blobs)" % n_series, n, failures)
    guarded("images", images)


# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logdir")
    ap.add_argument("manifest")
    ap.add_argument("--timeout", type=float, default=90.0,
                    help="seconds to wait for TensorBoard to start and load (default 90)")
    ap.add_argument("--max-details", type=int, default=10,
                    help="mismatch lines printed per check (default 10)")
    ap.add_argument("--skip-server", action="store_true",
                    help="only run part A (Python loader); for debugging, not for CI")
    args = ap.parse_args(argv)

    t0 = time.time()
    report = Report(args.max_details)
    try:
        if not os.path.isdir(args.logdir):
            raise SetupError("logdir %s is not a directory" % args.logdir)
        manifest = load_manifest(args.manifest)
        try:
            import numpy  # noqa: F401
            import tensorboard.version
            import tensorboard_data_server
        except ImportError as e:
            raise SetupError("%s -- install Tools/compat/requirements.txt into the Python "
                             "running this script" % e)
        tb_v = tensorboard.version.VERSION
        ds_v = getattr(tensorboard_data_server, "__version__", "?")
        print("check_tensorboard: logdir=%s manifest=%s" % (args.logdir, args.manifest))
        print("tensorboard %s, tensorboard-data-server %s, python %s" % (
            tb_v, ds_v, sys.version.split()[0]))
        if (tb_v, ds_v) != (PINNED_TENSORBOARD, PINNED_DATA_SERVER):
            print("WARNING: expected tensorboard %s / tensorboard-data-server %s (requirements.txt)"
                  % (PINNED_TENSORBOARD, PINNED_DATA_SERVER))
        n_vals = sum(len(v) for r in manifest.values() for k in KINDS for v in r[k].values())
        print("manifest: %d runs, %d records" % (len(manifest), n_vals))

        check_manifest_sanity(manifest, report)
        info = check_python_path(args.logdir, manifest, report)
        t_a = time.time()
        print("\n(part A took %.1f s)" % (t_a - t0))
        if args.skip_server:
            print("part B (Rust data server over HTTP) SKIPPED by --skip-server")
        else:
            check_http_path(args.logdir, manifest, info, args.timeout, report)
    except SetupError as e:
        print("\nSETUP FAILURE: %s" % e)
        print("RESULT: ERROR (exit %d) after %.1f s" % (EXIT_SETUP, time.time() - t0))
        return EXIT_SETUP

    print("\n%d passed, %d failed" % (report.n_checks - report.n_failed, report.n_failed))
    if report.n_failed:
        print("RESULT: MISMATCH in %d check(s): %s" % (report.n_failed, ", ".join(report.failed_names)))
        print("(exit %d after %.1f s)" % (EXIT_MISMATCH, time.time() - t0))
        return EXIT_MISMATCH
    print("RESULT: OK -- %d values compared in %d checks, %.1f s" % (
        report.n_values, report.n_checks, time.time() - t0))
    return EXIT_OK


def _on_signal(signum, frame):
    # Turn SIGTERM/SIGHUP into SystemExit so `finally` blocks stop the server.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    sys.exit(main())
