#!/usr/bin/env bash
# Runs the tiers of `make check` one after another (as make -k would) and
# ends with a summary that names every failed target and shows the tail of
# its output: CI keeps only the end of a long log, and that end must say
# what broke.
#   scripts/check-run.sh BUILD_DIR TARGET... (MAKEFLAGS passes SAN= etc.)
set -u -o pipefail
build=${1:?usage: check-run.sh BUILD_DIR TARGET...}
shift
logs=$build/check-logs
mkdir -p "$logs"
failed=()
for target in "$@"; do
    if ! make --no-print-directory -j1 "$target" 2>&1 | tee "$logs/$target.log"; then
        failed+=("$target")
    fi
done
if [ "${#failed[@]}" -eq 0 ]; then
    echo "[====] make check: all $# targets passed"
    exit 0
fi
for target in "${failed[@]}"; do
    echo "---- last lines of $target (whole output: $logs/$target.log)"
    tail -n 15 "$logs/$target.log"
done
echo "[====] make check: ${#failed[@]} of $# targets FAILED: ${failed[*]}"
exit 1
