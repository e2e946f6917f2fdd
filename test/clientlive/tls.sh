#!/usr/bin/env bash
# The client-live tier over TLS: our C client (through the dqlite shell and
# dqlite-bench, which are built on it) against TLS clusters: ours (dqlited
# --tls-cert C --tls-key K --tls-ca C, go-dqlite's convention on the node
# side; skipped with a [SKIP] line while dqlited has no --tls-cert) and the
# reference, go-dqlite's app with app.WithTLS(app.SimpleTLSConfig(cert,
# pool)) on Debian's libdqlite 1.11.1 (test/clientlive/tlsnode).
#
#   test/clientlive/tls.sh BUILD_DIR      (make check-clientlive-tls)
#
# Makes a go-dqlite style cluster certificate with the openssl CLI (its own
# CA, a DNS name and IP 127.0.0.1), starts 3 nodes on free loopback ports
# (node 1 bootstraps, 2 and 3 join), and checks that the shell with
# --cert/--key (go-dqlite's semantics) and with --ca reads and writes, finds
# the leader through a follower, lists the cluster, that a plaintext shell
# and a shell holding another certificate are refused with a clear message,
# and that dqlite-bench --tls runs. Everything is bounded by timeouts; the
# nodes are stopped by PID and the directory removed on exit.
set -uo pipefail
B=$(cd "${1:?usage: tls.sh BUILD_DIR}" && pwd)
NODE=$B/test/clientlive-tlsnode
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-clientlive-tls.XXXXXX")
PIDS=()
tested=0 passed=0 failed=0

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    PIDS=()
}
cleanup() {
    stop_all
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORTS_DIR=$TMP
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ports.sh"

wait_for() { # SECONDS COMMAND...
    local n=$(($1 * 10))
    shift
    for _ in $(seq "$n"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

result() { # NAME STATUS [FILE]
    tested=$((tested + 1))
    if [ "$2" = 0 ]; then
        passed=$((passed + 1))
        echo "[PASS] $1"
    else
        failed=$((failed + 1))
        echo "[FAIL] $1"
        [ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/       /' "$3" | tail -20
    fi
}

mkdir -p "$TMP/bin"
cp "$B/dqlite" "$B/dqlite-bench" "$TMP/bin/" || exit 2
[ -x "$NODE" ] && cp "$NODE" "$TMP/bin/"
[ -x "$B/dqlited" ] && cp "$B/dqlited" "$TMP/bin/"
BIN=$TMP/bin

# cert NAME DNS: a self-signed P-256 certificate, go-dqlite style.
cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -days 2 -subj "/CN=$2" -addext "subjectAltName=DNS:$2,IP:127.0.0.1" \
        -keyout "$TMP/$1.key" -out "$TMP/$1.crt" 2>/dev/null
}
cert cluster dqlite-cluster && cert other dqlite-other || {
    echo "client-live TLS: openssl cannot make certificates" >&2
    exit 2
}
CERT=(--cert "$TMP/cluster.crt" --key "$TMP/cluster.key")

# start_ref: 3 nodes of go-dqlite's app with WithTLS + SimpleTLSConfig.
start_ref() {
    local i join=""
    for i in 1 2 3; do
        ADDR[$i]=127.0.0.1:$(free_port)
        # shellcheck disable=SC2086
        "$BIN/clientlive-tlsnode" -dir "$TMP/$HALF/n$i" -addr "${ADDR[$i]}" \
            ${join:+-join "$join"} -cert "$TMP/cluster.crt" \
            -key "$TMP/cluster.key" >"$TMP/$HALF/n$i.out" 2>"$TMP/$HALF/n$i.log" &
        PIDS+=($!)
        join=${ADDR[1]}
        wait_for 60 grep -q '^ready' "$TMP/$HALF/n$i.out" || {
            tail -5 "$TMP/$HALF/n$i.log" >&2
            return 1
        }
    done
}

# start_ours: 3 dqlited nodes with go-dqlite's convention on the node side:
# --tls-cert C --tls-key K --tls-ca C (docs/server.md, TLS).
start_ours() {
    local i join=""
    for i in 1 2 3; do
        ADDR[$i]=127.0.0.1:$(free_port)
        # shellcheck disable=SC2086
        "$BIN/dqlited" --id "$i" --address "${ADDR[$i]}" --dir "$TMP/$HALF/n$i" \
            ${join:+--join "$join"} --tls-cert "$TMP/cluster.crt" \
            --tls-key "$TMP/cluster.key" --tls-ca "$TMP/cluster.crt" \
            >"$TMP/$HALF/n$i.out" 2>"$TMP/$HALF/n$i.log" &
        PIDS+=($!)
        join=${ADDR[1]}
        wait_for 60 grep -q '^listening on' "$TMP/$HALF/n$i.out" || {
            tail -5 "$TMP/$HALF/n$i.log" >&2
            return 1
        }
    done
    # Node 1 lists 3 voters (the joins are done).
    wait_for 60 bash -c "timeout 10 '$BIN/dqlite' -s '${ADDR[1]}' \
        --cert '$TMP/cluster.crt' --key '$TMP/cluster.key' x .cluster |
        grep -c '|voter\$' | grep -qx 3"
}

sh_() { timeout 30 "$BIN/dqlite" "$@"; }

# checks: the shell and the bench against the cluster in ADDR.
checks() {
    local h=$HALF rc
    sh_ -s "${ADDR[1]}" "${CERT[@]}" tlsdb \
        "CREATE TABLE t (n INT, s TEXT); INSERT INTO t VALUES (1, 'hello')" \
        >"$TMP/o1" 2>&1 &&
        sh_ -s "${ADDR[1]}" "${CERT[@]}" tlsdb "SELECT * FROM t" >"$TMP/o1" 2>&1 &&
        [ "$(cat "$TMP/o1")" = "1|hello" ]
    result "$h::shell-cert-key-writes-and-reads" $? "$TMP/o1"

    # Discovery over TLS: a follower names the leader, dialled with TLS too.
    sh_ -s "${ADDR[3]}" "${CERT[@]}" tlsdb "SELECT n FROM t" >"$TMP/o2" 2>&1 &&
        [ "$(cat "$TMP/o2")" = 1 ]
    result "$h::shell-finds-the-leader-through-any-node" $? "$TMP/o2"

    sh_ -s "${ADDR[1]}" "${CERT[@]}" tlsdb .cluster >"$TMP/o3" 2>&1 &&
        [ "$(grep -c "127.0.0.1:" "$TMP/o3")" = 3 ]
    result "$h::shell-cluster-lists-three-nodes" $? "$TMP/o3"

    # Node 2 may be a spare (go-dqlite's app settles the roles by itself)
    # and a spare knows no leader: the shell goes on to node 3.
    sh_ -s "${ADDR[2]},${ADDR[3]}" "${CERT[@]}" --ca "$TMP/cluster.crt" tlsdb \
        "INSERT INTO t VALUES (2, 'ca')" >"$TMP/o4" 2>&1 &&
        sh_ -s "${ADDR[1]}" --ca "$TMP/cluster.crt" "${CERT[@]}" tlsdb \
            "SELECT count(*) FROM t WHERE s = 'ca'" >"$TMP/o4" 2>&1 &&
        [ "$(cat "$TMP/o4")" = 1 ]
    result "$h::shell-with-ca-checks-the-address-and-writes" $? "$TMP/o4"

    # Refusals: a clear message, a bounded time, exit status 1.
    timeout 30 "$BIN/dqlite" -s "${ADDR[1]}" --cert "$TMP/other.crt" \
        --key "$TMP/other.key" tlsdb "SELECT 1" >"$TMP/o5" 2>&1
    rc=$?
    [ "$rc" = 1 ] &&
        grep -q "TLS handshake with ${ADDR[1]} failed: certificate verify failed" "$TMP/o5"
    result "$h::shell-with-another-certificate-is-refused" $? "$TMP/o5"

    timeout 30 "$BIN/dqlite" -s "${ADDR[1]}" tlsdb "SELECT 1" >"$TMP/o6" 2>&1
    [ $? = 1 ] && grep -q "no available dqlite leader" "$TMP/o6"
    result "$h::plaintext-shell-gets-no-answer" $? "$TMP/o6"

    timeout 120 "$BIN/dqlite-bench" -s "${ADDR[1]}" --tls "${CERT[@]}" -d benchtls \
        -w insert:1,read:2 -n 100 -t 0 --read-rows 200 >"$TMP/o7" 2>&1 &&
        [ "$(awk '($2 == "insert" && $3 == 1 || $2 == "read" && $3 == 2) &&
            $11 == 0 && $5 > 0' "$TMP/o7" | wc -l)" = 2 ]
    result "$h::bench-tls-runs" $? "$TMP/o7"
}

# half NAME: starts that cluster, runs the checks, stops the nodes.
half() {
    HALF=$1
    declare -gA ADDR=()
    mkdir -p "$TMP/$HALF"
    if "start_$HALF"; then
        checks
    else
        result "$HALF::cluster-start" 1
    fi
    stop_all
    if [ "$HALF" = ours ]; then # no sanitizer report nor failed assertion
        ! grep -l -E "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|Assertion .* failed" \
            "$TMP/$HALF"/n*.log >"$TMP/logs" 2>&1
        result "$HALF::node-logs-clean" $? "$TMP/logs"
    fi
}

if [ -x "$BIN/dqlited" ] && "$BIN/dqlited" --help 2>&1 | grep -q -- --tls-cert; then
    half ours
else
    echo "[SKIP] client-live TLS (ours): this dqlited has no --tls-cert"
fi
if [ -x "$BIN/clientlive-tlsnode" ]; then
    half ref
else
    echo "[SKIP] client-live TLS (reference): $NODE not built (needs" \
        "golang-go and golang-github-canonical-go-dqlite-dev)"
fi

echo "[====] client-live TLS: Tested: $tested | Passing: $passed | Failing: $failed"
[ "$failed" -eq 0 ]
