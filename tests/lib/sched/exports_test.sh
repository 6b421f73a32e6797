#!/bin/sh
# Checks what a shared libprockit exports (lib/prockit.map): no prockit::detail:: symbol, except
# those of entities a public header declares (inline code in the headers calls them, so they are
# the ABI a program compiled against the headers links to).
#   exports_test.sh LIBRARY.so INCLUDE_DIR
set -eu
so=$1
include=$2
symbols=$(nm -DC --defined-only "$so" | cut -d' ' -f3-)
[ -n "$symbols" ] || { echo "no exported symbols in $so"; exit 1; }
# The public API is there.
for needed in 'prockit::set_affinity_all_threads(' 'prockit::proc::Matcher::select() const' 'prockit::plan_cpus('; do
    printf '%s\n' "$symbols" | grep -qF "$needed" || { echo "not exported: $needed"; exit 1; }
done
# Symbols whose own name is in prockit::detail (not std:: instantiations over detail types, nor
# public functions taking one): the first name after detail:: must be declared in a public header.
# (clang's -fsanitize=function, part of UBSan, emits typeinfo for function types such as
# "typeinfo for prockit::detail::LockRc (pthread_mutex_t*)": a sanitizer artefact, not API.)
bad=$(printf '%s\n' "$symbols" | grep -v -E '^typeinfo (name )?for [^(]*\(' |
    sed -n -E 's/^((typeinfo name for|typeinfo for|vtable for|VTT for|guard variable for) )?([^ (]+ )?prockit::detail::([A-Za-z_][A-Za-z_0-9]*).*/\4/p' |
    sort -u | while read -r name; do
        grep -rqw -- "$name" "$include" || echo "prockit::detail::$name"
    done)
if [ -n "$bad" ]; then
    echo "internal detail:: symbols exported from $so:"
    echo "$bad"
    exit 1
fi
echo "ok: $(printf '%s\n' "$symbols" | wc -l) symbols exported, no internal detail::"
