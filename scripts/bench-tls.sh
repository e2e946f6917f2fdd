#!/usr/bin/env bash
# TLS against plaintext, one interleaved run: dqlite-bench's insert:1,
# insert:32 and read:8 on two 1-node clusters of the same kind, one with
# TLS and one without, alternating workload by workload for ROUNDS rounds,
# with the server's CPU per op (--pids) and dqlite-bench's own (the client,
# getrusage over the same interval) per op.
#
#   scripts/bench-tls.sh BUILD_DIR [SECONDS] [ROUNDS]
#
# NODES=ours (the default when BUILD_DIR's dqlited has --tls-cert): dqlited
# nodes, plaintext and with --tls-cert/--tls-key/--tls-ca. NODES=ref:
# go-dqlite's app (test/clientlive/tlsnode: WithTLS + SimpleTLSConfig, or
# plaintext) on Debian's libdqlite, whose TLS is Go's crypto/tls in a proxy
# in front of the node (the TLS figures include that proxy's copy). Prints
# one line per run and a summary of medians (TLS/plaintext). Loopback only,
# free ports, everything stopped by PID.
set -uo pipefail
B=$(cd "${1:?usage: bench-tls.sh BUILD_DIR [SECONDS] [ROUNDS]}" && pwd)
SECS=${2:-5}
ROUNDS=${3:-3}
NODE=$B/test/clientlive-tlsnode
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-bench-tls.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
PORTS_DIR=$TMP
. "$(dirname "${BASH_SOURCE[0]}")/../test/lib/ports.sh"

if [ -z "${NODES:-}" ]; then
    NODES=ref
    "$B/dqlited" --help 2>&1 | grep -q -- --tls-cert && NODES=ours
fi
if [ "$NODES" = ref ] && [ ! -x "$NODE" ]; then
    echo "bench-tls: build $NODE first (make $NODE)" >&2
    exit 2
fi
echo "bench-tls: nodes $NODES, $SECS s per run, $ROUNDS rounds"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=dqlite-cluster \
    -addext "subjectAltName=DNS:dqlite-cluster,IP:127.0.0.1" \
    -keyout "$TMP/c.key" -out "$TMP/c.crt" 2>/dev/null || exit 2

start() { # NAME [tls]
    local name=$1 ready='^ready' args=()
    ADDR[$name]=127.0.0.1:$(free_port)
    if [ "$NODES" = ours ]; then
        [ "${2:-}" = tls ] && args=(--tls-cert "$TMP/c.crt" --tls-key "$TMP/c.key"
            --tls-ca "$TMP/c.crt")
        "$B/dqlited" --id 1 --address "${ADDR[$name]}" --dir "$TMP/$name" \
            "${args[@]}" >"$TMP/$name.out" 2>"$TMP/$name.log" &
        ready='^listening on'
    else
        [ "${2:-}" = tls ] && args=(-cert "$TMP/c.crt" -key "$TMP/c.key")
        "$NODE" -dir "$TMP/$name" -addr "${ADDR[$name]}" "${args[@]}" \
            >"$TMP/$name.out" 2>"$TMP/$name.log" &
    fi
    PIDS+=($!)
    PID[$name]=$!
    for _ in $(seq 600); do
        grep -qs "$ready" "$TMP/$name.out" && return 0
        sleep 0.1
    done
    echo "bench-tls: node $name did not start" >&2
    exit 1
}
declare -A ADDR PID
start plain
start tls tls

run() { # NAME WORKLOAD
    local name=$1 w=$2 tlsargs=() out
    [ "$name" = tls ] && tlsargs=(--tls --cert "$TMP/c.crt" --key "$TMP/c.key")
    out=$TMP/run.out
    "$B/dqlite-bench" -s "${ADDR[$name]}" "${tlsargs[@]}" -w "$w" -t "$SECS" \
        --read-rows 10000 -p "${PID[$name]}" -f json >"$out" 2>&1 || {
        cat "$out" >&2
        return 1
    }
    # ops/s, the server's and dqlite-bench's own CPU per op over the run.
    python3 - "$out" "$name" "$w" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1])):
    if r["workload"] != "load":
        print(f'{sys.argv[2]} {sys.argv[3]} ops/s {r["ops_per_s"]:.0f} '
              f'server_us/op {r["server_cpu_us_per_op"]:.1f} '
              f'client_us/op {r["client_cpu_us_per_op"]:.1f}')
PY
}

for _ in $(seq "$ROUNDS"); do
    for w in insert:1 insert:32 read:8; do
        for name in plain tls; do
            run "$name" "$w" | tee -a "$TMP/all"
        done
    done
done
echo "---- this machine: $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
"$B/dqlite-bench" --probe "$TMP" -t 2 | sed 's/^/    /'
echo "---- medians over $ROUNDS rounds (TLS / plaintext)"
python3 - "$TMP/all" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault((f[1], f[0]), []).append((float(f[3]), float(f[5]), float(f[7])))
for w in ("insert:1", "insert:32", "read:8"):
    p = rows.get((w, "plain")); t = rows.get((w, "tls"))
    if not p or not t:
        continue
    med = lambda xs, i: st.median(x[i] for x in xs)
    print(f"{w:10} ops/s plain {med(p,0):8.0f} tls {med(t,0):8.0f} "
          f"({100*(med(t,0)/med(p,0)-1):+.1f}%)  server us/op "
          f"{med(p,1):.0f} -> {med(t,1):.0f}  client us/op "
          f"{med(p,2):.1f} -> {med(t,2):.1f}")
PY
