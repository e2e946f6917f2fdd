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
#   - with RQLITE_JS=1: rqlite-gateway serve on each node, and rqlite-js
#     (npm, test/interop-rqlite/rqlite-js.test.js) against the three.
# Everything started here is stopped by PID; the directory is removed on
# exit (RQLITE_KEEP=1 keeps it). Prints one line per check and a summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
dqlited=$build/dqlited
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

declare -a addr=()
for id in 1 2 3; do
    addr[$id]=127.0.0.1:$(free_port)
    join=()
    [ "$id" = 1 ] || join=(--join "${addr[1]}")
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
rc=0; timeout 120 "$gw" check-auth 1 "${addr[1]}" "$tmp/auth.json" >"$tmp/auth.log" 2>&1 || rc=$?
result "rqlite-api-auth" $rc "$tmp/auth.log"

if [ "${RQLITE_JS:-0}" = 1 ]; then
    js=$root/test/interop-rqlite
    if [ ! -d "$js/node_modules/rqlite-js" ]; then
        (cd "$js" && timeout 300 npm ci --no-audit --no-fund >"$tmp/npm.log" 2>&1) ||
            { cat "$tmp/npm.log" >&2; exit 1; }
    fi
    declare -a http=()
    for id in 1 2 3; do
        http[$id]=127.0.0.1:$(free_port)
        "$gw" serve "$id" "${addr[$id]}" "${http[$id]}" >"$tmp/gw$id.out" 2>"$tmp/gw$id.err" &
        pids+=($!)
        wait_line "$tmp/gw$id.out" "^ready" $!
    done
    rc=0
    (cd "$js" && RQLITE_HOSTS="http://${http[1]},http://${http[2]},http://${http[3]}" \
        timeout 180 node rqlite-js.test.js) >"$tmp/js.log" 2>&1 || rc=$?
    cat "$tmp/js.log" | grep -E '^(ok|FAIL|not ok)' || true
    result "rqlite-js" $rc "$tmp/js.log"
fi
echo "rqlite: $failing failing"
[ "$failing" = 0 ]
