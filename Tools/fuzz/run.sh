#!/usr/bin/env bash
# Fuzzes the reader, the Event decoder and the scan analysis with libFuzzer (Swift on Linux:
# -sanitize=fuzzer,address), seeded with every committed event file.
#
#   Tools/fuzz/run.sh [seconds=600] [max_len=65536]      CONFIG=debug for a debug build (default release)
# Crashes, hangs and runaway allocations land in Tools/fuzz/artifacts/; minimise one with
#   .build/release/EventReaderFuzzer -minimize_crash=1 -runs=10000 artifacts/crash-…
# and commit it under Tests/Fixtures/fuzz/ (the reader tests replay every file there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${1:-600}"
max_len="${2:-65536}"
config="${CONFIG:-release}"
cd "$here"
# -sanitize-coverage for every Swift module, so the package under test is instrumented too.
swift build -c "$config" --product EventReaderFuzzer --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp
corpus="$here/corpus"
mkdir -p "$corpus" "$here/artifacts"
find "$root/Tests/Fixtures" -name '*tfevents*' -exec cp {} "$corpus/" \;
[[ -d "$root/Tests/Fixtures/fuzz" ]] && cp "$root/Tests/Fixtures/fuzz/"* "$corpus/" 2>/dev/null || true
"$here/.build/$config/EventReaderFuzzer" "$corpus" \
    -artifact_prefix="$here/artifacts/" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len="$max_len" -print_final_stats=1
