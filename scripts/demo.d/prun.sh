# prun demo (sourced by scripts/demo.sh after the build): a small pool with --tag and a joblog,
# linked input sources, then a timeout.
prun_bin="$PROCKIT_ROOT/build/tools/prun/prun"
if [ -x "$prun_bin" ]; then
    prun_demo_dir="$(mktemp -d)"
    echo "== prun: 3 jobs at -j2, tagged, with a joblog"
    "$prun_bin" -j2 -k --tag --joblog "$prun_demo_dir/jobs.tsv" printf 'hello from %s (job {#}, slot {%})\n' {} ::: alpha beta gamma
    cut -f1,4,7,9 "$prun_demo_dir/jobs.tsv"
    echo "== prun: linked sources (:::+) crossed with a third, labelled by --tagstring"
    "$prun_bin" -k --tagstring '{1}/{3}' echo {2} ::: en fr :::+ hello bonjour ::: x y
    echo "== prun: --timeout 1s on a 30 s sleep"
    "$prun_bin" --timeout 1s --kill-after 1s -- sleep 30
    echo "exit status $? (124: timed out)"
    rm -rf "$prun_demo_dir"
fi
