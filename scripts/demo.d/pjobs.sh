# pjobs demo (sourced by scripts/demo.sh): jobs that live in a per-user server, listed, waited for
# with the shell's status, their logs read back. The server's socket and state go to the demo's
# scratch directory, and the server is stopped at the end.
pjobs_bin="$DEMO_BUILD/tools/pjobs/pjobs"
export XDG_RUNTIME_DIR="$DEMO_TMP/run" XDG_STATE_HOME="$DEMO_TMP/state"
mkdir -p -m 0700 "$XDG_RUNTIME_DIR"

say "pjobs: a job started in the background (it gets its own terminal), then the job table"
"$pjobs_bin" run --name ticker -- sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.3; done'
"$pjobs_bin" run --no-tty -- sh -c 'exit 3'
"$pjobs_bin" list

say "pjobs: wait gives each job's status as the shell's wait does"
status=0
"$pjobs_bin" wait %ticker || status=$?
echo "ticker: exit status $status"
status=0
"$pjobs_bin" wait %2 || status=$?
echo "job 2: exit status $status"

say "pjobs: the output of a finished job, kept in its log"
"$pjobs_bin" logs %ticker
"$pjobs_bin" list
"$pjobs_bin" clean
"$pjobs_bin" server stop
unset XDG_RUNTIME_DIR XDG_STATE_HOME
