#!/usr/bin/env bash
# Load figures for issue 18: prun through N jobs (inputs on stdin, --joblog, one line of output
# from each job), sampled from /proc while it runs — the largest VmHWM and descriptor count of
# prun's processes — with jobs/s and CPU time. Run at 10,000 and 100,000 jobs, the peaks show
# whether memory and descriptors depend on the job count (tests/fault/fault_load_test.cpp checks
# the same at CI size). Prints one line per run and `uptime`.
#   LOAD_BENCH_SIZES="10000 100000"   job counts, run in this order, alternating for each round
#   LOAD_BENCH_ROUNDS=1               rounds
#   LOAD_BENCH_JOBS=4                 prun -j
#   PROCKIT_BUILD_DIR                 where tools/prun/prun is (default: ../build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prun=${PROCKIT_BUILD_DIR:-$here/../build}/tools/prun/prun
sizes=${LOAD_BENCH_SIZES:-10000 100000}
rounds=${LOAD_BENCH_ROUNDS:-1}
slots=${LOAD_BENCH_JOBS:-4}
[ -x "$prun" ] || { echo "load_bench: no prun at $prun (build the prun target)" >&2; exit 1; }

dir=$(mktemp -d /tmp/load-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "uptime: $(uptime)"
for ((r = 0; r < rounds; r++)); do
    for n in $sizes; do
        seq "$n" > "$dir/in"
        rm -f "$dir/joblog"
        python3 - "$prun" "$n" "$slots" "$dir" <<'PY'
import os, subprocess, sys, time
prun, n, slots, d = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
exe = os.path.realpath(prun)
def field(pid, name):
    try:
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                if l.startswith(name + ":"):
                    return int(l.split()[1])
    except OSError:
        pass
    return 0
def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0
def cpu(pid):  # utime + stime in ticks
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        rest = s[s.rindex(")") + 2:].split()
        return int(rest[11]) + int(rest[12])
    except (OSError, ValueError):
        return 0
def pool(pid):  # prun's processes: the top one and its children running prun
    out = [pid]
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                for c in f.read().split():
                    try:
                        if os.path.realpath(f"/proc/{c}/exe") == exe:
                            out.append(int(c))
                    except OSError:
                        pass
    except OSError:
        pass
    return out
t0 = time.monotonic()
with open(f"{d}/in") as i, open(f"{d}/out", "w") as o, open(f"{d}/err", "w") as e:
    p = subprocess.Popen([prun, "-j", slots, "--joblog", f"{d}/joblog", "echo", "{}"], stdin=i, stdout=o, stderr=e)
    hwm = nfd = samples = 0
    own = {}
    while p.poll() is None:
        for q in pool(p.pid):
            hwm = max(hwm, field(q, "VmHWM"))
            nfd = max(nfd, fds(q))
            own[q] = max(own.get(q, 0), cpu(q))
        samples += 1
        time.sleep(0.05)
wall = time.monotonic() - t0
import resource
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
lines = sum(1 for _ in open(f"{d}/out"))
rows = sum(1 for _ in open(f"{d}/joblog")) - 1
tick = os.sysconf("SC_CLK_TCK")
print(f"jobs={n} status={p.returncode} out_lines={lines} joblog_rows={rows} wall={wall:.1f}s "
      f"jobs/s={n / wall:.0f} peak_rss_kib={hwm} peak_fds={nfd} prun_cpu={sum(own.values()) / tick:.1f}s "
      f"tree_cpu={ch.ru_utime + ch.ru_stime:.1f}s samples={samples}")
PY
    done
done
echo "uptime: $(uptime)"
