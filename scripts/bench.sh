#!/usr/bin/env bash
# `make bench`: ours against the reference, side by side, in one run.
#
#   scripts/bench.sh BUILD_DIR
#
# Six targets: a 3-node and a 1-node cluster of dqlited (ours3, ours1), the
# 1-node one over TLS (ours1tls: --tls-cert/--tls-key/--tls-ca with a
# certificate the openssl CLI makes for the run, dqlite-bench --tls; only
# the TLS workloads insert:1, insert:32, read:8, to set beside ours1's), a
# 3-node and a 1-node cluster of the reference (ref3, ref1: Debian's
# libdqlite0 1.11.1 driven by go-dqlite's dqlite-demo) and local SQLite (WAL,
# synchronous=FULL). Every case starts its cluster on fresh loopback ports in
# a fresh data directory, runs dqlite-bench's workloads with the servers'
# PIDs (CPU, RSS), and stops what it started, by PID. Cases are interleaved
# (rep 1: ours3 ours1 ours1tls ref3 ref1 sqlite, rep 2 rotated by one, ...), so that
# machine noise spreads over every target. Then the machine's floor
# (fdatasync rates, loopback round trip) and the summary: medians over the
# repetitions with min-max, and ours/reference ratios (scripts/bench-summary.py).
#
# Environment:
#   BENCH_QUICK=1    smoke run (~2.5 min): fewer workloads, 1 s each, 20k
#                    rows, 2 repetitions
#   BENCH_REPS=N     repetitions (default 3)
#   BENCH_DURATION=S seconds per workload (default 3, quick 1)
#   BENCH_PORT=N     first loopback port (default 27100)
#   BENCH_TARGETS    subset, e.g. "ours3 ref3", "ours1 ours1tls" (default
#                    all six); also
#                    ours3ri / ours1ri: dqlited with --read-lease off (every
#                    linearizable read runs a read-index round)
#   BENCH_WORKLOADS  the workload list instead of the default one
#   BENCH_OUT=FILE   keep the raw CSV there (default: a temp file, removed)
# The reference targets are skipped, and said so, without dqlite-demo.
set -euo pipefail
B=${1:?usage: bench.sh BUILD_DIR}
B=$(cd "$B" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
QUICK=${BENCH_QUICK:-0}
REPS=${BENCH_REPS:-$([ "$QUICK" = 1 ] && echo 2 || echo 3)}
PORT=${BENCH_PORT:-27100}
TARGETS=(${BENCH_TARGETS:-ours3 ours1 ours1tls ref3 ref1 sqlite})
# What issue 19's TLS target is about (ours1tls runs only these).
TLS_WORKLOADS=insert:1,insert:32,read:8
if [ "$QUICK" = 1 ]; then
    DURATION=${BENCH_DURATION:-1}
    ROWS=20000
    WORKLOADS=insert:1,insert:32,tx100,read:1,read:8,scan,mix:8,insert:1/1024
else
    DURATION=${BENCH_DURATION:-3}
    ROWS=100000
    WORKLOADS=insert:1,insert:8,insert:32,tx100,tx1000,read:1,read:8,scan,mix:8
    WORKLOADS+=,insert:1/1024,insert:32/1024,tx100/1024,tx1000/1024
fi
WORKLOADS=${BENCH_WORKLOADS:-$WORKLOADS}
TMP=$(mktemp -d /tmp/dqlite-bench.XXXXXX)
RAW=${BENCH_OUT:-$TMP/results.csv}
PIDS=()

# Stops the servers of the current case (SIGTERM, SIGKILL after 10 s).
stop_servers() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        { wait "$pid" || true; } 2>/dev/null
    done
    PIDS=()
}
cleanup() {
    stop_servers
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for TEST SECONDS: polls the command TEST every 0.1 s.
wait_for() {
    local i
    for i in $(seq $(($2 * 10))); do
        eval "$1" && return 0
        sleep 0.1
    done
    return 1
}

# start_ours N DIR PORT [ARGS...]: dqlited nodes 1..N on PORT+1..PORT+N.
start_ours() {
    local n=$1 dir=$2 port=$3 i join=""
    shift 3
    for i in $(seq "$n"); do
        local addr=127.0.0.1:$((port + i))
        "$B/dqlited" --id "$i" --address "$addr" --dir "$dir/n$i" "$@" \
            ${join:+--join "$join"} --log-level warn \
            >"$dir/n$i.out" 2>"$dir/n$i.log" &
        PIDS+=($!)
        wait_for "grep -qs '^listening on' '$dir/n$i.out'" 60 || {
            cat "$dir/n$i.log" >&2
            return 1
        }
        join=127.0.0.1:$((port + 1))
    done
}

# voters ADDR: how many voters the cluster at ADDR reports.
voters() {
    timeout 5 "$B/dqlite" -s "$1" bench .cluster 2>/dev/null | grep -c '|voter$'
}

# start_ref N DIR PORT: dqlite-demo nodes (db port PORT+i, API port +50).
start_ref() {
    local n=$1 dir=$2 port=$3 i join=""
    for i in $(seq "$n"); do
        dqlite-demo --api "127.0.0.1:$((port + 50 + i))" \
            --db "127.0.0.1:$((port + i))" --dir "$dir/n$i" \
            ${join:+--join "$join"} >"$dir/n$i.log" 2>&1 &
        PIDS+=($!)
        join=127.0.0.1:$((port + 1))
        [ "$i" = 1 ] && { wait_for "voters $join >/dev/null" 30 || return 1; }
    done
    # go-dqlite's app promotes joined nodes to voters on its own.
    wait_for "[ \"\$(voters $join)\" = $n ]" 60
}

servers_of() { # the addresses of a cluster of N nodes on PORT
    local n=$1 port=$2 i list=""
    for i in $(seq "$n"); do list+=${list:+,}127.0.0.1:$((port + i)); done
    echo "$list"
}

# run_case TARGET CASE_NO: one target, one repetition.
run_case() {
    local target=$1 port=$((PORT + $2 * 100)) dir=$TMP/case$2 n
    local args=(-w "$WORKLOADS" -t "$DURATION" --read-rows "$ROWS"
        -f csv --no-header -l "$target")
    mkdir -p "$dir"
    n=${target//[!0-9]/}
    if [ "$target" = ours1tls ]; then
        args=(-w "$TLS_WORKLOADS" -t "$DURATION" --read-rows "$ROWS"
            -f csv --no-header -l "$target"
            --tls --cert "$TMP/tls.crt" --key "$TMP/tls.key")
    fi
    case $target in
    ours1tls) start_ours "$n" "$dir" "$port" --tls-cert "$TMP/tls.crt" \
        --tls-key "$TMP/tls.key" --tls-ca "$TMP/tls.crt" ;;
    ours*ri) start_ours "$n" "$dir" "$port" --read-lease off ;;
    ours*) start_ours "$n" "$dir" "$port" ;;
    ref*) start_ref "$n" "$dir" "$port" ;;
    esac || {
        echo "bench: $target did not start" >&2
        stop_servers
        return 1
    }
    if [ "$target" = sqlite ]; then
        args+=(--sqlite "$dir/bench.db")
    else
        args+=(-s "$(servers_of "$n" "$port")"
            -p "$(IFS=,; echo "${PIDS[*]}")")
    fi
    echo "bench: $target ($(date -u +%T))" >&2
    timeout -k 5 600 "$B/dqlite-bench" "${args[@]}" >>"$RAW" ||
        echo "bench: $target: dqlite-bench failed" >&2
    stop_servers
    rm -rf "$dir"
}

if ! command -v dqlite-demo >/dev/null; then
    echo "bench: dqlite-demo not installed (go-dqlite): reference skipped" >&2
    TARGETS=(${TARGETS[@]/ref*/})
fi
if [[ " ${TARGETS[*]} " == *" ours1tls "* ]]; then
    # One certificate for node and client, its own CA (go-dqlite's
    # convention, as scripts/bench-tls.sh), made for this run.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -days 2 -subj /CN=dqlite-bench \
        -addext "subjectAltName=DNS:dqlite-bench,IP:127.0.0.1" \
        -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null || {
        echo "bench: openssl could not make a certificate: ours1tls skipped" >&2
        TARGETS=(${TARGETS[@]/ours1tls/})
    }
fi
echo "bench: targets ${TARGETS[*]}, $REPS repetitions, ${DURATION}s per" \
    "workload, workloads $WORKLOADS" >&2
# The header of dqlite-bench's CSV (report.c's kFields).
echo "label,workload,clients,value_bytes,ops,seconds,ops_per_s,rows_per_s,\
p50_ms,p95_ms,p99_ms,max_ms,busy,errors,server_cpu_pct,server_cpu_us_per_op,\
rss_mb,hwm_mb,rss_total_mb,client_cpu_us_per_op" >"$RAW"
case_no=0
for rep in $(seq "$REPS"); do
    for k in "${!TARGETS[@]}"; do
        t=${TARGETS[$(((k + rep - 1) % ${#TARGETS[@]}))]}
        run_case "$t" "$case_no" || true
        case_no=$((case_no + 1))
    done
done

echo
echo "## This machine"
echo
echo "$(nproc) CPUs, $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
"$B/dqlite-bench" --probe "$TMP" -t 2 | sed 's/^/    /'
echo
python3 "$HERE/bench-summary.py" "$RAW" "$REPS"
