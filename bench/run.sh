#!/usr/bin/env bash
# Builds prockit with benchmarks (build-bench/, optimised) and runs every benchmark, each printing
# its ratios against the peers it measures in the same run.
#   bench/run.sh [name_bench ...]     default: all of them
# BENCH_ARGS overrides the Google Benchmark flags (default: 3 repetitions, randomly interleaved,
# medians reported — stable ratios on a busy machine).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$PROCKIT_ROOT"
ensure_packages "${PROCKIT_BUILD_DEPS[@]}"
build_tree build-bench -DCMAKE_BUILD_TYPE=Release -DPROCKIT_BENCH=ON -DPROCKIT_TESTS=OFF
export PROCKIT_BUILD_DIR="$PROCKIT_ROOT/build-bench"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in build-bench/bench/*_bench; do names+=("$(basename "$f")"); done
fi
for n in "${names[@]}"; do
    say "$n"
    # shellcheck disable=SC2086
    "build-bench/bench/$n" ${BENCH_ARGS---benchmark_repetitions=3 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true}
    if [ -x "bench/$n.sh" ]; then "bench/$n.sh"; fi   # peers outside C++ (python3, shell tools)
done
