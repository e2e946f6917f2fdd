#!/bin/bash
# `make faults-planted` (docs/faults.md): proof that the harness catches
# real bugs. Runs run.sh against faults-node with each planted bug and
# passes only when every bug is caught: the run fails with anomalies found
# by a checker (not merely undecided, not a crash). A bug whose window is a
# matter of timing gets up to TRIES seeds. faults-node is test code only:
# no build users get (libdqlite, dqlited) has the switch.
#
#   test/faults/planted.sh BUILD_DIR
# Environment: SEED (first seed of each bug, default per bug), TRIES=3,
# BUGS (space-separated names: run only those; default every bug).
set -u
BUILD=${1:?usage: planted.sh BUILD_DIR}
TRIES=${TRIES:-3}
here=$(cd "$(dirname "$0")" && pwd)
caught=0 missed=0

# try BUG FIRST_SEED SETTINGS...: runs up to TRIES seeds until one is caught.
try() {
    local bug=$1 s=$2 i log dir before=$caught
    shift 2
    [ -z "${BUGS:-}" ] || [[ " $BUGS " == *" $bug "* ]] || return 0
    for i in $(seq 0 $(( TRIES - 1 ))); do
        log=$(mktemp /tmp/dqf-planted-XXXX)
        env SEED=$(( ${SEED:-$s} + i )) DQF_BUG="$bug" "$@" \
            timeout -k 5 400 "$here/run.sh" "$BUILD" >"$log" 2>&1
        if grep -q 'events, ANOMALIES' "$log"; then
            echo "planted bug $bug: CAUGHT with seed $(( ${SEED:-$s} + i ))"
            grep -E '^[a-z]+: ' "$log" | grep -vE 'invoked|first failed|events,' |
                head -3 | sed 's/^/    /'
            grep -E 'events, (ANOMALIES|valid|UNDECIDED)' "$log" | sed 's/^/    /'
            grep -E 'seed [0-9]+: FAIL' "$log" | sed 's/^.*FAIL (reproduce: /    reproduce: /; s/; files in .*$//'
            caught=$(( caught + 1 ))
        else
            echo "planted bug $bug: seed $(( ${SEED:-$s} + i )) not caught: $(tail -1 "$log")"
        fi
        # The run failed on purpose: its directory is not needed.
        dir=$(grep -o 'files in /tmp/dqf-[^)]*' "$log" | tail -1 | sed 's/^files in //')
        [ -n "$dir" ] && [ "$caught" != "$before" ] && rm -rf "$dir"
        rm -f "$log"
        [ "$caught" = "$before" ] || return
    done
    echo "planted bug $bug: MISSED in $TRIES seeds"
    missed=$(( missed + 1 ))
}

# Acknowledged entries forgotten at restart (fsync that lies).
try amnesia 12 NODES=1 DURATION=12 WORKLOADS=set FAULTS=kill
# Queries without read-index, under partitions isolating the leader. The
# stale window lies between the new leader's election and the old one's
# step-down (check-quorum, within two election timeouts): a 3 s election
# timeout (latency 200 ms), partitions held past it, short client timeouts
# and ten clients spread over the nodes make it wide enough to land in.
try stale-reads 7 NODES=5 DURATION=60 CLIENTS=10 WORKLOADS=register \
    FAULTS=partition PARTITIONS=isolated-leader LATENCY_MS=200 \
    HOLD_MIN=8 HOLD_MAX=10 CALL_TIMEOUT_MS=500
# Leader leases whose drift assumption fails: a leader's clock runs at a
# quarter of the real rate, so its lease outlives the followers' promise
# not to vote for another leader. Same shape as stale-reads: the window
# lies between the new leader's election and the old one's step-down.
try lease-drift 7 NODES=5 DURATION=60 CLIENTS=10 WORKLOADS=register \
    FAULTS=partition PARTITIONS=isolated-leader LATENCY_MS=200 \
    HOLD_MIN=8 HOLD_MAX=10 CALL_TIMEOUT_MS=500

# Group commit (src/server/gateway_group.c, faults-node-group): a statement
# dropped from its group's stack yet answered as done. Writers queue behind
# each other all the time, so no fault is needed.
try group-lost-member 41 NODES=3 DURATION=20 WORKLOADS="set append bank" \
    FAULTS=

# ... and a group answered when proposed instead of applied: shows only
# when the entry is then lost (kills, partitions of the leader).
try group-early-answer 31 NODES=3 DURATION=45 CLIENTS=10 \
    WORKLOADS="set append" FAULTS="partition kill" PARTITIONS=isolated-leader

# Follower reads (planted_read.c, faults-node-read), on the follower
# workload: a follower answering `linearizable` reads without the leader's
# read index, and one answering `bounded:N` reads past the bound. A paused
# or cut-off follower falls behind; its reads once resumed (or while cut
# off) show the old values.
try follower-no-read-index 21 NODES=3 DURATION=20 WORKLOADS=follower \
    FAULTS="partition pause"
try bounded-ignores-bound 21 NODES=3 DURATION=20 WORKLOADS=follower \
    FAULTS="partition pause"

echo "planted: $caught passed, $missed failed"
[ "$missed" = 0 ]
