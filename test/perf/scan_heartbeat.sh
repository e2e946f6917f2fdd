#!/usr/bin/env bash
# Event loop and raft heartbeats during a 1 GB scan (make perf-scan; the
# figures are in docs/performance.md). This script owns the run: it starts a
# 3-node dqlited cluster on free 127.0.0.1 ports in a temporary directory,
# captures the loopback traffic between the nodes (tcpdump, headers only),
# then runs scan_probe phase by phase:
#
#   idle-hb      PERF_IDLE_SECONDS of LEADER probes only (the heartbeat
#                timer alone on the peer streams: the baseline gap)
#   idle         the same with LEADER and SELECT 1 probes
#   load         PERF_BYTES of PERF_ROW_BYTES random blobs into table t,
#                PERF_TX_ROWS rows per transaction (bounded by
#                PERF_LOAD_SECONDS); snapshots every
#                PERF_SNAPSHOT_THRESHOLD entries, so large ones happen here
#   settle       PERF_IDLE_SECONDS of LEADER probes after the load
#   scan-MODE-PROBES for each item of PERF_SCANS (MODE: sum, hex or
#                stream, see scan_probe.c; PROBES: both or leader): the
#                full-table scan on the leader (queries are served by the
#                leader only)
#
# Meanwhile loopstat.py samples each node's loop thread every 20 ms. Then
# gaps.py turns the records into the report: per phase the probes'
# latencies, the longest gap between raft messages on each node-to-node
# stream (with where both loop threads' time went during the worst one),
# and every leader/state change the nodes logged.
#
# PERF_NICE=-10 runs the nodes and the probes at that nice level, ahead of
# whatever else the machine runs (it separates the machine's own load from
# what the node's threads do to each other). Every process the script
# starts is stopped by PID; the directory is removed unless PERF_KEEP=1.
set -uo pipefail
B=$(cd "${1:?usage: scan_heartbeat.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
BYTES=${PERF_BYTES:-1073741824}
ROW_BYTES=${PERF_ROW_BYTES:-1000}
TX_ROWS=${PERF_TX_ROWS:-4096}
LOAD_SECONDS=${PERF_LOAD_SECONDS:-900}
IDLE_SECONDS=${PERF_IDLE_SECONDS:-10}
SNAP=${PERF_SNAPSHOT_THRESHOLD:-128}
SCANS=${PERF_SCANS:-"sum:both hex:both stream:both stream:leader"}
LATENCY_MS=${PERF_LATENCY_MS:-}
NICE=${PERF_NICE:-0} # e.g. -10 (root): nodes and probes ahead of other jobs
KEEP=${PERF_KEEP:-0}
TMP=$(mktemp -d "${PERF_TMPDIR:-${TMPDIR:-/tmp}}/dqlite-perf-scan.XXXXXX")
declare -A PIDS=() PORTS=()
TCPDUMP_PID="" SS_PID="" LOOPSTAT_PID=""

cleanup() {
    local id pid
    [ -n "$SS_PID" ] && kill "$SS_PID" 2>/dev/null
    [ -n "$LOOPSTAT_PID" ] && kill "$LOOPSTAT_PID" 2>/dev/null
    [ -n "$TCPDUMP_PID" ] && kill -INT "$TCPDUMP_PID" 2>/dev/null
    for id in "${!PIDS[@]}"; do kill -TERM "${PIDS[$id]}" 2>/dev/null; done
    for id in "${!PIDS[@]}"; do
        pid=${PIDS[$id]}
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    if [ "$KEEP" = 1 ]; then
        echo "kept: $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "scan_heartbeat: $*" >&2
    exit 1
}

# Disk: three nodes each keep the raft log and up to two snapshots of the
# database (random blobs do not compress).
need=$((BYTES * 10))
avail=$(df -B1 --output=avail "$TMP" | tail -1)
[ "$avail" -gt "$need" ] ||
    die "$TMP: $((avail >> 30)) GiB free, need $((need >> 30)) GiB"

if ! command -v tcpdump >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        timeout 300 apt-get install -y -q tcpdump >/dev/null 2>&1
    fi
    command -v tcpdump >/dev/null ||
        echo "scan_heartbeat: no tcpdump: heartbeat gaps will not be measured"
fi

# Private copies: a concurrent rebuild must not swap the binaries mid-run.
mkdir -p "$TMP/bin"
cp "$B/dqlited" "$B/dqlite" "$B/perf/scan_probe" "$TMP/bin/" || die "build first"

PORTS_DIR=$TMP
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ports.sh"

start_node() {
    local id=$1
    shift
    PORTS[$id]=$(free_port)
    nice -n "$NICE" "$TMP/bin/dqlited" --id "$id" --address "127.0.0.1:${PORTS[$id]}" \
        --dir "$TMP/node$id" --log-level debug --snapshot-threshold "$SNAP" \
        ${LATENCY_MS:+--latency-ms "$LATENCY_MS"} "$@" \
        >"$TMP/node$id.out" 2>"$TMP/node$id.log" &
    PIDS[$id]=$!
    for _ in $(seq 600); do
        grep -q '^listening on' "$TMP/node$id.out" && return 0
        kill -0 "${PIDS[$id]}" 2>/dev/null || break
        sleep 0.1
    done
    tail -5 "$TMP/node$id.log"
    die "node $id did not start"
}

cpu_of() { # user + system seconds of a process
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
        "/proc/$1/stat" 2>/dev/null || echo 0
}

# loop_tid PID: the node's event-loop thread, the one thread of dqlited
# that sleeps in epoll_wait (232) or epoll_pwait (281).
loop_tid() {
    local t n
    for _ in $(seq 50); do
        for t in /proc/"$1"/task/*; do
            n=$(cut -d' ' -f1 "$t/syscall" 2>/dev/null)
            if [ "$n" = 232 ] || [ "$n" = 281 ]; then
                echo "${t##*/}"
                return
            fi
        done
        sleep 0.02
    done
    echo 0
}

# sched_of PID TID: seconds the thread ran and waited runnable for a CPU
# (/proc/.../schedstat).
sched_of() {
    awk '{ printf "%.3f %.3f", $1 / 1e9, $2 / 1e9 }' \
        "/proc/$1/task/$2/schedstat" 2>/dev/null || echo "0 0"
}

start_node 1
start_node 2 --join "127.0.0.1:${PORTS[1]}"
start_node 3 --join "127.0.0.1:${PORTS[1]}"
SERVERS=127.0.0.1:${PORTS[1]},127.0.0.1:${PORTS[2]},127.0.0.1:${PORTS[3]}
declare -A LOOP=()
for id in 1 2 3; do
    LOOP[$id]=$(loop_tid "${PIDS[$id]}")
    echo "$id ${PORTS[$id]} ${PIDS[$id]} ${LOOP[$id]}"
done >"$TMP/nodes.txt"

if [ -n "$LATENCY_MS" ]; then
    HB_MS=$((LATENCY_MS * 3 / 2 + 1)) EL_MS=$((LATENCY_MS * 15))
else
    HB_MS=100 EL_MS=1000
fi

# find_leader: sets LEADER (address) and LEADER_ID, as the cluster tells.
find_leader() {
    local id
    LEADER="" LEADER_ID=""
    for _ in $(seq 100); do
        LEADER=$(timeout 10 "$TMP/bin/dqlite" -s "$SERVERS" probe .leader 2>/dev/null)
        for id in 1 2 3; do
            [ "$LEADER" = "127.0.0.1:${PORTS[$id]}" ] && LEADER_ID=$id
        done
        [ -n "$LEADER_ID" ] && return 0
        sleep 0.2
    done
    die "no leader found ($LEADER)"
}
find_leader
FIRST_LEADER=$LEADER_ID

ss -tnpH state established >"$TMP/ss.log" 2>/dev/null
(
    for _ in $(seq 7200); do
        sleep 1
        ss -tnpH state established >>"$TMP/ss.log" 2>/dev/null
    done
) &
SS_PID=$!

# The loop threads' state every 20 ms (loopstat.py).
threads=()
for id in 1 2 3; do threads+=("$id:${PIDS[$id]}:${LOOP[$id]}"); done
nice -n "$NICE" timeout 7200 python3 "$HERE/loopstat.py" "$TMP/loop.txt" \
    7200 20 "${threads[@]}" &
LOOPSTAT_PID=$!

if command -v tcpdump >/dev/null; then
    : >"$TMP/tcpdump.err"
    tcpdump -i lo -n -s 96 -B 32768 -w "$TMP/peer.pcap" \
        "tcp and (port ${PORTS[1]} or port ${PORTS[2]} or port ${PORTS[3]})" \
        2>"$TMP/tcpdump.err" &
    TCPDUMP_PID=$!
    for _ in $(seq 100); do
        grep -q 'listening on' "$TMP/tcpdump.err" && break
        sleep 0.1
    done
fi

echo "cluster: $SERVERS, leader node $FIRST_LEADER; data in $TMP"
echo "heartbeat $HB_MS ms, election timeout $EL_MS ms, snapshot every $SNAP entries, nice $NICE"

# phase LABEL MODE PROBES SECONDS: one scan_probe run against the current
# leader; then per node the process's CPU seconds and its loop thread's
# run and runnable-wait seconds.
phase() {
    local label=$1 mode=$2 probes=$3 secs=$4 id
    find_leader
    echo "LEADER $label $LEADER_ID" >>"$TMP/phases.txt"
    declare -A cpu=() sched=()
    for id in 1 2 3; do
        cpu[$id]=$(cpu_of "${PIDS[$id]}")
        sched[$id]=$(sched_of "${PIDS[$id]}" "${LOOP[$id]}")
    done
    echo "phase $label ($mode, probes: $probes, leader node $LEADER_ID)"
    timeout -k 10 $((secs + 600)) nice -n "$NICE" "$TMP/bin/scan_probe" -s "$SERVERS" \
        -n "$LEADER" -m "$mode" -p "$probes" -t "$secs" -b "$BYTES" \
        -r "$ROW_BYTES" -x "$TX_ROWS" -l "$label" -o "$TMP/samples.txt" \
        >>"$TMP/phases.txt" || echo "phase $label: scan_probe failed"
    for id in 1 2 3; do
        echo "CPU $label $id $(cpu_of "${PIDS[$id]}") ${cpu[$id]}" \
            "$(sched_of "${PIDS[$id]}" "${LOOP[$id]}") ${sched[$id]}"
    done | awk '{ printf "CPU %s %s %.2f %.3f %.3f\n", $2, $3, $4 - $5,
                  $6 - $8, $7 - $9 }' >>"$TMP/phases.txt"
    grep "^PHASE $label " "$TMP/phases.txt"
}

phase idle-hb idle leader "$IDLE_SECONDS"
phase idle idle both "$IDLE_SECONDS"
phase load load both "$LOAD_SECONDS"
phase settle idle leader "$IDLE_SECONDS"
for item in $SCANS; do
    phase "scan-${item%%:*}-${item##*:}" "${item%%:*}" "${item##*:}" 900
done

for id in 1 2 3; do
    echo "node $id: $(grep -E '^Vm(HWM|RSS)' "/proc/${PIDS[$id]}/status" | tr -s ' \n' ' ')"
done
du -sh "$TMP"/node? 2>/dev/null

kill "$SS_PID" "$LOOPSTAT_PID" 2>/dev/null
{ wait "$SS_PID" "$LOOPSTAT_PID"; } 2>/dev/null
SS_PID="" LOOPSTAT_PID=""
if [ -n "$TCPDUMP_PID" ]; then
    kill -INT "$TCPDUMP_PID"
    { wait "$TCPDUMP_PID"; } 2>/dev/null
    TCPDUMP_PID=""
    grep -E 'captured|dropped' "$TMP/tcpdump.err"
    timeout 300 tcpdump -n -tt -q -r "$TMP/peer.pcap" >"$TMP/peer.txt" 2>/dev/null
fi

echo
timeout 300 python3 "$HERE/gaps.py" --dir "$TMP" --leader "$FIRST_LEADER" \
    --election-ms "$EL_MS" --heartbeat-ms "$HB_MS"
