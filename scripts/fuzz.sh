#!/usr/bin/env bash
# Runs prockit's libFuzzer targets (tests/fuzz/) for a time each and fails on any finding.
#   scripts/fuzz.sh [--ci] [--merge] [SECONDS_PER_TARGET] [TARGET...]
#     SECONDS_PER_TARGET   default 600 (the ten minutes each target gets before a release)
#     TARGET               cpuset, codec, ... (default: every target built)
#     --ci                 every target for its share of about 60 s in all (SECONDS is ignored)
#     --merge              afterwards, add what found new coverage to the seed corpus
#                          (tests/fuzz/corpus/<target>/); otherwise that is never written
# The build tree is $PROCKIT_FUZZ_BUILD when set, and nothing is built then; by default it is
# build-clang, configured (clang, ASan + UBSan, PROCKIT_FUZZ=ON) and its `fuzz` target built.
# New inputs go to a scratch corpus ($PROCKIT_FUZZ_WORK, default <build>/fuzz-work/<target>/);
# a finding is written there as crash-*, leak-*, timeout-* or oom-*, and its path is printed.
# Each run is `nice -n 19`: the targets share the machine. The exit status is the verdict.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROCKIT_ROOT"

ci=0 merge=0 seconds=600 targets=()
for a in "$@"; do
    case $a in
        --ci) ci=1 ;;
        --merge) merge=1 ;;
        -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: cannot use option $a: unknown (see --help)" >&2; exit 2 ;;
        *[!0-9]*) targets+=("$a") ;;
        *) seconds=$a ;;
    esac
done

if [ -n "${PROCKIT_FUZZ_BUILD:-}" ]; then
    build=$PROCKIT_FUZZ_BUILD
else
    build=build-clang
    ensure_packages "${PROCKIT_BUILD_DEPS[@]}" clang
    if [ ! -f "$build/CMakeCache.txt" ]; then
        say "configuring $build"
        cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROCKIT_WERROR=ON \
            -DCMAKE_CXX_COMPILER=clang++ -DPROCKIT_SANITIZE=address,undefined -DPROCKIT_BENCH=ON >/dev/null
    fi
    cmake "$build" -DPROCKIT_FUZZ=ON >/dev/null  # the tree CI builds, with the fuzz targets in it
    say "building the fuzz targets in $build"
    cmake --build "$build" -j "$(nproc)" --target fuzz
fi
fuzz_dir=$build/tests/fuzz
if [ ! -d "$fuzz_dir" ]; then
    echo "fuzz.sh: cannot find the fuzz targets in $build: configure it with -DPROCKIT_FUZZ=ON and build its 'fuzz' target" >&2
    exit 1
fi
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$fuzz_dir"/fuzz_*; do
        [ -x "$f" ] && targets+=("${f##*/fuzz_}")
    done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz.sh: cannot find any fuzz target in $fuzz_dir: build the 'fuzz' target" >&2
    exit 1
fi
if [ $ci -eq 1 ]; then
    seconds=$((60 / ${#targets[@]}))
    [ "$seconds" -ge 1 ] || seconds=1
fi

work=${PROCKIT_FUZZ_WORK:-$build/fuzz-work}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
    exe=$fuzz_dir/fuzz_$t seeds=tests/fuzz/corpus/$t
    if [ ! -x "$exe" ] || [ ! -d "$seeds" ]; then
        echo "fuzz.sh: cannot run target $t: no $exe or no $seeds" >&2
        failed+=("$t")
        continue
    fi
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    dict=()
    [ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
    say "fuzzing $t for $seconds s"
    log=$work/$t/last.log
    rc=0
    # The scratch corpus comes first: libFuzzer writes new inputs into the first directory only.
    nice -n 19 "$exe" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$work/$t/artifacts/" "${dict[@]}" "$work/$t/corpus" "$seeds" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    printf '%s: %s executions in %s s, scratch corpus %s inputs\n' "$t" "${execs:-?}" "$seconds" \
        "$(find "$work/$t/corpus" -type f | wc -l)"
    if [ $rc -ne 0 ]; then
        failed+=("$t")
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*property violated|.*runtime error)' "$log" | head -5 >&2 || true
        repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "fuzz.sh: $t found a problem (exit $rc); reproducer: ${repro:-none written, see $log}" >&2
        echo "  re-run it with: $exe ${repro:-<input>}    full log: $log" >&2
        continue
    fi
    if [ $merge -eq 1 ]; then
        nice -n 19 "$exe" -merge=1 -timeout=5 -rss_limit_mb=1024 "$seeds" "$work/$t/corpus" >"$work/$t/merge.log" 2>&1
        echo "$t: seed corpus now $(find "$seeds" -type f | wc -l) inputs (keep it at 50 or fewer, each 4 KiB at most)"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: findings or failures in: ${failed[*]}" >&2
    exit 1
fi
say "no findings in ${#targets[@]} targets"
