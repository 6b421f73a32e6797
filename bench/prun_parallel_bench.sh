#!/usr/bin/env bash
# prun -X with 100,000 short arguments against xargs and GNU parallel -X, the same command lines
# (echo, output to /dev/null), one job at a time. Rounds are paired: each round runs the three in
# turn (order rotated), and the ratios are taken within the round; prints every round, then the
# median and range of each ratio.
#   PRUN_BENCH_ROUNDS=5     rounds (at least 5 for a figure)
#   PRUN_BENCH_ARGS=100000  arguments
#   PROCKIT_BUILD_DIR       where tools/prun/prun is (default: ../build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prun=${PROCKIT_BUILD_DIR:-$here/../build}/tools/prun/prun
rounds=${PRUN_BENCH_ROUNDS:-5}
nargs=${PRUN_BENCH_ARGS:-100000}
[ -x "$prun" ] || { echo "prun_parallel_bench: no prun at $prun (build the prun target)" >&2; exit 1; }
have_parallel=1
command -v parallel >/dev/null || { have_parallel=0; echo "prun_parallel_bench: GNU parallel is not installed; prun vs xargs only" >&2; }

input=$(mktemp /tmp/prun-parallel-bench.XXXXXX)
trap 'rm -f "$input"' EXIT
seq "$nargs" > "$input"

secs() {  # secs CMD... : wall seconds of one run, stdin from the input, output discarded
    local t0 t1
    t0=$(date +%s.%N)
    "$@" < "$input" > /dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}

run_one() {
    case $1 in
        prun) secs "$prun" -X -j1 -k echo ;;
        xargs) secs xargs echo ;;
        parallel) secs parallel --will-cite -X -j1 -k echo ;;
    esac
}

# Warm-up (page cache, binaries).
run_one prun > /dev/null; run_one xargs > /dev/null
tools=(prun xargs)
[ "$have_parallel" = 1 ] && tools+=(parallel)
results=$(mktemp /tmp/prun-parallel-bench-res.XXXXXX)
trap 'rm -f "$input" "$results"' EXIT
for ((r = 0; r < rounds; r++)); do
    line="round=$r"
    n=${#tools[@]}
    for ((k = 0; k < n; k++)); do
        t=${tools[$(((k + r) % n))]}
        line+=" $t=$(run_one "$t")"
    done
    echo "$line" | tee -a "$results"
done

python3 - "$results" "$nargs" <<'PY'
import statistics, sys
rows = []
for l in open(sys.argv[1]):
    d = dict(kv.split("=") for kv in l.split())
    rows.append({k: float(v) for k, v in d.items() if k != "round"})
def show(name, vals):
    vals = sorted(vals)
    print(f"{name:40} median {statistics.median(vals):7.3f}  range {vals[0]:.3f}-{vals[-1]:.3f}  (n={len(vals)})")
print(f"\n-X with {sys.argv[2]} arguments, one job at a time, {len(rows)} paired rounds")
for t in ("prun", "xargs", "parallel"):
    if t in rows[0]: show(f"{t} seconds", [r[t] for r in rows])
show("prun / xargs (time ratio)", [r["prun"] / r["xargs"] for r in rows])
if "parallel" in rows[0]:
    show("parallel / prun (prun is N x faster)", [r["parallel"] / r["prun"] for r in rows])
PY
