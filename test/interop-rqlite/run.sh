#!/usr/bin/env bash
# The rqlite interop tier (docs/http-api.md, "Tests").
#
#   test/interop-rqlite/run.sh BUILD_DIR
#
# Starts a 3-node cluster of BUILD_DIR/dqlited on free loopback ports (data
# in a temporary directory), then:
#   - rqlite-gateway check against node 1 (the leader) and against node 2
#     (a follower: every request is forwarded to the leader by our client),
#     each on its own database;
#   - rqlite-gateway check-auth with an auth.json of a writer, a reader
#     and "*" allowed /readyz;
#   - rqlite-gateway serve on each node (the node's HTTP listener) and
#     curl: forwarding, GET q=, pretty, 405, 400, a million statements and
#     a body over the bound refused with 413 and nothing written;
#   - dqlited --http-auth on a node of its own: 401 without execute,
#     200 with it, a missing file fails the start;
#   - with RQLITE_JS=1: rqlite-js (npm, test/interop-rqlite/rqlite-js.test.js)
#     against the three listeners.
# Everything started here is stopped by PID; the directory is removed on
# exit (RQLITE_KEEP=1 keeps it). Prints one line per check and a summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
dqlited=${RQLITE_DQLITED:-$build/dqlited} # override: e.g. a release node with an ASan gateway
gw=$build/test/rqlite-gateway
for f in "$dqlited" "$gw"; do
    [ -x "$f" ] || { echo "rqlite: $f missing (run make)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-rqlite.XXXXXX")
declare -a pids=()
failing=0
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        timeout 20 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${RQLITE_KEEP:-0}" = 1 ]; then echo "rqlite: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap "exit 143" TERM INT # so that timeout(1) still stops every process
PORTS_DIR=$tmp
. "$root/test/lib/ports.sh"

# wait_line FILE PATTERN PID: up to 30 s for PATTERN in FILE.
wait_line() {
    local i
    for i in $(seq 300); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || break
        sleep 0.1
    done
    echo "rqlite: no '$2' in $1" >&2
    tail -20 "${1%.out}.err" >&2 || true
    return 1
}

# A dqlited with --http serves the API itself (its /readyz is the node's,
# not rqlite's); otherwise one rqlite-gateway per node serves it.
node_http=0
"$dqlited" --help 2>&1 | grep -q -- '--http' && node_http=1
declare -a addr=() http=()
for id in 1 2 3; do
    addr[$id]=127.0.0.1:$(free_port)
    join=()
    [ "$id" = 1 ] || join=(--join "${addr[1]}")
    if [ $node_http = 1 ]; then
        http[$id]=127.0.0.1:$(free_port)
        join+=(--http "${http[$id]}")
    fi
    "$dqlited" --id "$id" --address "${addr[$id]}" --dir "$tmp/n$id" \
        "${join[@]}" --log-level warn >"$tmp/n$id.out" 2>"$tmp/n$id.err" &
    pids+=($!)
    wait_line "$tmp/n$id.out" "^listening on" $!
done
echo "rqlite: 3-node cluster ${addr[1]} ${addr[2]} ${addr[3]}"

result() { # NAME RC LOG
    if [ "$2" = 0 ]; then
        echo "ok   $1"
    else
        echo "FAIL $1"
        sed 's/^/     /' "$3" | grep -v '^     ok' | tail -40
        failing=$((failing + 1))
    fi
}

rc=0; timeout 120 env RQLITE_DB=leader "$gw" check 1 "${addr[1]}" >"$tmp/check1.log" 2>&1 || rc=$?
result "rqlite-api-on-leader" $rc "$tmp/check1.log"
# Each run on its own database: same expectations, fresh ids (rqlite-js
# uses the default one).
rc=0; timeout 120 env RQLITE_DB=follower "$gw" check 2 "${addr[2]}" >"$tmp/check2.log" 2>&1 || rc=$?
result "rqlite-api-through-follower" $rc "$tmp/check2.log"

cat >"$tmp/auth.json" <<'JSON'
[{"username": "writer", "password": "pw1", "perms": ["all"]},
 {"username": "reader", "password": "pw2", "perms": ["query"]},
 {"username": "*", "perms": ["ready"]}]
JSON
rc=0; timeout 120 env RQLITE_DB=auth "$gw" check-auth 1 "${addr[1]}" "$tmp/auth.json" >"$tmp/auth.log" 2>&1 || rc=$?
result "rqlite-api-auth" $rc "$tmp/auth.log"

# Over HTTP: the nodes' listeners (dqlited --http), or one
# rqlite-gateway serve per node.
ready_ok='leader ok' ready_bad='leader not ok'
if [ $node_http = 1 ]; then
    echo "rqlite: served by dqlited --http"
    ready_ok='ready' ready_bad='not ready'
else
    for id in 1 2 3; do
        http[$id]=127.0.0.1:$(free_port)
        "$gw" serve "$id" "${addr[$id]}" "${http[$id]}" >"$tmp/gw$id.out" 2>"$tmp/gw$id.err" &
        pids+=($!)
        wait_line "$tmp/gw$id.out" "^ready" $!
    done
fi

# http_check NAME WANT_STATUS WANT_WORDS curl-args...: status and body.
http_check() {
    local name=$1 want=$2 words=$3 got rc=0
    shift 3
    got=$(curl -sS -m 60 -o "$tmp/body" -w '%{http_code}' "$@" 2>"$tmp/curl.err") || rc=$?
    if [ "$rc" = 0 ] && [ "$got" = "$want" ] && grep -qF -- "$words" "$tmp/body"; then
        echo "ok   $name"
    else
        echo "FAIL $name: curl $rc, status $got (want $want), body:"
        head -c 300 "$tmp/body" 2>/dev/null | sed 's/^/     /'
        echo
        failing=$((failing + 1))
    fi
}
h2=http://${http[2]}
http_check http-execute-via-follower 200 '"rows_affected":1' -XPOST "$h2/db/execute?db=http" \
    -H 'Content-Type: application/json' \
    -d '["CREATE TABLE t (x INTEGER, y TEXT)", ["INSERT INTO t VALUES(?, ?)", 1, "one"]]'
http_check http-query-get 200 '"values":[[1,"one"]]' -G "$h2/db/query" \
    --data-urlencode 'db=http' --data-urlencode 'q=SELECT x, y FROM t'
http_check http-pretty 200 '    "results": [' "$h2/db/query?db=http&pretty&q=SELECT%201"
http_check http-method-405 405 '' "$h2/db/execute"
http_check http-bad-json-400 400 'invalid JSON' -XPOST "$h2/db/execute" -d '["SELECT 1"'
awk 'BEGIN { printf "["; for (i = 0; i < 1000000; i++) printf "%s\"\"", (i ? "," : ""); printf "]" }' >"$tmp/million.json"
http_check http-million-statements-413 413 'at most' -XPOST "$h2/db/execute?db=http" \
    -H 'Content-Type: application/json' --data-binary @"$tmp/million.json"
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$tmp/big.json"
http_check http-body-over-bound-413 413 '' -XPOST "$h2/db/execute?db=http" \
    -H 'Content-Type: application/json' --data-binary @"$tmp/big.json"
http_check http-nothing-written 200 '"values":[[1]]' -G "$h2/db/query" \
    --data-urlencode 'db=http' --data-urlencode 'q=SELECT COUNT(*) FROM t'
# 32 requests at once, more than the pool's 8 connections: every one is
# answered (a request waits for a free connection) and every row is there.
seq 32 | xargs -P 32 -I{} curl -sS -m 60 -o "$tmp/par{}.out" -XPOST \
    "$h2/db/execute?db=http" -H 'Content-Type: application/json' \
    -d '[["INSERT INTO t VALUES(?, ?)", 100, "parallel"]]' 2>>"$tmp/par.err" || true
n_ok=$(cat "$tmp"/par*.out 2>/dev/null | grep -o '"rows_affected":1' | wc -l)
if [ "$n_ok" = 32 ]; then echo "ok   http-32-parallel-writes"; else
    echo "FAIL http-32-parallel-writes: $n_ok of 32"; failing=$((failing + 1)); fi
http_check http-32-rows-there 200 '"values":[[32]]' -G "$h2/db/query" \
    --data-urlencode 'db=http' --data-urlencode 'q=SELECT COUNT(*) FROM t WHERE x = 100'
# A binary backup over HTTP (a streamed body) loaded back over HTTP as a
# SQLite file into another database (one replicated load), through a
# follower.
rc=0; curl -sS -m 60 -o "$tmp/backup.db" -D "$tmp/backup.head" "$h2/db/backup?db=http" 2>"$tmp/curl.err" || rc=$?
if [ "$rc" = 0 ] && head -c 16 "$tmp/backup.db" | grep -q 'SQLite format 3' &&
    grep -qi "^content-length: $(stat -c %s "$tmp/backup.db")" "$tmp/backup.head"; then
    echo "ok   http-backup-binary-streamed"
else
    echo "FAIL http-backup-binary-streamed: curl $rc"; cat "$tmp/backup.head" "$tmp/curl.err" 2>/dev/null
    failing=$((failing + 1))
fi
http_check http-load-sqlite-file 200 '{"results":[]}' -XPOST "$h2/db/load?db=http-copy" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$tmp/backup.db"
http_check http-load-reads-back 200 '"values":[[33]]' -G "$h2/db/query" \
    --data-urlencode 'db=http-copy' --data-urlencode 'q=SELECT COUNT(*) FROM t'
head -c 8192 /dev/zero >"$tmp/bad.db"
printf 'SQLite format 3\0' | dd of="$tmp/bad.db" conv=notrunc status=none
http_check http-load-garbage-400 400 'not a SQLite database' -XPOST "$h2/db/load?db=http-bad" \
    --data-binary @"$tmp/bad.db"
http_check http-readyz 200 "$ready_ok" "$h2/readyz"
http_check http-nodes 200 '"leader":true' "$h2/nodes?ver=2"

# dqlited --http-auth: a single node of its own with the auth.json above;
# the reader (no execute) is refused and nothing is written, the writer
# is served.
if [ $node_http = 1 ]; then
    a4=127.0.0.1:$(free_port) h4=127.0.0.1:$(free_port)
    "$dqlited" --id 1 --address "$a4" --dir "$tmp/n4" --http "$h4" \
        --http-auth "$tmp/auth.json" --log-level warn >"$tmp/n4.out" 2>"$tmp/n4.err" &
    pids+=($!)
    wait_line "$tmp/n4.out" "^listening on" $!
    h4=http://$h4
    http_check auth-no-credentials-401 401 'unauthorized' -XPOST "$h4/db/execute" \
        -H 'Content-Type: application/json' -d '["CREATE TABLE a (x)"]'
    http_check auth-reader-execute-401 401 'unauthorized' -u reader:pw2 -XPOST \
        "$h4/db/execute" -H 'Content-Type: application/json' -d '["CREATE TABLE a (x)"]'
    http_check auth-wrong-password-401 401 'unauthorized' -u writer:nope -XPOST \
        "$h4/db/execute" -H 'Content-Type: application/json' -d '["CREATE TABLE a (x)"]'
    http_check auth-writer-execute-200 200 '"results":[{}]' -u writer:pw1 -XPOST \
        "$h4/db/execute" -H 'Content-Type: application/json' -d '["CREATE TABLE a (x)"]'
    http_check auth-reader-query-200 200 '"columns":["x"]' -u reader:pw2 -G \
        "$h4/db/query" --data-urlencode 'q=SELECT * FROM a'
    # A file that cannot be read fails the start, with the reason.
    rc=0; timeout 30 "$dqlited" --id 1 --address 127.0.0.1:$(free_port) --dir "$tmp/n5" \
        --http 127.0.0.1:$(free_port) --http-auth "$tmp/missing.json" \
        >"$tmp/n5.out" 2>"$tmp/n5.err" || rc=$?
    if [ "$rc" != 0 ] && grep -q auth "$tmp/n5.err" "$tmp/n5.out"; then
        echo "ok   auth-missing-file-fails-start"
    else
        echo "FAIL auth-missing-file-fails-start: rc $rc"; cat "$tmp/n5.err"
        failing=$((failing + 1))
    fi
fi

if [ "${RQLITE_JS:-0}" = 1 ]; then
    js=$root/test/interop-rqlite
    for tool in node npm; do
        command -v $tool >/dev/null ||
            { echo "rqlite: $tool missing (scripts/packages.txt: nodejs, npm)" >&2; exit 1; }
    done
    if [ ! -d "$js/node_modules/rqlite-js" ]; then
        (cd "$js" && timeout 300 npm ci --no-audit --no-fund >"$tmp/npm.log" 2>&1) ||
            { cat "$tmp/npm.log" >&2; exit 1; }
    fi
    rc=0
    (cd "$js" && RQLITE_HOSTS="http://${http[1]},http://${http[2]},http://${http[3]}" \
        timeout 180 node rqlite-js.test.js) >"$tmp/js.log" 2>&1 || rc=$?
    grep -E '^(ok|FAIL)' "$tmp/js.log" | sed 's/^/     /' || true
    result "rqlite-js" $rc "$tmp/js.log"
fi
# RQLITE_BENCH=1: wire (dqlite-bench) and HTTP (bench.js) figures on the
# same cluster, interleaved workload by workload (make bench-rqlite).
if [ "${RQLITE_BENCH:-0}" = 1 ]; then
    secs=${BENCH_SECONDS:-5}
    wire="$build/dqlite-bench -s ${addr[1]},${addr[2]},${addr[3]} -t $secs --read-rows 10000"
    echo "rqlite: benchmarks, $secs s per workload (machine shared: compare within this run only)"
    for w in insert:1 read:1 insert:8 read:8; do
        timeout 120 $wire -w "$w" --no-header -f csv -l "wire" 2>&1 | tail -1
        (cd "$root/test/interop-rqlite" && RQLITE_HOSTS="http://${http[1]}" BENCH_SECONDS=$secs \
            BENCH_CLIENTS=${w#*:} BENCH_ONLY=${w%%:*} timeout 120 node bench.js) 2>&1 | tail -1
    done
    timeout 120 $wire -w tx1000 --no-header -f csv -l "wire" 2>&1 | tail -1
    (cd "$root/test/interop-rqlite" && RQLITE_HOSTS="http://${http[1]}" BENCH_SECONDS=$secs \
        BENCH_ONLY=batch1000 timeout 120 node bench.js) 2>&1 | tail -1
fi
# Last: without a quorum (nodes 2 and 3 stopped) writes get 503 and
# /readyz says no leader, within the client's connect timeout.
kill -TERM "${pids[1]}" "${pids[2]}"
timeout 30 tail --pid="${pids[1]}" -f /dev/null || true
timeout 30 tail --pid="${pids[2]}" -f /dev/null || true
sleep 2 # an election timeout or so: node 1 steps down
http_check no-quorum-execute-503 503 'leader' -XPOST "http://${http[1]}/db/execute?db=http" \
    -H 'Content-Type: application/json' -d '["INSERT INTO t VALUES(2, \"two\")"]'
http_check no-quorum-readyz-503 503 "$ready_bad" "http://${http[1]}/readyz"
echo "rqlite: $failing failing"
[ "$failing" = 0 ]
