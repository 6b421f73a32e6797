#!/bin/sh
# bench/pjobs_bench.sh — pjobs against its peers, paired runs, medians and ranges printed.
#   1. `pjobs run` latency (command issued -> job running: pjobs run returns once the job's PID is
#      known) vs `nohup CMD &` in a shell and vs task-spooler's `tsp` (when installed; it returns
#      once the job is queued, and with 1000 slots it starts at once), in rounds of three;
#   2. `pjobs list` with 10,000 finished jobs in the table (goal: <= 50 ms), with the client's and
#      the server's CPU time, beside two floors (bench/pjobs_list_floor): a C client sending the
#      same request to the same server, and one receiving the same bytes from a server that only
#      sends them;
#   3. output throughput while attached (`pjobs fg` under script(1)) vs the same job writing to a
#      pty directly (script(1) alone), goal >= 0.5x.
# Usage: [PJOBS_BENCH_SECTIONS="1 2 3"] bench/pjobs_bench.sh [BUILD_DIR] [PAIRS] [MIB]
set -eu
BUILD=${1:-build}
PAIRS=${2:-7}
MIB=${3:-256}
PJOBS=$(realpath "$BUILD/tools/pjobs/pjobs")
T=$(mktemp -d /tmp/pjobs-bench-XXXXXX)
export XDG_RUNTIME_DIR="$T/run" XDG_STATE_HOME="$T/state"
trap '"$PJOBS" kill -s KILL %% >/dev/null 2>&1 || true; "$PJOBS" server stop >/dev/null 2>&1 || true; rm -rf "$T"' EXIT

now() { date +%s%N; }
# PJOBS_BENCH_SECTIONS="1 3" runs only those sections (default: all three)
want() { case " ${PJOBS_BENCH_SECTIONS:-1 2 3} " in *" $1 "*) return 0 ;; esac; return 1; }
# stats NAME FILE: median and range of the numbers in FILE
stats() { sort -g "$2" | awk -v n="$1" '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%-34s median %10.3f  range %10.3f .. %10.3f  (n=%d)\n", n, m, v[1], v[NR], NR}'; }

"$PJOBS" list >/dev/null  # the server, started once
if want 1; then
TSP=$(command -v tsp || command -v ts || true)
if [ -n "$TSP" ] && ! "$TSP" -h 2>&1 | grep -qi "task spooler"; then TSP=""; fi  # moreutils' ts is another tool
if [ -n "$TSP" ]; then
  export TS_SOCKET="$T/tsp.sock" TMPDIR="$T"
  "$TSP" -S 1000 >/dev/null  # its server, started once; slots enough that every job starts at once
fi
: > "$T/run.ms"; : > "$T/nohup.ms"; : > "$T/tsp.ms"; : > "$T/ratio.run"; : > "$T/ratio.tsp"
i=0
while [ $i -lt "$PAIRS" ]; do
  a=$(now); "$PJOBS" run --no-tty -- sleep 30 >/dev/null; b=$(now)
  c=$(now); sh -c 'nohup sleep 30 >/dev/null 2>&1 & echo $! > '"$T/nohup.pid"; d=$(now)
  kill "$(cat "$T/nohup.pid")" 2>/dev/null || true
  "$PJOBS" kill -s KILL %% >/dev/null 2>&1 || true
  p=$(( (b - a) )); q=$(( (d - c) ))
  echo "$p" | awk '{print $1/1e6}' >> "$T/run.ms"
  echo "$q" | awk '{print $1/1e6}' >> "$T/nohup.ms"
  echo "$p $q" | awk '{print $1/$2}' >> "$T/ratio.run"
  if [ -n "$TSP" ]; then
    e=$(now); "$TSP" sleep 30 >/dev/null; f=$(now)
    echo "$((f - e))" | awk '{print $1/1e6}' >> "$T/tsp.ms"
    echo "$p $((f - e))" | awk '{print $1/$2}' >> "$T/ratio.tsp"
  fi
  i=$((i + 1))
done
echo "== pjobs run latency (ms), $PAIRS pairs"
stats "pjobs run --no-tty -- sleep" "$T/run.ms"
stats "sh -c 'nohup sleep &'" "$T/nohup.ms"
stats "ratio pjobs/nohup" "$T/ratio.run"
if [ -n "$TSP" ]; then
  stats "tsp sleep (task-spooler)" "$T/tsp.ms"
  stats "ratio pjobs/tsp" "$T/ratio.tsp"
  "$TSP" -K >/dev/null 2>&1 || true
else
  echo "task-spooler (tsp) is not installed: not measured"
fi

fi

if want 2; then
# 2. list with 10,000 finished jobs: the table written as the server writes it.
"$PJOBS" kill -s KILL %% >/dev/null 2>&1 || true
"$PJOBS" server stop
awk 'BEGIN { print "{\"pjobs_table\":1}";
  for (i = 1; i <= 10000; i++)
    printf "{\"argv\":[\"make\",\"-C\",\"dir%d\",\"all\"],\"code\":%d,\"cwd\":\"/tmp\",\"ended\":1796600000,\"id\":%d,\"kind\":\"exited\",\"pid\":%d,\"started\":1796599000,\"state\":\"done\",\"submitted\":1796599000,\"touch\":%d,\"tty\":true}\n", i, i % 3, i, 100000 + i, i }' \
  > "$XDG_STATE_HOME/prockit/pjobs-jobs.jsonl"
"$PJOBS" list >/dev/null  # loads the table
: > "$T/list.ms"; : > "$T/listj.ms"; : > "$T/floor.ms"; : > "$T/wire.ms"; : > "$T/listcpu.ms"; : > "$T/servercpu.ms"; : > "$T/floorcpu.ms"
SOCK="$XDG_RUNTIME_DIR/prockit/pjobs.sock"
SPID=$(cat "$XDG_RUNTIME_DIR/prockit/pjobs.pid")
FLOOR="$BUILD/bench/pjobs_list_floor"
if [ -x "$FLOOR" ]; then  # the same bytes from a server that only sends them
  "$PJOBS" list > "$T/list.txt"
  "$FLOOR" serve "$T/floor.sock" "$T/list.txt" & FLOOR_SERVER=$!
  while [ ! -S "$T/floor.sock" ]; do sleep 0.01; done
fi
server_ns() { awk '{print $1}' "/proc/$SPID/schedstat"; }  # time on a CPU, ns
# client_cpu_ms CMD...: the CPU time of CMD (perf's task-clock when perf is there, else 10 ms ticks)
client_cpu_ms() {
  if command -v perf >/dev/null 2>&1; then perf stat -x, -e task-clock -o "$T/cpu" "$@" >/dev/null; awk -F, '/task-clock/ {print $1}' "$T/cpu"
  else /usr/bin/time -f "%U %S" -o "$T/cpu" "$@" >/dev/null; awk '{print ($1 + $2) * 1000}' "$T/cpu"; fi
}
i=0
while [ $i -lt "$PAIRS" ]; do
  s0=$(server_ns)
  a=$(now); "$PJOBS" list >/dev/null; b=$(now)
  s1=$(server_ns)
  echo "$((b - a))" | awk '{print $1/1e6}' >> "$T/list.ms"
  echo "$((s1 - s0))" | awk '{print $1/1e6}' >> "$T/servercpu.ms"
  # the clients' own CPU, from a second run
  client_cpu_ms "$PJOBS" list >> "$T/listcpu.ms"
  [ -x "$FLOOR" ] && client_cpu_ms "$FLOOR" get "$SOCK" >> "$T/floorcpu.ms"
  if [ -x "$FLOOR" ]; then
    c=$(now); "$FLOOR" get "$SOCK" >/dev/null; d=$(now); "$FLOOR" cat "$T/floor.sock" >/dev/null; e=$(now)
    echo "$((d - c))" | awk '{print $1/1e6}' >> "$T/floor.ms"
    echo "$((e - d))" | awk '{print $1/1e6}' >> "$T/wire.ms"
  fi
  c=$(now); "$PJOBS" list -J >/dev/null; d=$(now)
  echo "$((d - c))" | awk '{print $1/1e6}' >> "$T/listj.ms"
  i=$((i + 1))
done
[ -n "${FLOOR_SERVER:-}" ] && kill "$FLOOR_SERVER"
echo "== pjobs list, 10,000 finished jobs (ms; goal <= 50)"
stats "pjobs list" "$T/list.ms"
stats "  client CPU (ms)" "$T/listcpu.ms"
stats "  server CPU (ms)" "$T/servercpu.ms"
if [ -x "$FLOOR" ]; then
  stats "floor: C client, same request" "$T/floor.ms"
  stats "  its CPU (ms)" "$T/floorcpu.ms"
  stats "floor: C client, bytes only" "$T/wire.ms"
fi
stats "pjobs list -J" "$T/listj.ms"
"$PJOBS" clean

fi

if want 3; then
# 3. attached throughput: $MIB MiB written to the job's terminal. Wall time, and — when the cgroup
# v1 cpuacct controller is writable (root) — the CPU time of everything on each path: for pjobs
# the server, the holder, the job and fg under script(1) (the server is restarted in the cgroup,
# its holders and jobs follow), for the peer script(1) and the writer.
CG=""
if mkdir "/sys/fs/cgroup/cpuacct/pjobs-bench-$$" 2>/dev/null; then
  CG="/sys/fs/cgroup/cpuacct/pjobs-bench-$$"
  mkdir "$CG/fg" "$CG/direct"
  "$PJOBS" server stop >/dev/null
  sh -c "echo \$\$ > $CG/fg/cgroup.procs; exec $PJOBS list" >/dev/null
fi
# in_cg NAME CMD...: runs CMD in cgroup NAME when there is one
in_cg() { g=$1; shift; if [ -n "$CG" ]; then sh -c 'echo $$ > "$0/cgroup.procs"; exec "$@"' "$CG/$g" "$@"; else "$@"; fi; }
usage() { if [ -n "$CG" ]; then cat "$CG/$1/cpuacct.usage"; else echo 0; fi; }
: > "$T/fg.s"; : > "$T/pty.s"; : > "$T/ratio.fg"; : > "$T/fgcpu.s"; : > "$T/ptycpu.s"; : > "$T/ratio.cpu"
i=0
while [ $i -lt "$PAIRS" ]; do
  rm -f "$T/go"
  "$PJOBS" run -- sh -c "while [ ! -e $T/go ]; do sleep 0.01; done; head -c ${MIB}M /dev/zero" >/dev/null
  u0=$(usage fg)
  a=$(now); in_cg fg script -qec "sh -c 'touch $T/go; exec $PJOBS fg %%'" /dev/null </dev/null >/dev/null 2>&1 || true; b=$(now)
  u1=$(usage fg); v0=$(usage direct)
  c=$(now); in_cg direct script -qec "head -c ${MIB}M /dev/zero" /dev/null >/dev/null 2>&1; d=$(now)
  v1=$(usage direct)
  echo "$((b - a))" | awk '{print $1/1e9}' >> "$T/fg.s"
  echo "$((d - c))" | awk '{print $1/1e9}' >> "$T/pty.s"
  echo "$((b - a)) $((d - c))" | awk -v m="$MIB" '{print (m/($1/1e9)) / (m/($2/1e9))}' >> "$T/ratio.fg"
  if [ -n "$CG" ]; then
    echo "$((u1 - u0))" | awk '{print $1/1e9}' >> "$T/fgcpu.s"
    echo "$((v1 - v0))" | awk '{print $1/1e9}' >> "$T/ptycpu.s"
    echo "$((u1 - u0)) $((v1 - v0))" | awk '{print $2 / $1}' >> "$T/ratio.cpu"
  fi
  "$PJOBS" clean >/dev/null
  i=$((i + 1))
done
echo "== attached output throughput, $MIB MiB (s; throughput ratio goal >= 0.5)"
stats "pjobs fg (job -> holder -> fg)" "$T/fg.s"
stats "direct to a pty (script)" "$T/pty.s"
stats "throughput ratio fg/direct" "$T/ratio.fg"
if [ -n "$CG" ]; then
  stats "CPU s, pjobs path (all processes)" "$T/fgcpu.s"
  stats "CPU s, direct path" "$T/ptycpu.s"
  stats "CPU ratio direct/pjobs" "$T/ratio.cpu"
  "$PJOBS" server stop >/dev/null 2>&1 || true
  for k in 1 2 3 4 5 6 7 8 9 10; do rmdir "$CG/fg" "$CG/direct" "$CG" 2>/dev/null && break; sleep 0.2; done
fi
fi
