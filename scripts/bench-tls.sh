#!/usr/bin/env bash
# TLS against plaintext, one interleaved run: dqlite-bench's insert:1,
# insert:32 and read:8 on two 1-node clusters of the same kind, one with
# TLS and one without, alternating workload by workload for ROUNDS rounds,
# with the server's CPU per op (--pids) and dqlite-bench's own (the client,
# from /usr/bin/time) per op.
#
#   scripts/bench-tls.sh BUILD_DIR [SECONDS] [ROUNDS]
#
# The clusters are go-dqlite's app (test/clientlive/tlsnode: WithTLS +
# SimpleTLSConfig, or plaintext) on Debian's libdqlite: its TLS is Go's
# crypto/tls in a proxy in front of the node, so the TLS figures include
# that proxy's copy. Prints one line per run and a summary of medians
# (TLS/plaintext). Loopback only, free ports, everything stopped by PID.
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

[ -x "$NODE" ] || { echo "bench-tls: build $NODE first (make $NODE)" >&2; exit 2; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=dqlite-cluster \
    -addext "subjectAltName=DNS:dqlite-cluster,IP:127.0.0.1" \
    -keyout "$TMP/c.key" -out "$TMP/c.crt" 2>/dev/null || exit 2

start() { # NAME [TLS ARGS...]
    local name=$1
    shift
    ADDR[$name]=127.0.0.1:$(free_port)
    "$NODE" -dir "$TMP/$name" -addr "${ADDR[$name]}" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.log" &
    PIDS+=($!)
    PID[$name]=$!
    for _ in $(seq 600); do
        grep -q '^ready' "$TMP/$name.out" && return 0
        sleep 0.1
    done
    echo "bench-tls: node $name did not start" >&2
    exit 1
}
declare -A ADDR PID
start plain
start tls -cert "$TMP/c.crt" -key "$TMP/c.key"

run() { # NAME WORKLOAD
    local name=$1 w=$2 tlsargs=() out
    [ "$name" = tls ] && tlsargs=(--tls --cert "$TMP/c.crt" --key "$TMP/c.key")
    out=$TMP/run.out
    /usr/bin/time -f "%U %S" -o "$TMP/time" "$B/dqlite-bench" \
        -s "${ADDR[$name]}" "${tlsargs[@]}" -w "$w" -t "$SECS" \
        --read-rows 10000 -p "${PID[$name]}" >"$out" 2>&1 || {
        cat "$out" >&2
        return 1
    }
    # ops/s and server cpuus/op of the workload's row, client us/op.
    awk -v name="$name" -v w="$w" -v secs="$SECS" -v t="$(cat "$TMP/time")" '
        $2 != "load" && $5 ~ /^[0-9]/ {
            split(t, c, " ");
            ops = $5 * secs;
            printf "%s %s ops/s %d server_us/op %s client_us/op %.1f\n",
                name, w, $5, $14, (c[1] + c[2]) * 1e6 / (ops > 0 ? ops : 1)
        }' "$out"
}

for r in $(seq "$ROUNDS"); do
    for w in insert:1 insert:32 read:8; do
        for name in plain tls; do
            run "$name" "$w" | tee -a "$TMP/all"
        done
    done
done
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
