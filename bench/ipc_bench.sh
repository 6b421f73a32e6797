#!/usr/bin/env bash
# The Python peer of ipc_bench: the same transfers through Python's multiprocessing (Queue, Pipe,
# a locked Value), then prockit-vs-Python ratios from the rates ipc_bench recorded, and the issue's
# targets. Run by bench/run.sh after build-bench/bench/ipc_bench (or alone: it runs the binary
# itself when no results are there yet).
#   PROCKIT_BENCH_SCALE=0.1   scales every count (both sides) for a quick run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
results=${PROCKIT_BENCH_RESULTS:-/tmp/prockit-ipc_bench.results}
bin=${PROCKIT_BUILD_DIR:-$here/../build-bench}/bench/ipc_bench
if [ ! -s "$results" ]; then "$bin" >/dev/null; fi
if ! command -v python3 >/dev/null; then echo "ipc_bench.sh: python3 not found; no Python comparison" >&2; exit 0; fi

python3 - "$results" <<'PY'
import multiprocessing as mp, os, sys, time

scale = float(os.environ.get("PROCKIT_BENCH_SCALE", "1") or 1)
def n(x): return max(1, int(x * scale))

# Python is slow enough that its counts are smaller than prockit's; rates are compared.
QUEUE_ITEMS, BIG_ITEMS, PINGS, INCR = n(300_000), n(500), n(50_000), n(100_000)

def producer_small(q, count):
    for i in range(count): q.put(i)
def producer_big(q, count):
    b = b"q" * (1 << 20)
    for _ in range(count): q.put(b)
def echo(conn, count):
    for _ in range(count): conn.send(conn.recv())
def incr(v, count, start):
    start.wait()
    for _ in range(count):
        with v.get_lock(): v.value += 1

def queue_small():
    q = mp.Queue(); p = mp.Process(target=producer_small, args=(q, QUEUE_ITEMS))
    t = time.perf_counter(); p.start()
    for _ in range(QUEUE_ITEMS): q.get()
    p.join(); return QUEUE_ITEMS / (time.perf_counter() - t)
def queue_big():
    q = mp.Queue(); p = mp.Process(target=producer_big, args=(q, BIG_ITEMS))
    t = time.perf_counter(); p.start(); total = 0
    for _ in range(BIG_ITEMS): total += len(q.get())
    p.join(); return total / (time.perf_counter() - t)
def pingpong():
    a, b = mp.Pipe(); p = mp.Process(target=echo, args=(b, PINGS)); p.start(); b.close()
    t = time.perf_counter()
    for i in range(PINGS):
        a.send(i); a.recv()
    s = time.perf_counter() - t; p.join(); return PINGS / s
def lock_value():
    v = mp.Value("l", 0); start = mp.Barrier(4)
    ps = [mp.Process(target=incr, args=(v, INCR, start)) for _ in range(4)]
    t = time.perf_counter()
    for p in ps: p.start()
    for p in ps: p.join()
    s = time.perf_counter() - t
    assert v.value == 4 * INCR
    return 4 * INCR / s

py = {"queue_8byte": queue_small(), "queue_1mib": queue_big(), "pipe_pingpong": pingpong(), "lock_value": lock_value()}

ours = {}
for line in open(sys.argv[1]):
    name, secs, rate, unit = line.split()
    ours[name] = (float(secs), float(rate), unit)

def rate(name): return ours[name][1] if name in ours else float("nan")
def fmt(r, unit): return f"{r/1e9:.2f} GB/s" if unit == "B/s" else f"{r/1e6:.2f} M/s" if r >= 1e6 else f"{r/1e3:.1f} k/s"

print()
print(f"{'ipc: prockit vs Python multiprocessing':44} {'prockit':>12} {'python':>12} {'ratio':>9}  target")
rows = [("queue_8byte", "items/s", "≥ 50x Python and ≥ 10 M items/s", lambda r, p: r / p >= 50 and p * (r / p) >= 10e6),
        ("queue_1mib", "B/s", "≥ 2 GB/s", lambda r, p: r >= 2e9),
        ("pipe_pingpong", "items/s", "(vs raw pipe below)", None),
        ("lock_value", "items/s", "≥ 5x Python", lambda r, p: r / p >= 5)]
for name, unit, target, ok in rows:
    r = rate(name + "/prockit"); p = py[name]
    verdict = "" if ok is None else ("met" if ok(r, p) else "MISSED")
    print(f"{name:44} {fmt(r, unit):>12} {fmt(p, unit):>12} {r / p:8.1f}x  {target} {verdict}")
print()
print(f"{'ipc: prockit vs raw C loops (same binary)':44} {'prockit':>12} {'raw':>12} {'ratio':>9}")
for name, raw, unit in [("queue_8byte", "raw_ring", "items/s"), ("queue_1mib", "raw_pipe_1mib", "B/s"),
                        ("queue_1mib", "raw_pipe_64k", "B/s"), ("pipe_pingpong", "raw_pipe", "items/s"),
                        ("lock_value", "raw_mutex", "items/s")]:
    r = rate(name + "/prockit"); w = rate(f"{name}/{raw}")
    extra = ""
    if name == "pipe_pingpong":
        extra = "  target: round trip ≤ 1.2x raw: " + ("met" if w / r <= 1.2 else "MISSED")
    print(f"{name + ' vs ' + raw:44} {fmt(r, unit):>12} {fmt(w, unit):>12} {r / w:8.2f}x{extra}")
PY
