#!/bin/bash
# The fault battery of `make faults` (docs/faults.md): RUNS runs of run.sh,
# seeds SEED, SEED+1, ..., each bounded by timeout, then one summary of all
# of them: operations invoked and acknowledged per workload, faults injected
# by kind, anomalies found, and the runs that failed with their seeds.
#
#   test/faults/battery.sh BUILD_DIR RUNS
# Environment: SEED (from the clock when unset), DURATION=60, NODES=5, and
# whatever run.sh reads (WORKLOADS, FAULTS, CLIENTS, KEEP, ...). The last
# run goes over TLS (run.sh's TLS=1) when there are several and TLS is
# unset; TLS=0 or TLS=1 applies to every run.
set -u
BUILD=${1:?usage: battery.sh BUILD_DIR RUNS}
RUNS=${2:-3}
SEED0=${SEED:-$(( $(date +%s) % 100000 ))}
export DURATION=${DURATION:-60} NODES=${NODES:-5}
here=$(cd "$(dirname "$0")" && pwd)
SUM=$(mktemp /tmp/dqf-battery-XXXX)
trap 'rm -f "$SUM"' EXIT
fails=0
for i in $(seq 0 $(( RUNS - 1 ))); do
    s=$(( SEED0 + i ))
    tls=${TLS:-0}
    [ -z "${TLS:-}" ] && [ "$RUNS" -gt 1 ] && [ "$i" = $(( RUNS - 1 )) ] && tls=1
    TLS=$tls SEED=$s SUMMARY=$SUM timeout -k 5 $(( DURATION + 300 )) "$here/run.sh" "$BUILD"
    rc=$?
    if ! grep -q "^run $s " "$SUM"; then
        echo "run $s FAIL (run.sh exit $rc before its summary)" >>"$SUM"
    fi
    [ "$rc" = 0 ] || fails=$(( fails + 1 ))
done

echo
echo "== fault battery: $RUNS runs of ${DURATION}s on $NODES nodes, seeds $SEED0-$(( SEED0 + RUNS - 1 ))"
awk '
$1 == "ops" {
    w = $2; sub(/:$/, "", w); seen[w] = 1
    inv[w] += $4; ok[w] += $6; fl[w] += $8; inf[w] += $10
}
$1 == "verdict" {
    w = $2; sub(/:$/, "", w)
    if ($0 ~ /ANOMALIES/) { an[w] += $NF; anomalies += $NF }
    else if ($0 ~ /UNDECIDED/) { und[w]++; undecided++ }
}
$1 == "fault" { f[$2] += $3 }
$1 == "run" { r = $0; sub(/^run /, "", r); runs = runs "\n  " r }
END {
    print "operations (invoked, acknowledged ok, failed, unknown outcome):"
    for (w in seen)
        printf "  %-9s invoked %d, ok %d, fail %d, info %d\n", w, inv[w], ok[w], fl[w], inf[w]
    n = 0
    for (k in f) kinds[++n] = k
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && kinds[j - 1] > kinds[j]; j--) {
            t = kinds[j]; kinds[j] = kinds[j - 1]; kinds[j - 1] = t
        }
    s = ""
    for (i = 1; i <= n; i++) s = s " " kinds[i] "=" f[kinds[i]]
    print "faults injected:" (s == "" ? " none" : s)
    s = ""
    for (w in seen) s = s " " w "=" an[w] + 0
    printf "anomalies found: %d (%s), undecided histories: %d\n", anomalies, substr(s, 2), undecided
    print "runs:" runs
}' "$SUM"
echo "faults: $(( RUNS - fails )) passed, $fails failed"
[ "$fails" = 0 ]
