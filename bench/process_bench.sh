#!/usr/bin/env bash
# The Python peer of process_bench: multiprocessing.Process(target=noop).start() + join(), with
# the fork and the spawn start methods, timed in python3 over N iterations, and compared with the
# prockit Process and raw fork() numbers that build-bench/bench/process_bench just measured in the
# same bench/run.sh run (it leaves them in $PROCKIT_BUILD_DIR/bench/process_bench.*.ns; this script
# reads them once and removes them). When they are not there (this script run alone), it runs
# process_bench itself first, so the numbers compared always come from the same run.
#   PROCKIT_PY_FORK_N (default 300), PROCKIT_PY_SPAWN_N (default 20): iterations.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PROCKIT_BUILD_DIR:-$root/build-bench}

if ! command -v python3 >/dev/null 2>&1; then
    echo "process_bench.sh: python3 not found; skipping the multiprocessing comparison"
    exit 0
fi

prockit_file=$build/bench/process_bench.prockit.ns
raw_file=$build/bench/process_bench.raw_fork.ns
if [ ! -s "$prockit_file" ] || [ ! -s "$raw_file" ]; then
    if [ ! -x "$build/bench/process_bench" ]; then
        echo "process_bench.sh: $build/bench/process_bench is not built (run bench/run.sh process_bench)" >&2
        exit 1
    fi
    PROCKIT_BUILD_DIR=$build "$build/bench/process_bench" >/dev/null
fi
prockit_ns=$(cat "$prockit_file")
raw_ns=$(cat "$raw_file")
rm -f "$prockit_file" "$raw_file"

# multiprocessing's spawn method re-imports the main module by path: the script must be a file.
script=$(mktemp --suffix=.py)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'PY'
import multiprocessing as mp
import sys
import time


def noop():
    pass


def per_iteration_ns(method, n):
    ctx = mp.get_context(method)
    p = ctx.Process(target=noop)  # warm-up: imports, the first start
    p.start()
    p.join()
    t0 = time.perf_counter_ns()
    for _ in range(n):
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        if p.exitcode != 0:
            sys.exit(f"process_bench.sh: a {method} child exited with {p.exitcode}")
    return (time.perf_counter_ns() - t0) / n


if __name__ == "__main__":
    prockit_ns, raw_ns = float(sys.argv[1]), float(sys.argv[2])
    counts = {"fork": int(sys.argv[3]), "spawn": int(sys.argv[4])}
    print(f"\nPython {sys.version.split()[0]} multiprocessing.Process start + join of a no-op, per iteration:")
    print(f"  {'prockit Process (process_bench)':40s} {prockit_ns / 1e3:10.1f} us")
    print(f"  {'raw fork + _exit + waitpid':40s} {raw_ns / 1e3:10.1f} us")
    rows = []
    for method, n in counts.items():
        ns = per_iteration_ns(method, n)
        print(f"  {'python ' + method + f' (n={n})':40s} {ns / 1e3:10.1f} us")
        rows.append((method, ns))
    print(f"\n{'case':40s} {'ratio':>8s}  (peer time / case time; >1 = faster than peer)")
    for method, ns in rows:
        print(f"{'prockit Process':40s} {ns / prockit_ns:8.3g}x  vs python multiprocessing {method}")
    for method, ns in rows:
        print(f"{'python multiprocessing ' + method:40s} {raw_ns / ns:8.3g}x  vs raw fork + _exit + waitpid")
PY
python3 "$script" "$prockit_ns" "$raw_ns" "${PROCKIT_PY_FORK_N:-300}" "${PROCKIT_PY_SPAWN_N:-20}"
