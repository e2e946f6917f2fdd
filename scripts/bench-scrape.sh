#!/usr/bin/env bash
# `make bench-scrape`: what a scraper hitting /metrics 100 times a second
# on every node costs the writes (issue 20: "no effect on commit latency
# beyond 5%"). A measurement, not a test: it prints figures, judges none.
#
#   scripts/bench-scrape.sh BUILD_DIR
#
# Each case starts a fresh 3-node dqlited cluster with --http on loopback,
# runs dqlite-bench's insert:1 workload (one autocommit INSERT of a 100-byte
# blob per op, one client: each op's latency is a commit's, as the client
# sees it) while a fault cycle runs (the follower node 3 SIGSTOPped for
# 1 s, resumed for 1 s, over and over), with or without a scraper (python3,
# one keep-alive http.client connection per node, GET /metrics 100 times a
# second on each). Cases are interleaved: off on on off (ABBA) per
# repetition, so drift of the machine spreads over both. Then medians of
# p50/p99/ops per second for each, the ratios on/off, the scrapes the
# scraper achieved, and the machine's floor (dqlite-bench --probe).
# Every process started is ended by PID; every wait is bounded.
#
# Environment:
#   SCRAPE_REPS=N      ABBA repetitions (default 1: 4 cases)
#   SCRAPE_DURATION=S  seconds of the workload per case (default 10)
set -euo pipefail
B=${1:?usage: bench-scrape.sh BUILD_DIR}
B=$(cd "$B" && pwd)
REPS=${SCRAPE_REPS:-1}
DURATION=${SCRAPE_DURATION:-10}
TMP=$(mktemp -d /tmp/dqlite-bench-scrape.XXXXXX)
PORTS_DIR=$TMP
. "$(dirname "$0")/../test/lib/ports.sh"
ADDRS=() HTTPS=()
RAW=$TMP/results.csv
PIDS=()
HELPERS=()

# Ends the helpers (fault cycle, scraper), then the servers (SIGTERM,
# SIGKILL after 10 s); a stopped node is resumed first.
stop_all() {
    local pid
    touch "$TMP/stop"
    for pid in "${HELPERS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$pid" 2>/dev/null || true
        { wait "$pid" || true; } 2>/dev/null
    done
    HELPERS=()
    for pid in "${PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        { wait "$pid" || true; } 2>/dev/null
    done
    PIDS=()
    rm -f "$TMP/stop"
}
cleanup() {
    stop_all
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # TEST SECONDS
    local i
    for i in $(seq $(($2 * 10))); do
        eval "$1" && return 0
        sleep 0.1
    done
    return 1
}

voters() { timeout 5 "$B/dqlite" -s "$1" bench .cluster 2>/dev/null | grep -c '|voter$'; }

# start_cluster DIR: nodes 1..3 on free loopback ports (ADDRS, HTTPS).
start_cluster() {
    local dir=$1 i join=""
    for i in 1 2 3; do
        ADDRS[$i]=127.0.0.1:$(free_port) HTTPS[$i]=127.0.0.1:$(free_port)
        "$B/dqlited" --id "$i" --address "${ADDRS[$i]}" \
            --http "${HTTPS[$i]}" --dir "$dir/n$i" \
            ${join:+--join "$join"} --log-level warn \
            >"$dir/n$i.out" 2>"$dir/n$i.log" &
        PIDS+=($!)
        wait_for "grep -qs '^listening on' '$dir/n$i.out'" 60 || {
            cat "$dir/n$i.log" >&2
            return 1
        }
        join=${ADDRS[1]}
    done
    wait_for "[ \"\$(voters $join)\" = 3 ]" 60
}

# fault_cycle PID: SIGSTOP 1 s, SIGCONT 1 s until $TMP/stop exists.
fault_cycle() {
    while [ ! -e "$TMP/stop" ]; do
        kill -STOP "$1"
        sleep 1
        kill -CONT "$1"
        sleep 1
    done
}

# scraper OUT ADDR...: GET /metrics 100/s on each address (keep-alive);
# at the stop writes "scrapes seconds errors per-node-rates" to OUT.
scraper() {
    python3 - "$TMP/stop" "$@" <<'PY'
import http.client, os, sys, threading, time
stop, out, addrs = sys.argv[1], sys.argv[2], sys.argv[3:]
counts = {a: [0, 0] for a in addrs}  # scrapes, errors
t0 = time.monotonic()

def scrape(a):  # one thread per node: a stopped node stalls only its own
    c = http.client.HTTPConnection(a, timeout=2)
    next_t = time.monotonic()
    while not os.path.exists(stop) and time.monotonic() - t0 < 600:
        try:
            c.request("GET", "/metrics")
            c.getresponse().read()
            counts[a][0] += 1
        except Exception:
            counts[a][1] += 1
            c.close()
            c = http.client.HTTPConnection(a, timeout=2)
        next_t += 0.01  # 100/s
        d = next_t - time.monotonic()
        if d > 0:
            time.sleep(d)
        else:
            next_t = time.monotonic()
    c.close()

threads = [threading.Thread(target=scrape, args=(a,)) for a in addrs]
for t in threads:
    t.start()
for t in threads:
    t.join()
s = time.monotonic() - t0
with open(out, "w") as f:
    f.write("%d %.2f %d %s\n" % (sum(c[0] for c in counts.values()), s,
            sum(c[1] for c in counts.values()),
            "/".join("%.0f" % (c[0] / s) for c in counts.values())))
PY
}

# run_case MODE CASE_NO: MODE off or on.
run_case() {
    local mode=$1 dir=$TMP/case$2 p
    mkdir -p "$dir"
    start_cluster "$dir" || {
        echo "bench-scrape: case $2 did not start" >&2
        stop_all
        return 1
    }
    fault_cycle "${PIDS[2]}" &
    HELPERS+=($!)
    if [ "$mode" = on ]; then
        scraper "$TMP/scrape$2" "${HTTPS[@]}" &
        HELPERS+=($!)
    fi
    echo "bench-scrape: scraper $mode ($(date -u +%T))" >&2
    p=$(IFS=,; echo "${PIDS[*]}")
    timeout -k 5 $((DURATION + 30)) "$B/dqlite-bench" -w insert:1 \
        -t "$DURATION" -f csv --no-header -l "$mode" -p "$p" \
        -s "$(IFS=,; echo "${ADDRS[*]}")" >>"$RAW" || {
        echo "bench-scrape: $mode: dqlite-bench failed; the nodes' logs end:" >&2
        tail -n 4 "$dir"/n?.log >&2
    }
    stop_all
    [ "$mode" = off ] || cat "$TMP/scrape$2" >>"$TMP/scrapes" 2>/dev/null || true
    rm -rf "$dir"
}

echo "bench-scrape: 3 nodes, insert:1 for ${DURATION}s per case, follower" \
    "SIGSTOP/SIGCONT 1 s/1 s, $REPS x (off on on off)" >&2
: >"$RAW"
case_no=0
for rep in $(seq "$REPS"); do
    for mode in off on on off; do
        run_case "$mode" "$case_no" || true
        case_no=$((case_no + 1))
    done
done

echo
echo "## This machine (shared: figures, not a verdict)"
echo
echo "$(nproc) CPUs, $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
"$B/dqlite-bench" --probe "$TMP" -t 2 | sed 's/^/    /'
echo
python3 - "$RAW" "$TMP/scrapes" <<'PY'
import csv, os, statistics, sys
rows = {"off": [], "on": []}
for r in csv.reader(open(sys.argv[1])):
    if len(r) > 10 and r[0] in rows:
        rows[r[0]].append((float(r[8]), float(r[10]), float(r[6]), int(r[13])))
print("## /metrics scraped 100/s per node vs not, during a follower SIGSTOP/SIGCONT cycle")
print()
print("| scraper | cases | p50 ms | p99 ms | ops/s | errors |")
print("|---|---|---|---|---|---|")
med = {}
for mode in ("off", "on"):
    v = rows[mode]
    if not v:
        print("| %s | 0 | - | - | - | - |" % mode)
        continue
    med[mode] = [statistics.median(x[k] for x in v) for k in range(3)]
    print("| %s | %d | %.3f | %.3f | %.0f | %d |" % (
        mode, len(v), *med[mode], sum(x[3] for x in v)))
    print("|  per case | | %s | %s | %s | |" % tuple(
        " ".join("%.3g" % x[k] for x in v) for k in range(3)))
if len(med) == 2:
    print()
    print("on/off: p50 %.3f, p99 %.3f, ops/s %.3f (medians)" % tuple(
        med["on"][k] / med["off"][k] for k in range(3)))
if os.path.exists(sys.argv[2]):
    for line in open(sys.argv[2]):
        n, s, e, per = line.split()
        print("scraper: %s scrapes in %s s (%.0f/s in all, %s/s per node;"
              " the stopped one answers when resumed), %s errors"
              % (n, s, int(n) / float(s), per, e))
PY
