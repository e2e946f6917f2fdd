#!/usr/bin/env bash
# Lists the project's own C sources and headers (what clang-format governs).
cd "$(dirname "$0")/.." || exit 1
find include src cmd test -type f \( -name '*.c' -o -name '*.h' \) \
    -not -path '*/corpus*' 2>/dev/null | sort
