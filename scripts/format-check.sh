#!/usr/bin/env bash
# Fails, listing the files, when any source differs from clang-format's output.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
bad=0
for f in $(scripts/sources.sh); do
    if ! clang-format --style=file "$f" | cmp -s - "$f"; then
        echo "format-check: $f is not clang-formatted (run: make format)"
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "format-check: ok ($(scripts/sources.sh | wc -l) files)"
exit $bad
