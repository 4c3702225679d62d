#!/usr/bin/env python3
"""Puts benchmark files into a known page-cache state, and reports the state they are in.

Why: reading a file that is already in the page cache costs the kernel's copy out of it, and on
this machine that copy runs about twice as fast when the cache holds the file as large folios
(what a sequential read from disk leaves, or large writes) as when it holds it as single 4 KiB
pages (what small writes leave, and what a file turns into here after hours of the VM handing
pages back and reading them again one by one). The benchmark logdirs were in either state by
accident of their history, so a reader's speed moved by a fifth with no change to its code.
Every read-side measurement now starts from a state set here, and the JSON reports which.

Layouts:
  - ``sequential``: each file is dropped from the cache and read back once from start to end, so
    the kernel's readahead brings it in as large folios (the state after reading a file from disk);
  - ``single-pages``: dropped, then read back 4 KiB at a time with readahead off
    (``POSIX_FADV_RANDOM``), so the cache holds it as single pages (the slowest cached state).

Usage::

    pagecache.py settle --layout sequential DIR_OR_FILE...
    pagecache.py census DIR_OR_FILE...        # needs root for /proc/kpageflags
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import struct
import sys

LAYOUTS = ("sequential", "single-pages")
MADV_RANDOM = 1
PAGE = mmap.PAGESIZE


def event_files(paths: list[str]) -> list[str]:
    """The files named, and every file with `tfevents` in its name under the directories named.
    (As peers.discover_runs finds them; not imported from there, because peers needs the venv's
    packages and this runs on the system Python.)"""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
            continue
        if not os.path.isdir(path):
            raise FileNotFoundError(f"no such file or directory: {path}")
        for folder, _, names in sorted(os.walk(path)):
            found.extend(os.path.join(folder, n) for n in sorted(names) if "tfevents" in n)
    return found


def settle(paths: list[str], layout: str) -> None:
    """Drops each file from the page cache and reads it back in the given layout."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    for path in event_files(paths):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)  # only clean pages can be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            if layout == "sequential":
                # 128 KiB reads, as cat(1) makes: 99% of pages came back in large folios here,
                # against 66-83% with 8 MiB reads.
                while os.read(fd, 128 << 10):
                    pass
            else:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
                offset = 0
                while os.pread(fd, PAGE, offset):
                    offset += PAGE
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_NORMAL)
        finally:
            os.close(fd)


def census(paths: list[str]) -> dict | None:
    """How the page cache holds the files now: their pages, how many are cached, and how many of
    those belong to large folios. Reads nothing that is not cached already. None when the page
    frames cannot be seen (/proc/kpageflags needs root, and /proc/self/pagemap CAP_SYS_ADMIN)."""
    try:
        flags = open("/proc/kpageflags", "rb", buffering=0)
    except OSError:
        return None
    try:
        pagemap = open("/proc/self/pagemap", "rb", buffering=0)
    except OSError:
        flags.close()
        return None
    libc = _libc()
    total = cached = in_large = 0
    with flags, pagemap:
        for path in event_files(paths):
            size = os.path.getsize(path)
            if size == 0:
                continue
            pages = (size + PAGE - 1) // PAGE
            total += pages
            fd = os.open(path, os.O_RDONLY)
            address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            os.close(fd)
            if address in (None, ctypes.c_void_p(-1).value):
                continue
            try:
                resident = (ctypes.c_ubyte * pages)()
                if libc.mincore(address, size, resident) != 0:
                    continue
                # A page dropped after mincore must not be read back with readahead around it.
                libc.madvise(address, size, MADV_RANDOM)
                for index in range(pages):
                    if not resident[index] & 1:
                        continue
                    ctypes.c_char.from_address(address + index * PAGE).value  # map it: it is cached
                    pagemap.seek((address // PAGE + index) * 8)
                    entry = struct.unpack("<Q", pagemap.read(8))[0]
                    if not entry >> 63:
                        continue
                    frame = entry & ((1 << 55) - 1)
                    if frame == 0:
                        return None  # frame numbers hidden (no CAP_SYS_ADMIN): nothing to count
                    cached += 1
                    flags.seek(frame * 8)
                    value = struct.unpack("<Q", flags.read(8))[0]
                    if value >> 15 & 1 or value >> 16 & 1:  # KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL
                        in_large += 1
            finally:
                libc.munmap(address, size)
    return {"pages": total, "cached": cached, "in_large_folios": in_large,
            "large_folio_share": round(in_large / cached, 4) if cached else 0.0}


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("settle", help="drop the files from the page cache and read them back")
    s.add_argument("--layout", choices=LAYOUTS, default="sequential")
    s.add_argument("paths", nargs="+")
    c = sub.add_parser("census", help="how the page cache holds the files (needs root)")
    c.add_argument("paths", nargs="+")
    args = p.parse_args(argv)
    if args.command == "settle":
        settle(args.paths, args.layout)
        result = census(args.paths)
        print(json.dumps({"layout": args.layout, "census": result}))
    else:
        print(json.dumps(census(args.paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
