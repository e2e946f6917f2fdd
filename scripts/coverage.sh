#!/usr/bin/env bash
# Line coverage of one module by its unit tests plus the tiers that drive it
# (for raft: the scenario tests inside unit-raft, the cluster simulator and
# the raft message fuzz corpus). Builds build/coverage, runs the tests from
# zeroed counters and prints one line per source file and a total.
#   scripts/coverage.sh MODULE [SIM_SEEDS]   (e.g. scripts/coverage.sh raft)
set -eu -o pipefail
module=${1:?usage: coverage.sh MODULE [SIM_SEEDS]}
seeds=${2:-2000}
B=build/coverage
bins=("$B/test/unit-$module")
[ "$module" = raft ] && bins+=("$B/test/sim")
replays=()
for f in test/fuzz/"${module}"_*.c; do
    [ -e "$f" ] && replays+=("$(basename "$f" .c)")
done
make --no-print-directory COVERAGE=1 "${bins[@]}" \
    "${replays[@]/#/$B/test/replay-}" >/dev/null
find "$B/obj" -name '*.gcda' -delete
"$B/test/unit-$module" >/dev/null 2>&1
[ "$module" = raft ] && "$B/test/sim" --seeds "$seeds" >/dev/null 2>&1
for r in "${replays[@]}"; do
    "$B/test/replay-$r" "test/fuzz/corpus/$r" >/dev/null 2>&1
done
cd "$B/obj/$module"
gcov -n -o . "$OLDPWD"/src/"$module"/*.c 2>/dev/null |
    awk -v m="$module" '
        /^File / { f = $2; gsub(/\x27/, "", f) }
        /^Lines executed:/ {
            if (f == "" || f !~ "src/" m "/") next
            split($2, a, "%"); pct = substr(a[1], 10); n = $4
            hit = pct * n / 100; H += hit; N += n
            sub(".*/src/", "src/", f)
            printf "%-40s %6.1f%% of %5d lines\n", f, pct, n
            f = ""
        }
        END { printf "%-40s %6.1f%% of %5d lines\n", "total " m, 100 * H / N, N }'
