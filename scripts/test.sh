#!/usr/bin/env bash
# prockit's test command: set up what is missing, build into build/ with warnings as errors, and
# run the whole test suite. The exit status is the verdict.
#   scripts/test.sh [ctest arguments...]     e.g.  scripts/test.sh -L unit
# PROCKIT_TEST_BUILD names another build directory; PROCKIT_CMAKE_ARGS adds configure arguments.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROCKIT_ROOT"

ensure_packages "${PROCKIT_BUILD_DEPS[@]}"
build_tree "${PROCKIT_TEST_BUILD:-build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROCKIT_WERROR=ON \
    ${PROCKIT_CMAKE_ARGS:-}
say "testing"
ctest --test-dir "${PROCKIT_TEST_BUILD:-build}" --output-on-failure -j "$(nproc)" "$@"
