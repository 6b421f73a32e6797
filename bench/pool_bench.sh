#!/usr/bin/env bash
# The Python peer of pool_bench: multiprocessing.Pool.map of a trivial function over 1,000,000
# items (default chunking) and 20,000 items (chunksize 1), then prockit-vs-Python ratios from the
# rates pool_bench recorded, and the issue's targets. Run by bench/run.sh after the binary.
#   PROCKIT_BENCH_SCALE=0.1   scales every count (both sides) for a quick run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
results=${PROCKIT_BENCH_RESULTS:-/tmp/prockit-pool_bench.results}
bin=${PROCKIT_BUILD_DIR:-$here/../build-bench}/bench/pool_bench
if [ ! -s "$results" ]; then "$bin" >/dev/null; fi
if ! command -v python3 >/dev/null; then echo "pool_bench.sh: python3 not found; no Python comparison" >&2; exit 0; fi

python3 - "$results" <<'PY'
import multiprocessing as mp, os, sys, time

scale = float(os.environ.get("PROCKIT_BENCH_SCALE", "1") or 1)
def n(x): return max(1, int(x * scale))

def trivial(x): return x + 1

def run(pool, count, chunksize):
    items = list(range(count))
    t = time.perf_counter()
    out = pool.map(trivial, items, chunksize) if chunksize else pool.map(trivial, items)
    s = time.perf_counter() - t
    assert out[-1] == count
    return count / s

with mp.Pool(os.cpu_count()) as pool:
    pool.map(trivial, [1, 2, 3, 4])
    py = {"pool_map_1m": run(pool, n(1_000_000), None), "pool_map_20k_chunksize1": run(pool, n(20_000), 1)}

ours = {}
for line in open(sys.argv[1]):
    name, secs, rate, unit = line.split()
    ours[name] = float(rate)

print()
print(f"{'pool: prockit vs Python multiprocessing.Pool':44} {'prockit':>12} {'python':>12} {'ratio':>9}  target")
for name, need in [("pool_map_1m", 3), ("pool_map_20k_chunksize1", 10)]:
    r = ours.get(name + "/prockit", float("nan")); p = py[name]
    print(f"{name:44} {r/1e6:9.2f} M/s {p/1e6:9.2f} M/s {r / p:8.1f}x  ≥ {need}x Python {'met' if r / p >= need else 'MISSED'}")
print()
print(f"{'pool: prockit vs raw C loops (same binary)':44} {'prockit':>12} {'raw':>12} {'ratio':>9}")
for name in ["pool_map_1m", "pool_map_20k_chunksize1"]:
    r = ours.get(name + "/prockit", float("nan")); w = ours.get(name + "/raw", float("nan"))
    print(f"{name:44} {r/1e6:9.2f} M/s {w/1e6:9.2f} M/s {r / w:8.2f}x")
PY
