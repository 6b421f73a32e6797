#!/bin/sh
# bench/pjobs_bench.sh — pjobs against its peers, paired runs, medians and ranges printed.
#   1. `pjobs run` latency (command issued -> job running: pjobs run returns once the job's PID is
#      known) vs `nohup CMD &` in a shell (and task-spooler's `tsp` when installed);
#   2. `pjobs list` with 10,000 finished jobs in the table (goal: <= 50 ms);
#   3. output throughput while attached (`pjobs fg` under script(1)) vs the same job writing to a
#      pty directly (script(1) alone), goal >= 0.5x.
# Usage: bench/pjobs_bench.sh [BUILD_DIR] [PAIRS] [MIB]
set -eu
BUILD=${1:-build}
PAIRS=${2:-7}
MIB=${3:-256}
PJOBS=$(realpath "$BUILD/tools/pjobs/pjobs")
T=$(mktemp -d /tmp/pjobs-bench-XXXXXX)
export XDG_RUNTIME_DIR="$T/run" XDG_STATE_HOME="$T/state"
trap '"$PJOBS" kill -s KILL %% >/dev/null 2>&1 || true; "$PJOBS" server stop >/dev/null 2>&1 || true; rm -rf "$T"' EXIT

now() { date +%s%N; }
# stats NAME FILE: median and range of the numbers in FILE
stats() { sort -g "$2" | awk -v n="$1" '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%-34s median %10.3f  range %10.3f .. %10.3f  (n=%d)\n", n, m, v[1], v[NR], NR}'; }

"$PJOBS" list >/dev/null  # the server, started once
: > "$T/run.ms"; : > "$T/nohup.ms"; : > "$T/ratio.run"
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
  i=$((i + 1))
done
echo "== pjobs run latency (ms), $PAIRS pairs"
stats "pjobs run --no-tty -- sleep" "$T/run.ms"
stats "sh -c 'nohup sleep &'" "$T/nohup.ms"
stats "ratio pjobs/nohup" "$T/ratio.run"
if command -v tsp >/dev/null 2>&1; then
  : > "$T/tsp.ms"
  i=0
  while [ $i -lt "$PAIRS" ]; do
    a=$(now); TS_SOCKET="$T/tsp.sock" tsp sleep 30 >/dev/null; b=$(now)
    echo "$((b - a))" | awk '{print $1/1e6}' >> "$T/tsp.ms"
    i=$((i + 1))
  done
  stats "tsp sleep" "$T/tsp.ms"
  TS_SOCKET="$T/tsp.sock" tsp -K >/dev/null 2>&1 || true
fi

# 2. list with 10,000 finished jobs: the table written as the server writes it.
"$PJOBS" kill -s KILL %% >/dev/null 2>&1 || true
"$PJOBS" server stop
awk 'BEGIN { print "{\"pjobs_table\":1}";
  for (i = 1; i <= 10000; i++)
    printf "{\"argv\":[\"make\",\"-C\",\"dir%d\",\"all\"],\"code\":%d,\"cwd\":\"/tmp\",\"ended\":1796600000,\"id\":%d,\"kind\":\"exited\",\"pid\":%d,\"started\":1796599000,\"state\":\"done\",\"submitted\":1796599000,\"touch\":%d,\"tty\":true}\n", i, i % 3, i, 100000 + i, i }' \
  > "$XDG_STATE_HOME/prockit/pjobs-jobs.jsonl"
"$PJOBS" list >/dev/null  # loads the table
: > "$T/list.ms"; : > "$T/listj.ms"
i=0
while [ $i -lt "$PAIRS" ]; do
  a=$(now); "$PJOBS" list >/dev/null; b=$(now); "$PJOBS" list -J >/dev/null; c=$(now)
  echo "$((b - a))" | awk '{print $1/1e6}' >> "$T/list.ms"
  echo "$((c - b))" | awk '{print $1/1e6}' >> "$T/listj.ms"
  i=$((i + 1))
done
echo "== pjobs list, 10,000 finished jobs (ms; goal <= 50)"
stats "pjobs list" "$T/list.ms"
stats "pjobs list -J" "$T/listj.ms"
"$PJOBS" clean

# 3. attached throughput: $MIB MiB written to the job's terminal.
: > "$T/fg.s"; : > "$T/pty.s"; : > "$T/ratio.fg"
i=0
while [ $i -lt "$PAIRS" ]; do
  rm -f "$T/go"
  "$PJOBS" run -- sh -c "while [ ! -e $T/go ]; do sleep 0.01; done; head -c ${MIB}M /dev/zero" >/dev/null
  a=$(now); script -qec "sh -c 'touch $T/go; exec $PJOBS fg %%'" /dev/null </dev/null >/dev/null 2>&1 || true; b=$(now)
  c=$(now); script -qec "head -c ${MIB}M /dev/zero" /dev/null >/dev/null 2>&1; d=$(now)
  echo "$((b - a))" | awk '{print $1/1e9}' >> "$T/fg.s"
  echo "$((d - c))" | awk '{print $1/1e9}' >> "$T/pty.s"
  echo "$((b - a)) $((d - c))" | awk -v m="$MIB" '{print (m/($1/1e9)) / (m/($2/1e9))}' >> "$T/ratio.fg"
  "$PJOBS" clean >/dev/null
  i=$((i + 1))
done
echo "== attached output throughput, $MIB MiB (s; throughput ratio goal >= 0.5)"
stats "pjobs fg (job -> holder -> fg)" "$T/fg.s"
stats "direct to a pty (script)" "$T/pty.s"
stats "throughput ratio fg/direct" "$T/ratio.fg"
