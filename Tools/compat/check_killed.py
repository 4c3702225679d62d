#!/usr/bin/env python3
"""After gradalert-reliability-writer was killed with SIGKILL: TensorBoard's own loader reads the
file, and it holds every step the writer said was flushed, with the values it wrote.

usage: check_killed.py LOGDIR WRITER_STDOUT
"""

import math
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def main():
    logdir, log = sys.argv[1], sys.argv[2]
    promised = -1
    with open(log) as handle:
        for line in handle:
            if line.startswith("flushed "):
                promised = max(promised, int(line.split()[1]))
    accumulator = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    points = accumulator.Scalars("value")
    steps = [point.step for point in points]
    if steps != list(range(len(steps))):
        print(f"FAIL: steps are not 0..{len(steps) - 1} in order")
        return 1
    for point in points:
        expected = float32(math.sin(point.step * 0.01) * 100)
        if point.value != expected:
            print(f"FAIL: step {point.step}: {point.value} != {expected}")
            return 1
    if len(steps) - 1 < promised:
        print(f"FAIL: the writer promised step {promised} was on disk; TensorBoard read up to {len(steps) - 1}")
        return 1
    print(f"ok: killed writer promised steps 0..{promised}; TensorBoard's EventAccumulator read 0..{len(steps) - 1}, every value exact")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
