#!/usr/bin/env bash
# prockit's test command: set up what is missing, build into build/ with warnings as errors, and
# run the whole test suite. The exit status is the verdict.
#   scripts/test.sh [ctest arguments...]     e.g.  scripts/test.sh -L unit
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROCKIT_ROOT"

ensure_packages "${PROCKIT_BUILD_DEPS[@]}"
build_tree "${PROCKIT_BUILD_DIR:-build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROCKIT_WERROR=ON \
    ${PROCKIT_CMAKE_ARGS:-}
say "testing"
ctest --test-dir "${PROCKIT_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
