#!/usr/bin/env bash
# A Prometheus server scrapes a 3-node cluster (dqlited --http) every
# second while writes run and the leader is killed (SIGKILL) and started
# again; its query API must then hold every node's series, show the killed
# node down and back, a new term and leader, and commit latencies. Also
# prints (does not judge: the machine is shared) the write latency with
# and without a client scraping /metrics 100 times a second.
#
#   test/prometheus/run.sh BUILD_DIR      (make check-prometheus)
set -uo pipefail
B=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-prometheus.XXXXXX")
declare -A PIDS=() ADDRS=() HTTP=()
PROM_PID=""
DB=prom
tested=0 failed=0

cleanup() {
    local pid
    for pid in "${PIDS[@]}" $PROM_PID; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}" $PROM_PID; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORTS_DIR=$TMP
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ports.sh"

check() {
    local name=$1
    shift
    tested=$((tested + 1))
    if "$@" >"$TMP/check.out" 2>&1; then
        echo "[PASS] $name"
    else
        failed=$((failed + 1))
        echo "[FAIL] $name"
        sed 's/^/       /' "$TMP/check.out"
    fi
}

start_node() { # ID [ARGS...]
    local id=$1
    shift
    [ -n "${ADDRS[$id]:-}" ] || ADDRS[$id]=127.0.0.1:$(free_port)
    [ -n "${HTTP[$id]:-}" ] || HTTP[$id]=127.0.0.1:$(free_port)
    "$B/dqlited" --id "$id" --address "${ADDRS[$id]}" --dir "$TMP/node$id" \
        --http "${HTTP[$id]}" "$@" >"$TMP/node$id.out" 2>>"$TMP/node$id.log" &
    PIDS[$id]=$!
    for _ in $(seq 200); do
        grep -q '^listening on' "$TMP/node$id.out" 2>/dev/null && return 0
        sleep 0.05
    done
    tail -5 "$TMP/node$id.log"
    return 1
}

servers() { local s="" id; for id in 1 2 3; do s+=${s:+,}${ADDRS[$id]}; done; echo "$s"; }
sh_() { timeout 30 "$B/dqlite" -s "$(servers)" "$DB" "$@"; }
query() { # PROMQL: the result vector as JSON
    curl -s --max-time 5 --data-urlencode "query=$1" "http://$PROM/api/v1/query"
}

# w_run N: N autocommit INSERTs through the shell; prints the seconds.
w_run() {
    local start end
    start=$(date +%s.%N)
    for i in $(seq "$1"); do echo "INSERT INTO t VALUES ($i);"; done | sh_ >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

t_cluster() {
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    sh_ "CREATE TABLE t (n INT)"
}

t_prometheus() {
    PROM=127.0.0.1:$(free_port)
    cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: dqlite
    static_configs:
      - targets: ['${HTTP[1]}', '${HTTP[2]}', '${HTTP[3]}']
YML
    prometheus --config.file="$TMP/prometheus.yml" \
        --storage.tsdb.path="$TMP/tsdb" --web.listen-address="$PROM" \
        >"$TMP/prometheus.log" 2>&1 &
    PROM_PID=$!
    for _ in $(seq 100); do
        query 'count(up == 1)' | grep -q '"value":\[[0-9.]*,"3"\]' && return 0
        sleep 0.2
    done
    tail -5 "$TMP/prometheus.log"
    query 'up'
    return 1
}

# The fault run: writes, the leader SIGKILLed, writes on the others, the
# node started again.
t_fault_run() {
    sh_ "INSERT INTO t VALUES (0)" || return 1
    w_run 50 >/dev/null || return 1
    kill -KILL "${PIDS[1]}"
    { wait "${PIDS[1]}"; } 2>/dev/null
    unset "PIDS[1]"
    sleep 4
    w_run 50 >/dev/null || { echo "writes after the kill failed"; return 1; }
    start_node 1 || return 1
    sleep 4
    w_run 20 >/dev/null
}

t_prometheus_saw_it() {
    local r
    r=$(query 'count(count by (instance) (dqlite_term))')
    echo "$r" | grep -q '"value":\[[0-9.]*,"3"\]' || { echo "series: $r"; return 1; }
    r=$(query "min_over_time(up{instance=\"${HTTP[1]}\"}[5m])")
    echo "$r" | grep -q '"value":\[[0-9.]*,"0"\]' || { echo "down: $r"; return 1; }
    r=$(query "up{instance=\"${HTTP[1]}\"}")
    echo "$r" | grep -q '"value":\[[0-9.]*,"1"\]' || { echo "back: $r"; return 1; }
    r=$(query 'max(dqlite_term)')
    echo "$r" | grep -q '"value":\[[0-9.]*,"1"\]' && { echo "no new term: $r"; return 1; }
    r=$(query 'sum(max_over_time(dqlite_role{role="leader"}[5m]))')
    echo "$r" | grep -Eq '"value":\[[0-9.]*,"[23]"\]' || { echo "leaders: $r"; return 1; }
    r=$(query 'sum(dqlite_commit_latency_seconds_count)')
    echo "$r" | grep -Eq '"value":\[[0-9.]*,"[1-9][0-9]*"\]' || { echo "commits: $r"; return 1; }
    r=$(query 'count(dqlite_peer_lag_entries)')
    echo "$r" | grep -q '"value":\[[0-9.]*,"3"\]' || { echo "lag: $r"; return 1; }
}

# Figures only: write time with and without a 100/s scraper of every node.
t_scrape_load_figures() {
    local quiet busy scraper
    quiet=$(w_run 3000) || return 1
    python3 - "${HTTP[1]}" "${HTTP[2]}" "${HTTP[3]}" >"$TMP/scraper.out" 2>&1 <<'PY' &
import http.client, sys, time
conns = [http.client.HTTPConnection(a, timeout=5) for a in sys.argv[1:]]
n = 0
end = time.time() + 60
while time.time() < end:
    for c in conns:
        t0 = time.time()
        c.request("GET", "/metrics")
        c.getresponse().read()
        n += 1
        time.sleep(max(0, 0.01 / len(conns) - (time.time() - t0)))
    if n % 30 == 0:
        print(n, time.time(), flush=True)
PY
    scraper=$!
    sleep 1
    local first
    first=$(tail -1 "$TMP/scraper.out")
    busy=$(w_run 3000)
    local last
    last=$(tail -1 "$TMP/scraper.out")
    kill "$scraper" 2>/dev/null
    wait "$scraper" 2>/dev/null
    local rate
    rate=$(echo "$first $last" | awk '{ printf "%.0f", ($3 - $1) / ($4 - $2) }')
    echo "3000 autocommit INSERTs through one shell: ${quiet}s quiet, ${busy}s while /metrics was scraped ${rate}/s in all (3 nodes, 100/s each asked) (shared machine: figures, not a verdict)" >&3
    [ -n "$busy" ]
}

exec 3>&1
check "prometheus: a 3-node cluster with --http" t_cluster
check "prometheus: the server scrapes all three" t_prometheus
check "prometheus: fault run (leader SIGKILLed, writes, restarted)" t_fault_run
sleep 3
check "prometheus: the server saw the nodes, the outage, a new term and leader" t_prometheus_saw_it
check "prometheus: write time under a 100/s scraper (printed)" t_scrape_load_figures
echo "[====] prometheus: Tested: $tested | Passing: $((tested - failed)) | Failing: $failed"
[ "$failed" -eq 0 ]
