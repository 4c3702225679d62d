#!/usr/bin/env bash
# Builds the standalone harnesses of the statistics kernel, without SwiftPM:
#
#   Tools/benchmarks/stats-c/build.sh            # -> $OUT/stats-bench (default OUT=/tmp/stats-c)
#   KERNEL=/path/to/CGradAlertStats OUT=/tmp/old Tools/benchmarks/stats-c/build.sh
#                                                # the same harness on another copy of the kernel,
#                                                # e.g. one checked out from an earlier commit
#   $OUT/stats-bench [--sizes 1e5,1e6,1e7] [--rounds 7] [--check] [--exhaustive]
#   $OUT/stats-experiments ...                   # the bucket-loop variants (experiments.c)
#
# The kernel is compiled with SwiftPM's release flags for C targets (-O2 -fPIC -g
# -fno-omit-frame-pointer), twice: once as shipped and once with the AVX2 check forced off, its
# symbols renamed so both live in one binary. CC defaults to clang (the Swift toolchain's).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernel="${KERNEL:-$here/../../../Sources/CGradAlertStats}"
out="${OUT:-/tmp/stats-c}"
cc="${CC:-clang}"
flags=(-O2 -fPIC -g -fno-omit-frame-pointer -I "$kernel/include")
mkdir -p "$out"

rename() {
    echo "-Dgradalert_float_stats_accumulate=$1_accumulate -Dgradalert_float_stats_init=$1_init" \
         "-Dgradalert_float_stats_implementation=$1_implementation"
}
# shellcheck disable=SC2046
"$cc" "${flags[@]}" $(rename dispatch) -c "$kernel/stats.c" -o "$out/kernel-dispatch.o"
# shellcheck disable=SC2046
"$cc" "${flags[@]}" $(rename generic) '-D__builtin_cpu_supports(feature)=0' -Wno-builtin-macro-redefined \
    -c "$kernel/stats.c" -o "$out/kernel-generic.o"
"$cc" "${flags[@]}" -I "$here" "$here/harness.c" "$out/kernel-dispatch.o" "$out/kernel-generic.o" \
    -lm -pthread -o "$out/stats-bench"
if [[ -f "$here/experiments.c" ]]; then
    "$cc" "${flags[@]}" -I "$here" "$here/experiments.c" -lm -pthread -o "$out/stats-experiments"
fi
echo "built $out/stats-bench (kernel: $kernel)"
