#!/usr/bin/env bash
# Runs every benchmark and every peer in one go on this machine, and prints the ratio table that
# docs/benchmarks.md records. Takes about 15 minutes; run it on a quiet machine.
#
#   Tools/benchmarks/run.sh                 # results in $OUT (default /tmp/gradalert-bench)
#   OUT=/some/dir Tools/benchmarks/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${OUT:-/tmp/gradalert-bench}"
mkdir -p "$out"

# Every figure is only as good as the CPU it came from (cpuinfo.py says why): record it first.
python3 "$here/cpuinfo.py" > "$out/cpu.json"
echo "==> CPU: $(python3 -c 'import json, sys; print(json.load(sys.stdin)["tag"])' < "$out/cpu.json")"

echo "==> building (release)"
(cd "$root" && swift build -c release --product gradalert)
(cd "$here" && swift build -c release)
bin="$(cd "$here" && swift build -c release --show-bin-path)"

echo "==> benchmark logdirs (deterministic; written once)"
for spec in "logdir 200 4" "logdir-50 50 1" "logdir-500 500 4"; do
    set -- $spec
    [[ -d "$out/$1" ]] || "$bin/bench-logdir" "$out/$1" "$2" "$3"
done
# Damaged files (issue 15), for the search past damage: 200 MB of random bytes named like an
# event file (a fixed seed: the same bytes every run), and 1 GB of zeros gzip-compressed.
if [[ ! -f "$out/garbage/events.out.tfevents.0.garbage" ]]; then
    mkdir -p "$out/garbage"
    python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(15).randbytes(200_000_000))' > "$out/garbage/partial"
    mv "$out/garbage/partial" "$out/garbage/events.out.tfevents.0.garbage"
fi
if [[ ! -f "$out/zeros-gz/events.out.tfevents.0.zeros.gz" ]]; then
    mkdir -p "$out/zeros-gz"
    head -c 1000000000 /dev/zero | gzip -c > "$out/zeros-gz/partial"
    mv "$out/zeros-gz/partial" "$out/zeros-gz/events.out.tfevents.0.zeros.gz"
fi
bytes=$(find "$out/logdir" -name '*tfevents*' -printf '%s\n' | awk '{s+=$1} END {print s}')
# The 200 MB logdir again, each file compressed by gzip(1) at its default level.
if [[ ! -d "$out/logdir-gz" ]]; then
    (cd "$out/logdir" && find . -name '*tfevents*' -type f) | while read -r file; do
        mkdir -p "$out/logdir-gz/$(dirname "$file")"
        gzip -c "$out/logdir/$file" > "$out/logdir-gz/$file.gz"
    done
fi

echo "==> Python peers venv"
venv="$root/.venv-bench"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/peers-requirements.txt" "$venv/.gradalert-requirements"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/peers-requirements.txt"
    cp "$here/peers-requirements.txt" "$venv/.gradalert-requirements"
fi

# Every read-side stage starts from the same page-cache state: the logdirs dropped and read back
# sequentially (large folios). See pagecache.py: left alone, this VM's cache drifts towards single
# pages, and the kernel's copy out of it then takes twice as long.
settle() { python3 "$here/pagecache.py" settle --layout sequential "$out/logdir" "$out/logdir-50" "$out/logdir-500" "$out/logdir-gz" "$out/garbage" "$out/zeros-gz"; }

echo "==> Swift benchmarks, one core"
settle
export BENCH_GARBAGE="$out/garbage/events.out.tfevents.0.garbage" BENCH_ZEROS_GZ="$out/zeros-gz/events.out.tfevents.0.zeros.gz"
(cd "$here" && BENCH_LOGDIR="$out/logdir" BENCH_LOGDIR_GZ="$out/logdir-gz" taskset -c 0 swift package --allow-writing-to-package-directory \
    benchmark --skip ".*2 threads.*" --format jmh --path "$out/one-core" --no-progress)
(cd "$here" && BENCH_LOGDIR="$out/logdir" BENCH_LOGDIR_GZ="$out/logdir-gz" taskset -c 0 swift package benchmark --skip ".*2 threads.*" --no-progress) > "$out/one-core.txt"

echo "==> statistics kernel in the C harness (paths, data spreads, 1 and 2 threads; no Swift)"
OUT="$out/stats-c" "$here/stats-c/build.sh" > /dev/null
"$out/stats-c/stats-bench" --rounds 5 > "$out/stats-c.txt"

echo "==> Swift benchmarks, two cores (scaling)"
(cd "$here" && swift package --allow-writing-to-package-directory \
    benchmark --target HooksBenchmarks --filter "stats\\+histogram (2 threads )?[0-9]+e6" --format jmh --path "$out/two-cores" --no-progress)

echo "==> gradalert scan"
settle
"$venv/bin/python" "$here/scan_bench.py" --gradalert "$root/.build/release/gradalert" \
    --logdir "$out/logdir" --logdir "$out/logdir-50" --logdir "$out/logdir-500" --out "$out/scan.json"

echo "==> peers (tensorboardX, crc32c, google-crc32c, TensorBoard's data server and accumulator, tbparse)"
settle
"$venv/bin/python" "$here/peers.py" --logdir "$out/logdir" --out "$out/peers.json" --accumulator-limit-mb 50

echo "==> the decoding reader, scan and the data server in interleaved rounds (page cache: large folios, then single pages)"
rm -f "$out/interleaved.json" "$out/interleaved-single-pages.json"
"$venv/bin/python" "$here/interleaved.py" --read-logdir "$bin/read-logdir" --gradalert "$root/.build/release/gradalert" \
    --logdir "$out/logdir" --rounds 9 --page-cache sequential --out "$out/interleaved.json" \
    || echo "interleaved rounds failed (above); the table will lack them"
"$venv/bin/python" "$here/interleaved.py" --read-logdir "$bin/read-logdir" --gradalert "$root/.build/release/gradalert" \
    --logdir "$out/logdir" --rounds 9 --page-cache single-pages --out "$out/interleaved-single-pages.json" \
    || echo "interleaved rounds (single pages) failed (above); the table will lack them"

echo "==> gradalert watch following a fleet (bench-fleet: 1,000 runs x 4 ranks x 200 steps)"
rm -rf "$out/fleet"
"$bin/bench-fleet" "$out/fleet" 1000 4 200 > /dev/null
"$venv/bin/python" "$here/fleet_bench.py" --gradalert "$root/.build/release/gradalert" --logdir "$out/fleet" \
    --out "$out/fleet.json" > "$out/fleet.txt" || echo "fleet benchmark failed (see $out/fleet.txt)"

echo "==> ratios"
interleaved=()
[[ -f "$out/interleaved.json" ]] && interleaved=(--interleaved "$out/interleaved.json")
[[ -f "$out/interleaved-single-pages.json" ]] && interleaved+=(--interleaved-single-pages "$out/interleaved-single-pages.json")
"$venv/bin/python" "$here/ratios.py" --swift "$out/one-core/Current_run.jmh.json" \
    --swift-parallel "$out/two-cores/Current_run.jmh.json" --peers "$out/peers.json" \
    --scan "$out/scan.json" --logdir-bytes "$bytes" --cpu "$out/cpu.json" "${interleaved[@]}" --out "$out/ratios.md"
echo "results: $out (ratios.md, one-core.txt, stats-c.txt, peers.json, scan.json, interleaved.json, fleet.json, cpu.json)"
