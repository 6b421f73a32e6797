#!/usr/bin/env bash
# prockit's Debian packages, end to end: build them (dpkg-buildpackage -b) from a copy of this
# tree, lint them, install them with apt-get, smoke-test everything they install (each tool's
# --version, --help and one real action; man pages; bash, zsh and fish completions; systemd
# units), build tests/consumer/ against the installed library (CMake and pkg-config), then remove
# and purge them and check that nothing they installed is left. Needs root (apt-get).
#   scripts/package-test.sh              the whole test
#   scripts/package-test.sh --build-only build and lint only
#   scripts/package-test.sh --reuse      install-test the .debs of the last build again
# PROCKIT_DEB_DIR: scratch directory for the source copy and the .debs (default /tmp/prockit-deb).
# PROCKIT_CCACHE=1: compile through ccache. DEB_BUILD_OPTIONS defaults to "nocheck parallel=N"
# (the test suite runs separately, scripts/test.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROCKIT_ROOT"

build_only=0 reuse=0
case ${1:-} in
    --build-only) build_only=1 ;;
    --reuse) reuse=1 ;;  # test the .debs already in $PROCKIT_DEB_DIR (skip build and lint)
esac
work=${PROCKIT_DEB_DIR:-/tmp/prockit-deb}
packages=(libprockit0 libprockit-dev prockit)
failures=0
fail() { printf 'package-test: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf '  ok: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ] && [ $build_only -eq 0 ]; then
    echo "package-test: cannot install packages: run as root (or with --build-only)" >&2
    exit 2
fi
ensure_packages "${PROCKIT_BUILD_DEPS[@]}" dpkg-dev debhelper fakeroot lintian man-db

if [ $reuse -eq 0 ]; then
# --- build, from a copy of the tree as it is (dpkg-buildpackage writes its .debs next to it)
say "building the packages in $work"
rm -rf "$work"
mkdir -p "$work/prockit"
tar -C "$PROCKIT_ROOT" --exclude=.git --exclude='./build*' --exclude='./obj-*' -cf - . | tar -C "$work/prockit" -xf -
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-"nocheck parallel=$(nproc)"}
t0=$SECONDS
if ! (cd "$work/prockit" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1); then
    tail -n 60 "$work/build.log" >&2
    echo "package-test: cannot build the packages: dpkg-buildpackage failed (log: $work/build.log)" >&2
    exit 1
fi
say "built in $((SECONDS - t0)) s: $(cd "$work" && echo ./*.deb)"
changes=$(echo "$work"/prockit_*.changes)

# --- lint: no errors, no warnings (overrides live in debian/*.lintian-overrides, with reasons)
say "lintian"
if lintian --fail-on error,warning --display-info --show-overrides "$changes" >"$work/lintian.log" 2>&1; then
    ok "lintian: no errors or warnings"
else
    fail "lintian reported errors or warnings"
fi
sed 's/^/  lintian: /' "$work/lintian.log" >&2
[ $build_only -eq 1 ] && { [ $failures -eq 0 ] || exit 1; exit 0; }
fi

# --- install
say "installing"
export DEBIAN_FRONTEND=noninteractive
apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1 || true
debs=()
for p in "${packages[@]}"; do debs+=("$(echo "$work/${p}_"*.deb)"); done
apt-get install -y -qq --no-install-recommends "${debs[@]}" >"$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; echo "package-test: cannot install the packages" >&2; exit 1; }
for p in "${packages[@]}"; do dpkg -L "$p"; done | sort -u >"$work/paths"

# --- the tools: --version, --help, one real action, linked as Debian wants
say "tools"
tools=$(dpkg -L prockit | grep '^/usr/bin/.' | xargs -n1 basename)
# pjobs: a job run, waited for and listed under a private runtime and state directory, then the
# server stopped, and no process of that directory left (not the server, not a job's holder).
pjobs_action() {
    local d rc=0
    d=$(mktemp -d)
    (
        export XDG_RUNTIME_DIR=$d/run XDG_STATE_HOME=$d/state
        mkdir -m 700 "$XDG_RUNTIME_DIR"
        started=$(pjobs run --no-tty -- true) || exit 1
        [[ "$started" =~ ^\[1\]\ [0-9]+$ ]] || { echo "pjobs run printed '$started'" >&2; exit 1; }
        pjobs wait %1 || { echo "pjobs wait %1 exited with $?" >&2; exit 1; }
        listed=$(pjobs list) || exit 1
        [[ "$listed" =~ ^\[1\].*Done.*true ]] || { echo "pjobs list printed '$listed'" >&2; exit 1; }
        pjobs server stop || exit 1
        # Everything started for $d is gone within 10 s (a process's environment names it).
        for _ in $(seq 200); do
            left=$(grep -lsF "XDG_RUNTIME_DIR=$d/run" /proc/[0-9]*/environ || true)
            [ -z "$left" ] && exit 0
            sleep 0.05
        done
        echo "pjobs left processes running: $left" >&2
        exit 1
    ) || rc=1
    rm -rf "$d"
    return $rc
}
# poomguard: this shell's score as JSON, checked against /proc, and the installed example rules
# checked, with their names listed.
poomguard_action() {
    local json adj d rc=0 f
    json=$(poomguard show --pid $$ -J) || return 1
    adj=$(cat /proc/$$/oom_score_adj)
    [[ "$json" =~ ^\{\"processes\":\[\{\"pid\":$$,\"name\":\"[^\"]*\",\"oom_score\":[0-9]+,\"oom_score_adj\":$adj, ]] \
        || { echo "poomguard show --pid $$ -J printed '$json' (oom_score_adj $adj)" >&2; return 1; }
    d=$(mktemp -d)
    for f in $(grep '/examples/poomguard/.*\.conf\(\.gz\)\?$' "$work/paths"); do
        zcat -f "$f" >"$d/$(basename "$f" .gz)"
    done
    if ! compgen -G "$d/*.conf" >/dev/null; then
        echo "no example rules installed under /usr/share/doc/prockit/examples/poomguard" >&2; rc=1
    elif ! poomguard check-config "$d"/*.conf || [ -z "$(poomguard check-config --list-rules "$d"/*.conf)" ]; then
        echo "poomguard check-config on the example rules failed" >&2; rc=1
    fi
    rm -rf "$d"
    return $rc
}
real_action() {  # one thing each tool is for; a tool without an entry here is reported
    local t=$1
    case $t in
        prun) [ "$(prun -j2 -k echo ::: a b)" = "$(printf 'a\nb')" ] && prun -- true ;;
        paffinity) [[ "$(paffinity $$)" =~ (^|$'\n')\ *$$\  ]] && paffinity --cpus 0 -- true ;;
        pjobs) pjobs_action ;;
        poomguard) poomguard_action ;;
        *) echo "no real action known for $t: add one to real_action() in $0" >&2; return 1 ;;
    esac
}
for t in $tools; do
    v=$("$t" --version 2>&1) || fail "$t --version exited with $?"
    [[ "$v" == *0.* ]] || fail "$t --version printed '$v'"
    h=$("$t" --help 2>&1) || fail "$t --help exited with $?"
    grep -q -- --help <<<"$h" || fail "$t --help does not list --help"
    real_action "$t" >/dev/null || fail "$t: its real action failed"
    libs=$(ldd "/usr/bin/$t")
    grep -q 'libprockit\.so\.0 ' <<<"$libs" || fail "$t does not link the shared libprockit"
    grep -q 'libstdc++\.so\.6 ' <<<"$libs" || fail "$t does not link the shared libstdc++"
    ok "$t"
done

# --- man pages: found by man -w, formatted by man -l without a warning
say "man pages"
export MANWIDTH=80 LC_ALL=C.UTF-8
while read -r page; do
    base=$(basename "$page" .gz)
    name=${base%.*} section=${base##*.}
    man -w "$section" "$name" >/dev/null 2>&1 || fail "man -w $section $name finds no page"
    warnings=$(man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "man -l $page: $warnings"
    text=$(zcat -f "$page")
    grep -q '^\.so ' <<<"$text" && fail "$page still has a .so include"
    ok "$name($section)"
done < <(grep '^/usr/share/man/man[1-8]/.' "$work/paths")
for t in $tools; do
    man -w 1 "$t" >/dev/null 2>&1 || fail "$t has no man page"
done

# --- completions
say "completions"
# What the installed bash completion offers for `TOOL WORD... CURRENT`: bash-completion loads it
# on demand, then its function runs as for a TAB.
bash_complete() {
    bash --norc -i -c '
        . /usr/share/bash-completion/bash_completion
        __load_completion "$1" || _completion_loader "$1"
        spec=$(complete -p "$1") || exit 1
        fn=$(sed -n "s/.* -F \([^ ]*\) .*/\1/p" <<<"$spec")
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}"' bash "$@" 2>/dev/null </dev/null || true
}
for t in $tools; do
    got=$(bash_complete "$t" --hel)
    grep -qx -- '--help' <<<"$got" || fail "bash: complete -p $t, then '$t --hel<TAB>' gave '${got//$'\n'/ }'"
    # zsh: the file parses and sits on zsh's default $fpath.
    z=/usr/share/zsh/vendor-completions/_$t
    if [ -f "$z" ] && zsh -n "$z" && zsh -fc "[[ \${fpath[(Ie)${z%/*}]} -gt 0 ]]"; then :; else fail "zsh completion of $t"; fi
    # fish: the file parses and fish completes from it.
    f=/usr/share/fish/vendor_completions.d/$t.fish
    if [ -f "$f" ] && fish -n "$f" && grep -q -- '^--help' <<<"$(fish -c "complete -C '$t --hel'")"; then :; else fail "fish completion of $t"; fi
    ok "$t: bash, zsh, fish"
done
# Values: `paffinity --cpus <TAB>` offers every online CPU and the whole list; `poomguard set 500
# <TAB>` offers PIDs, not commands.
before=$failures
online=$(cat /sys/devices/system/cpu/online)
got=$(bash_complete paffinity --cpus "")
want=("$online")
for r in ${online//,/ }; do want+=($(seq "${r%-*}" "${r#*-}")); done
for w in "${want[@]}"; do
    grep -qxF -- "$w" <<<"$got" || fail "bash: 'paffinity --cpus <TAB>' gave '${got//$'\n'/ }', not CPU $w"
done
got=$(bash_complete poomguard set 500 "")
grep -qx "$$" <<<"$got" && ! grep -qx "ls" <<<"$got" \
    || fail "bash: 'poomguard set 500 <TAB>' should offer PIDs, not commands"
[ $failures -eq $before ] && ok "bash completes values: CPUs, PIDs"

# --- systemd units
say "systemd units"
if command -v systemd-analyze >/dev/null; then
    while read -r unit; do
        scope=()
        [[ "$unit" == */systemd/user/* ]] && scope=(--user)
        exe=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$unit" | head -n1)
        if [ -x "$exe" ]; then
            XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work} systemd-analyze verify "${scope[@]}" "$unit" \
                || fail "systemd-analyze verify ${scope[*]} $unit"
            ok "$unit"
        else
            # Its program arrives with another tool: check the unit's syntax with a stand-in.
            copy=$work/units/$(basename "$unit")
            mkdir -p "$work/units"
            sed "s|^\(Exec[A-Za-z]*=[-@:+!]*\)$exe|\1/bin/true|" "$unit" >"$copy"
            XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work} systemd-analyze verify --man=no "${scope[@]}" "$copy" \
                || fail "systemd-analyze verify (syntax) $unit"
            echo "  skipped: full verify of $unit: $exe is not installed (syntax checked with /bin/true)" >&2
        fi
    done < <(grep -E '/systemd/(system|user)/.+\.(service|socket|timer)$' "$work/paths")
else
    echo "  skipped: systemd units: systemd-analyze is not installed" >&2
fi

# --- a consumer, against the installed library: CMake package and pkg-config
say "consumer build"
cflags=$(pkg-config --cflags prockit) || fail "pkg-config finds no prockit"
grep -q -- '-std=' <<<"$cflags" && fail "pkg-config --cflags prockit names a -std= flag: $cflags"
rm -rf "$work/consumer"
if cmake -S tests/consumer/project -B "$work/consumer" -G Ninja >"$work/consumer.log" 2>&1 \
    && cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1 \
    && "$work/consumer/consumer_cmake" && "$work/consumer/consumer_pkgconfig"; then
    for c in consumer_cmake consumer_pkgconfig; do
        libs=$(ldd "$work/consumer/$c")
        grep -Eq '=> /(usr/)?lib/.*/libprockit\.so\.0 ' <<<"$libs" || fail "$c does not use the installed libprockit.so.0"
    done
    ok "tests/consumer built and ran both ways"
else
    cat "$work/consumer.log" >&2
    fail "tests/consumer against the installed packages"
fi

# --- removal: every path the packages installed is gone, but directories other packages share
say "remove and purge"
apt-get remove -y -qq "${packages[@]}" >/dev/null
# A package without conffiles is gone after remove; the others are purged (dpkg ignores the rest).
dpkg --purge "${packages[@]}" >/dev/null 2>&1
left=0
while read -r path; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    if [ -d "$path" ] && dpkg -S "$path" >/dev/null 2>&1; then continue; fi  # shared with a package
    if [ -d "$path" ] && [ -n "$(ls -A "$path")" ]; then continue; fi        # holds others' files
    fail "left behind after purge: $path"
    left=$((left + 1))
done <"$work/paths"
[ $left -eq 0 ] && ok "nothing left of $(wc -l <"$work/paths") installed paths"

if [ $failures -ne 0 ]; then
    echo "package-test: $failures check(s) failed" >&2
    exit 1
fi
say "package test passed"
