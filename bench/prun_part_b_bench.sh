#!/usr/bin/env bash
# prun against GNU parallel on two part-B cases, in paired rounds (the two run back to back, the
# order alternating; the ratio is taken within the round), printing every round, then the median
# and range of each figure:
#   pipepart  `--pipepart -a FILE --block 64M -j2 wc -l` on a 1 GiB file of lines (made in
#             $TMPDIR, removed at the end): wall seconds and CPU seconds (user+sys of the whole
#             run, children included).
#   results   `--results DIR -j2 true ::: 1..N`: wall and CPU seconds (N = PRUN_BENCH_JOBS).
#   PRUN_BENCH_ROUNDS=5      rounds (at least 5 for a figure)
#   PRUN_BENCH_CASES="pipepart results"
#   PRUN_BENCH_FILE_MB=1024  the --pipepart file's size
#   PRUN_BENCH_JOBS=10000    --results jobs (GNU parallel runs ~16 a second on a loaded 2-core
#                            machine: 10,000 take ten minutes a round there)
#   PROCKIT_BUILD_DIR        where tools/prun/prun is (default: ../build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prun=${PROCKIT_BUILD_DIR:-$here/../build}/tools/prun/prun
rounds=${PRUN_BENCH_ROUNDS:-5}
cases=${PRUN_BENCH_CASES:-pipepart results}
mb=${PRUN_BENCH_FILE_MB:-1024}
njobs=${PRUN_BENCH_JOBS:-10000}
[ -x "$prun" ] || { echo "prun_part_b_bench: no prun at $prun (build the prun target)" >&2; exit 1; }
command -v parallel >/dev/null || { echo "prun_part_b_bench: GNU parallel is not installed (Debian package parallel)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/prun-part-b-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$work/rounds

# run NAME CMD...: "NAME=wall NAME_cpu=user+sys" for one run (output discarded).
run() {
    local name=$1 t
    shift
    /usr/bin/time -o "$work/time" -f '%e %U %S' "$@" > /dev/null 2> /dev/null || true
    read -r wall user sys < <(tail -1 "$work/time")
    echo "$name=$wall ${name}_cpu=$(echo "$user + $sys" | bc -l)"
}

one() {  # one TOOL CASE
    local tool=$1 c=$2 cmd
    if [ "$tool" = prun ]; then cmd=("$prun"); else cmd=(parallel --will-cite); fi
    case $c in
        pipepart) run "$tool" "${cmd[@]}" --pipepart -a "$work/big" --block 64M -j2 wc -l ;;
        results)
            rm -rf "$work/res"
            run "$tool" "${cmd[@]}" --results "$work/res" -j2 true :::: "$work/args" ;;
    esac
}

seq "$njobs" > "$work/args"
if [[ " $cases " == *" pipepart "* ]]; then
    # Lines of 100 bytes: mb MiB.
    python3 - "$work/big" "$mb" <<'PY'
import sys
line = ("x" * 99 + "\n").encode()
block = line * 10486  # ~1 MiB
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(block)
PY
fi

echo "load: $(uptime)"
for c in $cases; do
    one prun "$c" > /dev/null  # warm-up
    for ((r = 0; r < rounds; r++)); do
        if ((r % 2 == 0)); then a=prun b=parallel; else a=parallel b=prun; fi
        line="case=$c round=$r $(one $a "$c") $(one $b "$c")"
        echo "$line" | tee -a "$results"
    done
done
echo "load: $(uptime)"

python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for l in open(sys.argv[1]):
    d = dict(kv.split("=") for kv in l.split())
    rows.setdefault(d.pop("case"), []).append({k: float(v) for k, v in d.items() if k != "round"})
def show(name, vals):
    vals = sorted(vals)
    print(f"  {name:42} median {statistics.median(vals):8.3f}  range {vals[0]:.3f}-{vals[-1]:.3f}  (n={len(vals)})")
for c, rs in rows.items():
    print(f"\n{c}: {len(rs)} paired rounds")
    for k in ("prun", "parallel", "prun_cpu", "parallel_cpu"):
        show(f"{k} seconds", [r[k] for r in rs])
    show("parallel / prun, wall (prun is N x faster)", [r["parallel"] / r["prun"] for r in rs])
    show("parallel / prun, CPU", [r["parallel_cpu"] / max(r["prun_cpu"], 1e-3) for r in rs])
PY
