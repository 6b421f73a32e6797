# paffinity demo (sourced by scripts/demo.sh after the build; DEMO_BUILD is the build tree, and
# DEMO_PIDS lists what demo.sh ends on exit): the machine's topology, then a process shown, pinned
# (all threads, selected by its command line), checked, and shown again; then a command launched
# on one CPU.
paff="$DEMO_BUILD/tools/paffinity/paffinity"

say "paffinity: this machine's CPUs (paffinity topology)"
"$paff" topology

say "paffinity: a process to work on (sleep, renamed prockit-paffinity-demo)"
bash -c 'exec -a prockit-paffinity-demo sleep 300' &
demo_pid=$!
DEMO_PIDS+=("$demo_pid")
# Wait until the exec has happened (a deadline, not a guess): the name shows in its cmdline.
for _ in $(seq 100); do
    tr '\0' ' ' <"/proc/$demo_pid/cmdline" 2>/dev/null | grep -q '^prockit-paffinity-demo' && break
    sleep 0.05
done
"$paff" -a "$demo_pid"

last_cpu=$("$paff" topology --json | sed -n 's/.*"allowed":"\([^"]*\)".*/\1/p' | tr ',' '\n' | tail -n 1)
last_cpu=${last_cpu##*-}
say "paffinity: pin every thread of it, selected by command line, to CPU $last_cpu"
"$paff" --set "$last_cpu" -a --match '^prockit-paffinity-demo 300$'
"$paff" -a "$demo_pid"
"$paff" --check "$demo_pid"

say "paffinity: the same as JSON, and in taskset's words"
"$paff" --json "$demo_pid"
"$paff" --taskset-format=list -a "$demo_pid"

say "paffinity: launch a command on CPU $last_cpu (paffinity execs it; no process stays behind)"
"$paff" --cpus "$last_cpu" -- grep Cpus_allowed_list /proc/self/status
