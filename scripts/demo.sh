#!/usr/bin/env bash
# prockit's demo: set up what is missing, build into build/, and show prockit at work.
# Uses only prockit's tools and examples and standard system commands; exits 0 and leaves nothing
# behind (its scratch directory and any process it started are removed by the EXIT trap).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROCKIT_ROOT"

ensure_packages "${PROCKIT_BUILD_DEPS[@]}"
# PROCKIT_DEMO_BUILD names a tree that is already configured (CI passes the one its tests used):
# it is only brought up to date. Otherwise build/ is configured as needed and built.
if [ -n "${PROCKIT_DEMO_BUILD:-}" ]; then
    DEMO_BUILD=$PROCKIT_DEMO_BUILD
    say "building $DEMO_BUILD"
    cmake --build "$DEMO_BUILD" -j "$(nproc)"
else
    DEMO_BUILD=build
    build_tree "$DEMO_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
DEMO_BUILD=$(cd "$DEMO_BUILD" && pwd)

# Shared by the demo.d parts: a scratch directory and the PIDs of what they start in the
# background; both go when the demo ends, however it ends.
DEMO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/prockit-demo.XXXXXX")
DEMO_PIDS=()
demo_cleanup() {
    local pid
    for pid in "${DEMO_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${DEMO_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$DEMO_TMP"
}
trap demo_cleanup EXIT

say "libprockit: named processes in parallel (examples/demo_parallel)"
"$DEMO_BUILD/examples/demo_parallel"

for demo in "$PROCKIT_ROOT"/scripts/demo.d/*.sh; do
    [ -e "$demo" ] || continue
    # shellcheck source=/dev/null
    source "$demo"
done
say "demo finished"
