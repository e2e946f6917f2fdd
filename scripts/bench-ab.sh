#!/usr/bin/env bash
# Before/after of one change, interleaved: 3-node dqlited clusters started
# alternately from two build directories (before, after / after, before /
# ...), each case on fresh loopback ports and a fresh data directory,
# dqlite-bench's workloads against each. Prints dqlite-bench's CSV.
#
#   scripts/bench-ab.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR
# Environment: REPS (3), DURATION (3 s), WORKLOADS (insert:1,insert:32),
#   PORT (first port; random in 30000-49999 by default).
# Stops every server it started, by PID.
set -u
BEFORE=$(cd "${1:?usage: bench-ab.sh BEFORE AFTER}" && pwd)
AFTER=$(cd "${2:?usage: bench-ab.sh BEFORE AFTER}" && pwd)
BENCH=$AFTER/dqlite-bench
REPS=${REPS:-3}
PORT=${PORT:-$((30000 + RANDOM % 20000))}
TMP=$(mktemp -d /tmp/dqlite-bench-ab.XXXXXX)
PIDS=()
stop_servers() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    PIDS=()
}
trap 'stop_servers; rm -rf "$TMP"' EXIT
# run_case LABEL BUILD PORT
run_case() {
    local label=$1 build=$2 port=$3 i
    local dir=$TMP/$label-$port join=""
    mkdir -p "$dir"
    for i in 1 2 3; do
        "$build/dqlited" --id "$i" --address "127.0.0.1:$((port + i))" \
            --dir "$dir/n$i" ${join:+--join "$join"} --log-level warn \
            >"$dir/n$i.out" 2>"$dir/n$i.log" &
        PIDS+=($!)
        for _ in $(seq 600); do
            grep -qs '^listening on' "$dir/n$i.out" && break
            sleep 0.1
        done
        join=127.0.0.1:$((port + 1))
    done
    sleep 1
    echo "bench-ab: $label ($(date -u +%T))" >&2
    timeout -k 5 300 "$BENCH" -f csv --no-header -l "$label" \
        -s "127.0.0.1:$((port + 1)),127.0.0.1:$((port + 2)),127.0.0.1:$((port + 3))" \
        -w "${WORKLOADS:-insert:1,insert:32}" -t "${DURATION:-3}" \
        -p "$(IFS=,; echo "${PIDS[*]}")" ||
        echo "bench-ab: $label: dqlite-bench failed" >&2
    stop_servers
    rm -rf "$dir"
}
echo "label,workload,clients,value_bytes,ops,seconds,ops_per_s,rows_per_s,\
p50_ms,p95_ms,p99_ms,max_ms,busy,errors,server_cpu_pct,server_cpu_us_per_op,\
rss_mb,hwm_mb,rss_total_mb"
for r in $(seq "$REPS"); do
    order="before after"
    [ $((r % 2)) = 0 ] && order="after before"
    for t in $order; do
        b=$AFTER off=10
        [ "$t" = before ] && b=$BEFORE off=0
        run_case "$t" "$b" $((PORT + r * 20 + off))
    done
done
