#!/usr/bin/env bash
# prockit's demo: set up what is missing, build into build/, and show prockit at work.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROCKIT_ROOT"

ensure_packages "${PROCKIT_BUILD_DEPS[@]}"
build_tree build -DCMAKE_BUILD_TYPE=RelWithDebInfo

say "libprockit: named processes in parallel (examples/demo_parallel)"
build/examples/demo_parallel

for demo in "$PROCKIT_ROOT"/scripts/demo.d/*.sh; do
    [ -e "$demo" ] || continue
    # shellcheck source=/dev/null
    source "$demo"
done
