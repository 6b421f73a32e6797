# poomguard demo (sourced by scripts/demo.sh): who the OOM killer would take next, a protected leader
# whose children go back to 0, a rules file applied once and checked, and `run` beside choom.
# Positive values only: lowering a score needs CAP_SYS_RESOURCE, which a demo cannot assume.
poom_bin="$DEMO_BUILD/tools/poomguard/poomguard"

say "poomguard: the five processes the OOM killer would take next"
"$poom_bin" top -n 5

say "poomguard: a leader at 500, its existing children reset to 0 (PostgreSQL's advice)"
sh -c 'sleep 30 & sleep 30 & wait' &
leader=$!
DEMO_PIDS+=("$leader")
for _ in $(seq 50); do [ "$(pgrep -c -P "$leader")" -ge 2 ] && break; sleep 0.1; done
"$poom_bin" set 500 "$leader" --children reset
"$poom_bin" show "$leader" $(pgrep -P "$leader")
pkill -P "$leader" || true

say "poomguard: a rules file, checked, then applied once to the running processes"
cp /bin/sleep "$DEMO_TMP/demo-db"
printf '[demo-db]\nmatch.exe = %s\nleader = 600\nchildren = reset\n' "$DEMO_TMP/demo-db" >"$DEMO_TMP/rules.conf"
"$poom_bin" check-config "$DEMO_TMP/rules.conf"
"$DEMO_TMP/demo-db" 30 &
db=$!
DEMO_PIDS+=("$db")
"$poom_bin" watch --once --config "$DEMO_TMP/rules.conf"
kill "$db" 2>/dev/null || true

say "poomguard: a malformed rules file is named with line and column (exit status shown)"
printf '[bad]\nmatch.comm = x\nadj = 5000\n' >"$DEMO_TMP/bad.conf"
status=0
"$poom_bin" check-config "$DEMO_TMP/bad.conf" || status=$?
echo "exit status $status"

say "poomguard run 700, side by side with choom"
"$poom_bin" run 700 -- cat /proc/self/oom_score_adj
if command -v choom >/dev/null; then choom -n 700 -- cat /proc/self/oom_score_adj; fi
