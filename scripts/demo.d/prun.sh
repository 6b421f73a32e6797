# prun demo (sourced by scripts/demo.sh after the build; DEMO_BUILD is the build tree, DEMO_TMP a
# scratch directory): one supervised command, a small pool with --tag and a joblog, linked input
# sources, a pool's failed-job count, a timeout, then GNU parallel's forms (lines on stdin, command
# lines as input, a command string, several arguments per job); statuses other than 0 are shown,
# not fatal. The one-command lines say --single: with data on its stdin a bare `prun CMD` is a pool.
prun_bin="$DEMO_BUILD/tools/prun/prun"

say "prun: one supervised command at nice 5 (nice prints its niceness; exit status passed on)"
"$prun_bin" --single --nice 5 -- nice

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
"$prun_bin" --single --timeout 1s --kill-after 1s -- sleep 30 || status=$?
echo "exit status $status (124: timed out)"

say "prun: lines on stdin make a pool, as with GNU parallel"
seq 3 | "$prun_bin" -k echo line

say "prun: no command: each input line is a command line (run by the shell)"
printf 'echo a\necho b | tr b c\n' | "$prun_bin" -k

say "prun: a command string with shell syntax runs through the shell, each value quoted"
"$prun_bin" -k 'echo {} | tr a-z A-Z' ::: foo "bar; echo not-run"

say "prun: -X packs as many arguments per job as fit (100,000 numbers, few echo runs)"
seq 100000 | "$prun_bin" -X -k echo | wc -l
