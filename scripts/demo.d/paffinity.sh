# paffinity demo (sourced by scripts/demo.sh after the build): the machine's topology, then a
# process with several threads shown, pinned (all threads), checked, and shown again.
paff="$PROCKIT_ROOT/build/tools/paffinity/paffinity"

say "paffinity: this machine's CPUs (paffinity topology)"
"$paff" topology

say "paffinity: a process with 4 threads"
# (a small thread-making helper from the test suite; it lives while its stdin is open)
coproc PAFF_DEMO { exec "$PROCKIT_ROOT/build/tests/helper/paffinity-test-threads" threads 3 paffinity-demo >/dev/null; }
demo_pid=$PAFF_DEMO_PID
trap 'kill "$demo_pid" 2>/dev/null || true' EXIT
# Wait until its threads exist (a deadline, not a guess).
for _ in $(seq 100); do
    [ "$(ls "/proc/$demo_pid/task" 2>/dev/null | wc -l)" -ge 4 ] && break
    sleep 0.05
done
"$paff" -a "$demo_pid"

last_cpu=$("$paff" topology --json | sed -n 's/.*"allowed":"\([^"]*\)".*/\1/p' | tr ',' '\n' | tail -n 1)
last_cpu=${last_cpu##*-}
say "paffinity: pin every thread of it, selected by command line, to CPU $last_cpu"
"$paff" --set "$last_cpu" -a --match 'threads 3 paffinity-demo$'
"$paff" -a "$demo_pid"
"$paff" --check "$demo_pid"

say "paffinity: the same as JSON, and in taskset's words"
"$paff" --json "$demo_pid"
"$paff" --taskset-format=list -a "$demo_pid"

say "paffinity: launch a command on CPU $last_cpu (paffinity execs it; no process stays behind)"
"$paff" --cpus "$last_cpu" -- grep Cpus_allowed_list /proc/self/status

kill "$demo_pid" 2>/dev/null || true
trap - EXIT
