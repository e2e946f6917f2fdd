#!/usr/bin/env bash
# Smoke test of dqlite-bench, run by `make check` so the tool cannot rot
# (the benchmark itself, `make bench`, reports and never fails): a 1-node
# dqlited on a free loopback port, 30 ops of each of 8 workloads in
# CSV and JSON, the --sqlite baseline and --probe; each run must exit 0 and
# print the expected fields. Stops the node it started, by PID, and removes
# its temp dir. Prints a summary line like the other runners.
#
#   test/bench/smoke.sh BUILD_DIR
set -uo pipefail
B=${1:?usage: smoke.sh BUILD_DIR}
TMP=$(mktemp -d /tmp/dqlite-bench-smoke.XXXXXX)
PID=""
passed=0
failed=0
cleanup() {
    if [ -n "$PID" ]; then
        kill -TERM "$PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
ok() { passed=$((passed + 1)); }
ko() {
    echo "bench-smoke: FAIL: $1"
    failed=$((failed + 1))
}

# A free port: the first of 200 candidates nobody listens on.
port=""
for p in $(shuf -i 20000-60000 -n 200); do
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then port=$p && break; fi
done
addr=127.0.0.1:$port
"$B/dqlited" --id 1 --address "$addr" --dir "$TMP/n1" --log-level warn \
    >"$TMP/n1.out" 2>"$TMP/n1.log" &
PID=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$TMP/n1.out" && break
    sleep 0.1
done
grep -q '^listening on' "$TMP/n1.out" || {
    cat "$TMP/n1.log"
    echo "bench-smoke: 0 passed, 1 failed (node did not start)"
    exit 1
}

W=insert:1,insert:4,tx100,read:1,read:2,scan,mix:4,insert:1/1024
# check NAME EXPECTED_ROWS CMD...: exit 0, a header and the rows expected.
check_csv() {
    local name=$1 rows=$2
    shift 2
    if ! timeout 120 "$@" -f csv >"$TMP/out.csv" 2>"$TMP/err"; then
        ko "$name: exit status"
        cat "$TMP/err"
        return
    fi
    head -1 "$TMP/out.csv" | grep -q '^label,workload,clients,value_bytes,ops,seconds,ops_per_s,rows_per_s,p50_ms,p95_ms,p99_ms,max_ms,busy,errors,server_cpu_pct,server_cpu_us_per_op,rss_mb,hwm_mb,rss_total_mb,client_cpu_us_per_op$' &&
        ok || ko "$name: header"
    [ "$(grep -c -E '^[a-z0-9]+,[a-z0-9]+,[0-9]+,[0-9]+,[1-9][0-9]*,' "$TMP/out.csv")" = "$rows" ] &&
        ok || ko "$name: expected $rows rows with ops > 0: $(cat "$TMP/out.csv")"
    grep -q ',0,[0-9.]*,[0-9.]*,[0-9.]*,[0-9.]*,[0-9.]*,[0-9.]*$' "$TMP/out.csv" &&
        ok || ko "$name: errors or /proc figures missing"
}
# 8 workloads + the load of the read table (1000 rows).
check_csv dqlite 9 "$B/dqlite-bench" -s "$addr" -n 30 -t 0 -w "$W" \
    --read-rows 1000 --scan-rows 100 -p "$PID"
check_csv sqlite 9 "$B/dqlite-bench" --sqlite "$TMP/lite.db" -n 30 -t 0 \
    -w "$W" --read-rows 1000 --scan-rows 100

if timeout 60 "$B/dqlite-bench" -s "$addr" -n 50 -w read:1 --read-rows 1000 \
    -f json >"$TMP/out.json" 2>"$TMP/err" &&
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r[0]["ops"]==50 and "p99_ms" in r[0]' "$TMP/out.json"; then
    ok
else
    ko "json: $(cat "$TMP/out.json" "$TMP/err")"
fi
timeout 30 "$B/dqlite-bench" --probe "$TMP" -t 0.2 >"$TMP/probe" &&
    grep -q '^fdatasync_append_4k_per_s [0-9]' "$TMP/probe" &&
    grep -q '^loopback_rtt_us [0-9]' "$TMP/probe" && ok || ko "probe: $(cat "$TMP/probe")"
"$B/dqlite-bench" -w nosuch -s "$addr" >/dev/null 2>&1
[ $? = 1 ] && ok || ko "a bad workload exits 1"
"$B/dqlite-bench" >/dev/null 2>&1
[ $? = 2 ] && ok || ko "no target exits 2"

echo "bench-smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
