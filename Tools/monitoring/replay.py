#!/usr/bin/env python3
"""Replay real event files into a log directory at a set pace, as live training would write them.

    replay.py LOGDIR --run NAME SRC [SRC ...] [--run NAME SRC ...] [--rate 600]
              [--wall-time now|keep] [--torn-writes] [--manifest FILE] [--expected]

Each `--run NAME SRC...` makes the run folder LOGDIR/NAME and writes one new event file per SRC
into it, all at the same time: several SRCs are concurrent writers of one run (data-parallel
ranks, rank i = the i-th SRC). All runs are written at the same time too. SRC is an event file, or
a run folder that holds exactly one. Each file gets its own valid name,
`events.out.tfevents.<secs>.<host>.<pid>.<n>` (pid = this process's pid + rank, as ranks are
separate processes; n numbers the files this replay writes).

Records are copied byte for byte, TFRecord framing included (u64 length, u32 masked CRC-32C of
the length, data, u32 masked CRC-32C of the data), at --rate records per second per file, each
record in one write() (two with --torn-writes, the second half a record interval later, so a reader meets half
records as it does with writers that flush a full buffer). Steps and values are therefore exactly
the fixture's. With --wall-time now (the default) the only bytes changed are the 8 of
Event.wall_time, set to the time the record is written, and so the data CRC: a run that is being
written now looks it (the "no new steps" alert, ranks told apart from restarts by their
overlapping times). The first record of every file gets the same wall time, the moment the replay
starts, and every later one a strictly later time, so concurrent ranks overlap in time as real
ranks do. --wall-time keep copies every byte.

The manifest (--manifest FILE, JSON) lists, per written file, its run, rank, source, path, the
tags holding the global gradient norm and the loss, and when each step was first written (wall
and monotonic clock). --expected adds, per file, the final values computed from the written file
with TensorBoard's own loader (tensorboard must be importable: the venv of Tools/compat), without
gradalert: see `expected_values`.

Which tag is "the global gradient norm": --norm-tag/--loss-tag if given; else the fixture's
labels.json (Tests/Fixtures/training: the scalar left in `logging.scalars` when the loss and the
`ignore` tags are taken out, when `logging.grad_norm_tags` says "global norm only"; with "per
layer"/"per variable" those scalars are layer norms and the global norm is derived from them;
shared detection-devset: the `grad_tags` entry of kind `global_norm`). A run with no norm tag
(loss only, histograms only) has no expected norm.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import re
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field

# --- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord framing ---------------

_CRC_TABLE = []
for _byte in range(256):
    _crc = _byte
    for _ in range(8):
        _crc = (_crc >> 1) ^ 0x82F63B78 if _crc & 1 else _crc >> 1
    _CRC_TABLE.append(_crc)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


class DamagedFile(ValueError):
    pass


def read_records(path: str) -> list[bytes]:
    """The data of every record of an event file, every CRC checked. A damaged or truncated
    record is an error: a replay must write exactly what the fixture holds."""
    with open(path, "rb") as handle:
        blob = handle.read()
    records, offset = [], 0
    while offset < len(blob):
        if len(blob) - offset < 12:
            raise DamagedFile(f"{path}: truncated record header at byte {offset}")
        header = blob[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[offset + 8:offset + 12])
        if masked_crc(header) != length_crc:
            raise DamagedFile(f"{path}: bad length CRC at byte {offset}")
        end = offset + 12 + length + 4
        if end > len(blob):
            raise DamagedFile(f"{path}: truncated record at byte {offset}")
        data = blob[offset + 12:offset + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[end - 4:end])
        if masked_crc(data) != data_crc:
            raise DamagedFile(f"{path}: bad data CRC at byte {offset}")
        records.append(data)
        offset = end
    return records


def frame(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))


# --- the two Event fields a replay needs: wall_time (1, double) and step (2, int64) -----------

def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if offset >= len(data) or shift > 63:
            raise ValueError("bad varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def event_fields(data: bytes) -> tuple[int | None, int, bool]:
    """(offset of the 8 wall_time bytes or None, step, has a summary) of a serialized Event."""
    offset, wall_at, step, summary = 0, None, 0, False
    while offset < len(data):
        key, offset = _varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = _varint(data, offset)
            if number == 2:
                step = value - (1 << 64) if value >= 1 << 63 else value
        elif wire == 1:
            if number == 1:
                wall_at = offset
            offset += 8
        elif wire == 2:
            length, offset = _varint(data, offset)
            if number == 5:
                summary = True
            offset += length
        elif wire == 5:
            offset += 4
        else:
            raise ValueError(f"wire type {wire}")
    if offset != len(data):
        raise ValueError("field runs past the end")
    return wall_at, step, summary


def with_wall_time(data: bytes, wall_time: float) -> bytes:
    """The Event with its wall_time set; every other byte as it was (a missing wall_time field,
    proto3's default 0, is added in front: field order does not matter in protobuf)."""
    wall_at, _, _ = event_fields(data)
    packed = struct.pack("<d", wall_time)
    if wall_at is None:
        return b"\x09" + packed + data
    return data[:wall_at] + packed + data[wall_at + 8:]


# --- which tags a fixture's labels say hold the global norm and the loss ---------------------

@dataclass
class Tags:
    norm: str | None = None            # a stored global norm
    layer_norms: list[str] = field(default_factory=list)  # or: layer norms it is derived from
    loss: str | None = None
    rule: str = ""


def tags_from_labels(source: str) -> Tags | None:
    """Looks for a labels.json in the folders above `source` that describes it."""
    source = os.path.abspath(source)
    folder = os.path.dirname(source)
    run_folder = folder
    while True:
        labels_path = os.path.join(folder, "labels.json")
        if os.path.isfile(labels_path):
            with open(labels_path) as handle:
                labels = json.load(handle)
            found = _tags_from(labels, os.path.relpath(run_folder, folder), os.path.relpath(source, folder))
            if found:
                found.rule = f"{labels_path}: {found.rule}"
                return found
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _tags_from(labels: dict, run: str, file: str) -> Tags | None:
    runs = labels.get("runs")
    if isinstance(runs, dict) and run in runs and "logging" in runs[run]:
        # Tests/Fixtures/training
        logging = runs[run]["logging"]
        scalars = [re.sub(r"\s*\(.*\)$", "", name) for name in logging.get("scalars", [])]
        ignored = set(logging.get("ignore", []))
        losses = [name for name in scalars if "loss" in name]
        rest = [name for name in scalars if name not in ignored and name not in losses]
        how = logging.get("grad_norm_tags", "")
        tags = Tags(loss=losses[0] if len(losses) == 1 else None)
        if how.startswith("global norm only") and len(rest) == 1:
            tags.norm, tags.rule = rest[0], f"runs[{run!r}].logging: global norm only"
        elif how.startswith(("per layer", "per variable")) and rest:
            tags.layer_norms, tags.rule = rest, f"runs[{run!r}].logging: {how}: global norm derived from the layer norms"
        else:
            tags.rule = f"runs[{run!r}].logging: {how or 'no grad_norm_tags'}: no gradient-norm scalar"
        return tags
    if isinstance(runs, list):
        # shared detection-devset
        for entry in runs:
            paths = [event["path"] for event in entry.get("event_files", [])]
            if file in paths:
                norms = [t["tag"] for t in entry.get("grad_tags", []) if t.get("kind") == "global_norm" and not t.get("subdir")]
                losses = [t["tag"] for t in entry.get("other_tags", []) if t.get("kind") == "loss" and not t.get("subdir")]
                return Tags(norm=norms[0] if len(norms) == 1 else None,
                            loss=losses[0] if len(losses) == 1 else None,
                            rule=f"run {entry.get('run')!r}: grad_tags kind global_norm")
    return None


# --- the replay -------------------------------------------------------------------------------

def event_files_in(source: str) -> str:
    if os.path.isfile(source):
        return source
    if os.path.isdir(source):
        files = sorted(name for name in os.listdir(source) if "tfevents" in name)
        if len(files) == 1:
            return os.path.join(source, files[0])
        raise SystemExit(f"replay: {source} holds {len(files)} event files; name the one to replay")
    raise SystemExit(f"replay: {source} does not exist")


@dataclass
class FileReplay:
    run: str
    rank: int
    source: str
    path: str
    records: list[bytes]
    tags: Tags
    written: int = 0
    steps: dict = field(default_factory=dict)  # step -> [wall, monotonic] of its first record
    last_wall: float = -math.inf
    pending: bytes = b""  # the second half of a torn record, not yet written


class Replay:
    """Writes every file of every run at `rate` records/s per file. `run()` blocks until done;
    `start()` runs it in a thread (`join()` re-raises its error)."""

    def __init__(self, logdir: str, runs: list[tuple[str, list[str]]], rate: float = 600.0,
                 wall_time: str = "now", torn_writes: bool = False,
                 norm_tag: str | None = None, loss_tag: str | None = None, host: str | None = None):
        if rate <= 0:
            raise ValueError("rate must be positive")
        if wall_time not in ("now", "keep"):
            raise ValueError("wall_time is 'now' or 'keep'")
        self.logdir = logdir
        self.rate = rate
        self.wall_time = wall_time
        self.torn_writes = torn_writes
        self.host = re.sub(r"[^A-Za-z0-9_-]", "-", host or socket.gethostname()) or "host"
        self.files: list[FileReplay] = []
        self.started_wall = None
        self.finished_wall = None
        self._thread = None
        self._error = None
        self._stop = threading.Event()
        secs = int(time.time())
        counter = 0
        for run, sources in runs:
            for rank, source in enumerate(sources):
                path = event_files_in(source)
                tags = tags_from_labels(path) or Tags(rule="no labels.json describes it")
                if norm_tag:
                    tags = Tags(norm=norm_tag, loss=tags.loss, rule="--norm-tag")
                if loss_tag:
                    tags.loss = loss_tag
                name = f"events.out.tfevents.{secs}.{self.host}.{os.getpid() + rank}.{counter}"
                counter += 1
                self.files.append(FileReplay(run, rank, path, os.path.join(logdir, run, name),
                                             read_records(path), tags))

    def run(self):
        for replay in self.files:
            os.makedirs(os.path.dirname(replay.path), exist_ok=True)
            if os.path.exists(replay.path):
                raise SystemExit(f"replay: {replay.path} exists")
        descriptors = {}
        try:
            start_wall, start = time.time(), time.monotonic()
            self.started_wall = start_wall
            heap = [(start, index, 0) for index in range(len(self.files))]
            heapq.heapify(heap)
            while heap and not self._stop.is_set():
                due, index, half = heapq.heappop(heap)
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                replay = self.files[index]
                if index not in descriptors:
                    descriptors[index] = os.open(replay.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
                fd = descriptors[index]
                if half == 2:  # the rest of a torn record
                    os.write(fd, replay.pending)
                    replay.pending = b""
                else:
                    data = replay.records[replay.written]
                    wall_at, step, has_summary = event_fields(data)
                    if self.wall_time == "now":
                        # Every file starts at the same moment; later records strictly after.
                        wall = start_wall if replay.written == 0 else max(time.time(), math.nextafter(replay.last_wall, math.inf))
                        data = with_wall_time(data, wall)
                    else:
                        wall = struct.unpack("<d", data[wall_at:wall_at + 8])[0] if wall_at is not None else 0.0
                    record = frame(data)
                    if self.torn_writes and replay.written > 0:
                        cut = len(record) // 2
                        os.write(fd, record[:cut])
                        replay.pending = record[cut:]
                        heapq.heappush(heap, (due + 0.5 / self.rate, index, 2))
                    else:
                        os.write(fd, record)
                    replay.written += 1
                    replay.last_wall = wall
                    if has_summary:
                        replay.steps.setdefault(step, [wall, time.monotonic()])
                if replay.written < len(replay.records) and not replay.pending:
                    heapq.heappush(heap, (due + (0.5 if half == 2 else 1.0) / self.rate, index, 0))
            self.finished_wall = time.time()
        finally:
            for fd in descriptors.values():
                os.close(fd)

    def start(self):
        def body():
            try:
                self.run()
            except BaseException as error:  # reported by join()
                self._error = error

        self._thread = threading.Thread(target=body, name="replay", daemon=True)
        self._thread.start()

    def stop(self):
        """Stops writing (at a record boundary, or after a torn record's first half) and waits."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        if self._error is not None:
            raise self._error
        return not self._thread.is_alive()

    def manifest(self) -> dict:
        return {
            "logdir": self.logdir,
            "rate_records_per_second": self.rate,
            "wall_time": self.wall_time,
            "torn_writes": self.torn_writes,
            "started_wall": self.started_wall,
            "finished_wall": self.finished_wall,
            "files": [{
                "run": f.run, "rank": f.rank, "source": f.source, "path": f.path,
                "records": len(f.records), "written": f.written,
                "norm_tag": f.tags.norm, "layer_norm_tags": f.tags.layer_norms, "loss_tag": f.tags.loss,
                "tag_rule": f.tags.rule,
                "step_first_written": {str(step): times for step, times in sorted(f.steps.items())},
            } for f in self.files],
        }


# --- expected final values, with TensorBoard's loader (not gradalert) ------------------------

def expected_values(path: str, norm_tag: str | None, layer_norm_tags: list[str] = (),
                    loss_tag: str | None = None) -> dict:
    """The final values of one event file as TensorBoard's EventFileLoader reads it (CRC-checked,
    legacy simple_value migrated to tensors), values as stored (float32 widened exactly to a
    Python float):

      last_step           the step of the last event, in file order, that carries a summary
      last_step_wall_times the wall times of the events at that step
      norm, norm_step     the last value of the global-norm tag and its step; with only layer
                          norms, sqrt(sum of squares) of the layer norms at the last step where any
                          was written (norm_derived = True: not a stored value)
      loss, loss_step     the last value of the loss tag and its step
    """
    from tensorboard.backend.event_processing import event_file_loader  # the venv's
    from tensorboard.util import tensor_util

    last_step = None
    by_step_walls: dict[int, list[float]] = {}
    norm = norm_step = loss = loss_step = None
    layer_values: dict[int, dict[str, float]] = {}
    for event in event_file_loader.EventFileLoader(path).Load():
        if not event.HasField("summary"):
            continue
        if event.summary.value:
            last_step = event.step
            by_step_walls.setdefault(event.step, []).append(event.wall_time)
        for value in event.summary.value:
            if value.tag not in (norm_tag, loss_tag) and value.tag not in layer_norm_tags:
                continue
            array = tensor_util.make_ndarray(value.tensor)
            if array.size != 1:
                continue
            number = float(array.reshape(()).item())
            if value.tag == norm_tag:
                norm, norm_step = number, event.step
            if value.tag == loss_tag:
                loss, loss_step = number, event.step
            if value.tag in layer_norm_tags:
                layer_values.setdefault(event.step, {})[value.tag] = number
    derived = False
    if norm_tag is None and layer_values:
        norm_step = max(layer_values)
        values = layer_values[norm_step].values()
        norm = math.sqrt(math.fsum(v * v for v in values)) if all(math.isfinite(v) for v in values) else (
            math.nan if any(math.isnan(v) for v in values) else math.inf)
        derived = True
    return {
        "last_step": last_step,
        "last_step_wall_times": by_step_walls.get(last_step, []),
        "norm": norm, "norm_step": norm_step, "norm_derived": derived,
        "loss": loss, "loss_step": loss_step,
    }


def expected_for(replay: Replay) -> list[dict]:
    out = []
    for f in replay.files:
        values = expected_values(f.path, f.tags.norm, f.tags.layer_norms, f.tags.loss)
        source = expected_values(f.source, f.tags.norm, f.tags.layer_norms, f.tags.loss)
        # The replay must not have changed a value: the source reads the same (but wall times).
        for key in ("last_step", "norm_step", "loss_step", "norm_derived"):
            if values[key] != source[key]:
                raise AssertionError(f"{f.path}: {key} {values[key]} differs from the source's {source[key]}")
        for key in ("norm", "loss"):
            if not same_float(values[key], source[key]):
                raise AssertionError(f"{f.path}: {key} {values[key]!r} differs from the source's {source[key]!r}")
        out.append({"run": f.run, "rank": f.rank, "path": f.path, "source": f.source, **values})
    return out


def same_float(a, b) -> bool:
    """Exact equality of two doubles, with NaN equal to NaN (any payload) and None to None."""
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)  # also tells -0.0 from 0.0


def jsonable(value):
    """NaN and infinities as the strings "NaN", "Infinity", "-Infinity" (strict JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logdir")
    parser.add_argument("--run", nargs="+", action="append", required=True, metavar=("NAME", "SRC"),
                        help="a run folder to write, and one event file (or run folder) per rank")
    parser.add_argument("--rate", type=float, default=600.0, help="records per second per file (600)")
    parser.add_argument("--wall-time", choices=("now", "keep"), default="now")
    parser.add_argument("--torn-writes", action="store_true", help="write each record in two halves")
    parser.add_argument("--norm-tag", help="the global gradient norm's tag (default: from labels.json)")
    parser.add_argument("--loss-tag", help="the loss tag (default: from labels.json)")
    parser.add_argument("--manifest", help="write the manifest (JSON) here")
    parser.add_argument("--expected", action="store_true",
                        help="add the expected final values (needs tensorboard importable)")
    args = parser.parse_args(argv)
    runs = []
    for entry in args.run:
        if len(entry) < 2:
            parser.error("--run needs NAME and at least one SRC")
        runs.append((entry[0], entry[1:]))
    replay = Replay(args.logdir, runs, args.rate, args.wall_time, args.torn_writes, args.norm_tag, args.loss_tag)
    began = time.monotonic()
    replay.run()
    took = time.monotonic() - began
    total = sum(len(f.records) for f in replay.files)
    print(f"replay: {total} records in {len(replay.files)} files in {took:.2f} s", file=sys.stderr)
    manifest = replay.manifest()
    if args.expected:
        manifest["expected"] = expected_for(replay)
    text = json.dumps(jsonable(manifest), indent=1, allow_nan=False)
    if args.manifest:
        with open(args.manifest, "w") as handle:
            handle.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
