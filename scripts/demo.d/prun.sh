# prun demo (sourced by scripts/demo.sh after the build; DEMO_BUILD is the build tree, DEMO_TMP a
# scratch directory): one supervised command, a small pool with --tag and a joblog, linked input
# sources, a pool's failed-job count, then a timeout; statuses other than 0 are shown, not fatal.
prun_bin="$DEMO_BUILD/tools/prun/prun"

say "prun: one supervised command at nice 5 (nice prints its niceness; exit status passed on)"
"$prun_bin" --nice 5 -- nice

say "prun: 3 jobs at -j2, tagged, with a joblog"
"$prun_bin" -j2 -k --tag --joblog "$DEMO_TMP/jobs.tsv" printf 'hello from %s (job {#}, slot {%})\n' {} ::: alpha beta gamma
cut -f1,4,7,9 "$DEMO_TMP/jobs.tsv"

say "prun: linked sources (:::+) crossed with a third, labelled by --tagstring"
"$prun_bin" -k --tagstring '{1}/{3}' echo {2} ::: en fr :::+ hello bonjour ::: x y

say "prun: a pool's exit status counts its failed jobs (here 2 of 3)"
status=0
"$prun_bin" -j2 sh -c 'exit {}' ::: 0 1 2 || status=$?
echo "exit status $status (2 jobs failed)"

say "prun: --timeout 1s on a 30 s sleep"
status=0
"$prun_bin" --timeout 1s --kill-after 1s -- sleep 30 || status=$?
echo "exit status $status (124: timed out)"
