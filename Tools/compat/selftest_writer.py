#!/usr/bin/env python3
"""Write a sample TensorBoard logdir with tensorboardX, plus its manifest.

This stands in for the Swift writer while developing check_tensorboard.py.
The manifest is NOT taken from what we asked tensorboardX to write: it is
produced by reading the event files back with a small, self-contained
TFRecord + protobuf wire-format decoder (no TensorBoard code, no generated
protobuf classes), so the checker is tested against an independent reading.

Usage:
    selftest_writer.py LOGDIR MANIFEST.json [--steps N] [--with-duplicates]

LOGDIR must not exist yet (or be empty).
"""

import argparse
import hashlib
import io
import json
import math
import os
import struct
import sys
import zlib

# --------------------------------------------------------------------------
# Writing (tensorboardX)
# --------------------------------------------------------------------------

BASE_WALL_TIME = 1_700_000_000.123456


def _png_bytes(width, height, seed):
    """A tiny RGB PNG, built by hand (no PIL needed for the bytes)."""
    rows = b""
    for y in range(height):
        row = bytearray([0])  # filter type 0
        for x in range(width):
            row += bytes(((x * 60 + seed) % 256, (y * 80 + seed) % 256, (seed * 7) % 256))
        rows += bytes(row)

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_logdir(logdir, steps, with_duplicates):
    import numpy as np
    from tensorboardX import SummaryWriter
    from tensorboardX import summary as txs

    def wt(i):
        # Distinct, non-round doubles.
        return BASE_WALL_TIME + i * 0.013717 + 1e-7

    # ---- run "alpha": many scalars, negative steps first, 2**40 last ----
    w = SummaryWriter(logdir=os.path.join(logdir, "alpha"))
    series = list(range(-3, 0)) + list(range(0, steps)) + [2 ** 40]
    for i, step in enumerate(series):
        v = math.sin(step / 7.0) * 3.3 + step * 1e-3  # not float32-exact
        if step == 100:
            v = float("nan")
        elif step == 200:
            v = float("inf")
        elif step == 300:
            v = float("-inf")
        elif step == 400:
            v = -0.0
        elif step == 500:
            v = 3.0e38  # near float32 max
        elif step == 600:
            v = 1e-45  # float32 subnormal
        w.add_scalar("loss", v, global_step=step, walltime=wt(i))
        if step % 3 == 0:
            w.add_scalar("métrique/λ", float(step) / 3.0, global_step=step, walltime=wt(i) + 0.5)
    w.add_text("notes", "alpha run **bold** <b>html</b> & ünïcödé\nline 2",
               global_step=0, walltime=wt(0))
    w.close()

    # ---- run "beta": histograms (> 51 steps), text, images ----
    w = SummaryWriter(logdir=os.path.join(logdir, "beta"))
    rng = np.random.RandomState(1234)
    for step in range(0, 120):
        vals = rng.normal(loc=step / 50.0, scale=1.0 + step / 100.0, size=200)
        w.add_histogram("weights", vals, global_step=step, bins="tensorflow",
                        walltime=wt(step))
    for step in range(0, 5):
        # Raw legacy histogram with empty outermost buckets (so min/max
        # replacement produces "negative width" edge buckets in TB).
        w._get_file_writer().add_summary(
            txs.histogram_raw("raw_hist", min=-1.5 - step, max=2.25 + step, num=10 + step,
                              sum=3.5 + step, sum_squares=20.125 + step,
                              bucket_limits=[-10.0, -1.0, 0.0, 1.0, 10.0, 1.7976931348623157e308],
                              bucket_counts=[0.0, 3.0, 2.0, 4.0, 1.0 + step, 0.0]),
            global_step=step, walltime=wt(step) + 0.25)
    for step in range(0, 500):
        w.add_scalar("acc", 1.0 - 1.0 / (step + 2), global_step=step, walltime=wt(step))
    for step in (0, 10, 20):
        w.add_text("log", f"step {step}: `code` and | pipes |\n\n- item", global_step=step,
                   walltime=wt(step))
    for k, step in enumerate((0, 50, 99)):
        img = np.zeros((3, 4, 3), dtype=np.uint8)
        img[:, :, 0] = np.arange(4, dtype=np.uint8)[None, :] * 60 + k
        img[:, :, 1] = np.arange(3, dtype=np.uint8)[:, None] * 80
        img[:, :, 2] = 200 - k
        w.add_image("sample", img, global_step=step, walltime=wt(step), dataformats="HWC")
    w.close()

    # ---- run "nested/β": unicode run name in a nested folder ----
    w = SummaryWriter(logdir=os.path.join(logdir, "nested", "β"))
    for step in range(-2, 50):
        w.add_scalar("ß/loss", step * 0.1, global_step=step, walltime=wt(step + 10))
    w.add_text("ℹ️ info", "Ünïcode text ✓ 日本語", global_step=-2, walltime=wt(0))
    w._get_file_writer().add_summary(
        txs.Summary(value=[txs.Summary.Value(tag="png/hand", image=txs.Summary.Image(
            height=3, width=5, colorspace=3, encoded_image_string=_png_bytes(5, 3, 17)))]),
        global_step=2 ** 40, walltime=wt(99))
    w.close()

    if with_duplicates:
        # Deliberately violates the "increasing steps" contract to exercise
        # the loaders' differing treatment of repeated / decreasing steps.
        w = SummaryWriter(logdir=os.path.join(logdir, "dups"))
        for i, step in enumerate([0, 1, 2, 2, 3, 1, 4, 5, 5]):
            w.add_scalar("dup", float(i), global_step=step, walltime=wt(i))
        w.close()


# --------------------------------------------------------------------------
# Independent read-back: TFRecord framing + protobuf wire format by hand
# --------------------------------------------------------------------------

def _crc32c_table():
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def _masked_crc32c(data):
    crc = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        if len(data) - pos < 12:
            raise ValueError(f"{path}: truncated record header at byte {pos}")
        (length,) = struct.unpack_from("<Q", data, pos)
        (hcrc,) = struct.unpack_from("<I", data, pos + 8)
        if hcrc != _masked_crc32c(data[pos:pos + 8]):
            raise ValueError(f"{path}: bad length CRC at byte {pos}")
        start = pos + 12
        end = start + length
        if end + 4 > len(data):
            raise ValueError(f"{path}: truncated record at byte {pos}")
        payload = data[start:end]
        (dcrc,) = struct.unpack_from("<I", data, end)
        if dcrc != _masked_crc32c(payload):
            raise ValueError(f"{path}: bad data CRC at byte {pos}")
        yield payload
        pos = end + 4


def _varint(buf, pos):
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def parse_fields(buf):
    """Yields (field_number, wire_type, value) for one message.

    value: int for varint, bytes for length-delimited, raw 8/4 bytes for
    fixed64/fixed32.
    """
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wtype = key >> 3, key & 7
        if wtype == 0:
            v, pos = _varint(buf, pos)
        elif wtype == 1:
            v = buf[pos:pos + 8]
            pos += 8
        elif wtype == 2:
            ln, pos = _varint(buf, pos)
            v = buf[pos:pos + ln]
            pos += ln
        elif wtype == 5:
            v = buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wtype}")
        yield field, wtype, v


def _int64(v):
    return v - (1 << 64) if v >= (1 << 63) else v


def _f64(raw):
    return struct.unpack("<d", raw)[0]


def _f32(raw):
    return struct.unpack("<f", raw)[0]


def _doubles(wtype, v):
    if wtype == 2:  # packed
        return list(struct.unpack("<%dd" % (len(v) // 8), v))
    return [_f64(v)]


def _json_float(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def parse_histogram(buf):
    h = {"min": 0.0, "max": 0.0, "num": 0.0, "sum": 0.0, "sum_squares": 0.0,
         "bucket_limit": [], "bucket": []}
    names = {1: "min", 2: "max", 3: "num", 4: "sum", 5: "sum_squares"}
    for f, wt, v in parse_fields(buf):
        if f in names:
            h[names[f]] = _f64(v)
        elif f == 6:
            h["bucket_limit"].extend(_doubles(wt, v))
        elif f == 7:
            h["bucket"].extend(_doubles(wt, v))
    return h


def parse_image(buf):
    im = {"height": 0, "width": 0, "encoded": b""}
    for f, _, v in parse_fields(buf):
        if f == 1:
            im["height"] = v
        elif f == 2:
            im["width"] = v
        elif f == 4:
            im["encoded"] = v
    return im


def parse_tensor_strings(buf):
    dtype = 0
    strings = []
    for f, _, v in parse_fields(buf):
        if f == 1:
            dtype = v
        elif f == 8:
            strings.append(bytes(v))
    return dtype, strings


def parse_plugin_name(metadata_buf):
    for f, _, v in parse_fields(metadata_buf):
        if f == 1:  # plugin_data
            for f2, _, v2 in parse_fields(v):
                if f2 == 1:
                    return bytes(v2).decode("utf-8")
    return ""


def read_back(logdir):
    runs = {}
    for dirpath, _, filenames in sorted(os.walk(logdir)):
        event_files = sorted(f for f in filenames if "tfevents" in f)
        if not event_files:
            continue
        rel = os.path.relpath(dirpath, logdir)
        run = rel.replace(os.sep, "/")
        r = runs.setdefault(run, {"scalars": {}, "histograms": {}, "texts": {}, "images": {}})
        plugin_of_tag = {}
        for fn in event_files:
            for rec in read_records(os.path.join(dirpath, fn)):
                wall_time, step, summary = 0.0, 0, None
                for f, _, v in parse_fields(rec):
                    if f == 1:
                        wall_time = _f64(v)
                    elif f == 2:
                        step = _int64(v)
                    elif f == 5:
                        summary = v
                if summary is None:
                    continue
                for f, _, vbuf in parse_fields(summary):
                    if f != 1:
                        continue
                    tag, kind, payload, md = None, None, None, None
                    for f2, _, v2 in parse_fields(vbuf):
                        if f2 == 1:
                            tag = bytes(v2).decode("utf-8")
                        elif f2 == 9:
                            md = v2
                        elif f2 in (2, 4, 5, 8):
                            kind, payload = f2, v2
                    if md is not None and tag not in plugin_of_tag:
                        plugin_of_tag[tag] = parse_plugin_name(md)
                    if kind == 2:
                        r["scalars"].setdefault(tag, []).append(
                            [step, wall_time, _json_float(_f32(payload))])
                    elif kind == 5:
                        h = parse_histogram(payload)
                        h = {k: ([_json_float(x) for x in val] if isinstance(val, list)
                                 else _json_float(val)) for k, val in h.items()}
                        r["histograms"].setdefault(tag, []).append(
                            dict(step=step, wall_time=wall_time, **h))
                    elif kind == 4:
                        im = parse_image(payload)
                        r["images"].setdefault(tag, []).append({
                            "step": step, "wall_time": wall_time,
                            "width": im["width"], "height": im["height"],
                            "png_sha256": hashlib.sha256(im["encoded"]).hexdigest()})
                    elif kind == 8 and plugin_of_tag.get(tag) == "text":
                        dtype, strings = parse_tensor_strings(payload)
                        if dtype != 7 or len(strings) != 1:  # DT_STRING
                            raise ValueError(f"unexpected text tensor for {tag!r}")
                        r["texts"].setdefault(tag, []).append(
                            [step, wall_time, strings[0].decode("utf-8")])
                    elif kind is not None:
                        raise ValueError(f"unhandled summary kind {kind} for tag {tag!r}")
    return {"runs": runs}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logdir")
    ap.add_argument("manifest")
    ap.add_argument("--steps", type=int, default=3000,
                    help="number of non-negative scalar steps in run 'alpha' (default 3000)")
    ap.add_argument("--with-duplicates", action="store_true",
                    help="also write run 'dups' with repeated/decreasing steps")
    args = ap.parse_args(argv)
    if os.path.exists(args.logdir) and os.listdir(args.logdir):
        ap.error(f"{args.logdir} exists and is not empty")
    write_logdir(args.logdir, args.steps, args.with_duplicates)
    manifest = read_back(args.logdir)
    with io.open(args.manifest, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    n = sum(len(v) for r in manifest["runs"].values() for kind in r.values() for v in kind.values())
    print(f"wrote {args.logdir} ({len(manifest['runs'])} runs, {n} values) and {args.manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
