#!/usr/bin/env bash
# The demo of `make demo` (run through scripts/demo.sh):
#
#   scripts/demo-cluster.sh BUILD_DIR
#
# Starts a 3-node cluster of dqlited on 127.0.0.1 (ports DEMO_PORT,
# DEMO_PORT+1, DEMO_PORT+2; DEMO_PORT defaults to 9001) with data in
# ./demo-data (wiped first), writes and reads through the dqlite shell,
# kills the leader with SIGKILL, shows the new leader and that reads and
# writes still work, then stops the two survivors with SIGTERM. It only
# ever signals the processes it started, by PID, and is bounded in time.
set -euo pipefail
B=${1:?usage: demo-cluster.sh BUILD_DIR}
PORT=${DEMO_PORT:-9001}
DATA=${DEMO_DATA:-demo-data}
DB=demo
declare -A PIDS=() ADDRS=()

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() {
    echo "demo: $*" >&2
    exit 1
}

# Stops every node still running: SIGTERM, then SIGKILL after 10 s.
cleanup() {
    local id pid
    for id in "${!PIDS[@]}"; do kill -TERM "${PIDS[$id]}" 2>/dev/null || true; done
    for id in "${!PIDS[@]}"; do
        pid=${PIDS[$id]}
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        { wait "$pid" || true; } 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_node ID [JOIN]: starts a node and waits for its "listening" line.
start_node() {
    local id=$1 join=${2:-} addr=127.0.0.1:$((PORT + $1 - 1))
    local args=(--id "$id" --address "$addr" --dir "$DATA/node$id")
    [ -n "$join" ] && args+=(--join "$join")
    "$B/dqlited" "${args[@]}" >"$DATA/node$id.out" 2>"$DATA/node$id.log" &
    PIDS[$id]=$!
    ADDRS[$id]=$addr
    for _ in $(seq 150); do
        grep -q '^listening on' "$DATA/node$id.out" && break
        kill -0 "${PIDS[$id]}" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^listening on' "$DATA/node$id.out" || {
        cat "$DATA/node$id.log" >&2
        fail "node $id did not start (is port ${addr#*:} free? set DEMO_PORT)"
    }
    echo "node $id: pid ${PIDS[$id]}, $(cat "$DATA/node$id.out")"
}

servers() { # the addresses of the running nodes
    local id list=""
    for id in $(printf '%s\n' "${!PIDS[@]}" | sort); do list+=${list:+,}${ADDRS[$id]}; done
    echo "$list"
}

sh_run() { # shows and runs one shell command
    echo "\$ dqlite -s $(servers) $DB \"$1\""
    timeout 30 "$B/dqlite" -s "$(servers)" "$DB" "$1"
}

rm -rf "$DATA"
mkdir -p "$DATA"
echo '*' >"$DATA/.gitignore" # the folder keeps itself out of git

say "Starting a 3-node cluster on 127.0.0.1 (data in ./$DATA)"
start_node 1
start_node 2 "${ADDRS[1]}"
start_node 3 "${ADDRS[1]}"
sh_run ".cluster"

say "Writing and reading through the shell"
sh_run "CREATE TABLE IF NOT EXISTS animals (name TEXT PRIMARY KEY, legs INT)"
sh_run "INSERT INTO animals VALUES ('cat', 4), ('bird', 2), ('snake', 0)"
sh_run "SELECT name, legs FROM animals ORDER BY name"

say "Killing the leader"
leader=$(timeout 30 "$B/dqlite" -s "$(servers)" "$DB" .leader)
victim=""
for id in "${!ADDRS[@]}"; do [ "${ADDRS[$id]}" = "$leader" ] && victim=$id; done
[ -n "$victim" ] || fail "no leader found (got '$leader')"
echo "the leader is node $victim at $leader: kill -9 ${PIDS[$victim]}"
kill -KILL "${PIDS[$victim]}"
{ wait "${PIDS[$victim]}" || true; } 2>/dev/null
unset "PIDS[$victim]"

say "Waiting for a new leader"
new=""
for _ in $(seq 60); do
    new=$(timeout 10 "$B/dqlite" -s "$(servers)" "$DB" .leader 2>/dev/null || true)
    [ -n "$new" ] && [ "$new" != "$leader" ] && break
    sleep 0.25
done
[ -n "$new" ] && [ "$new" != "$leader" ] || fail "no new leader was elected"
echo "the new leader is $new"
sh_run ".cluster"

say "The data is intact, and writes still work"
sh_run "SELECT name, legs FROM animals ORDER BY name"
sh_run "INSERT INTO animals VALUES ('spider', 8)"
sh_run "SELECT count(*), sum(legs) FROM animals"

say "Stopping the surviving nodes (SIGTERM: graceful)"
for id in $(printf '%s\n' "${!PIDS[@]}" | sort); do
    kill -TERM "${PIDS[$id]}"
    status=0
    wait "${PIDS[$id]}" || status=$?
    echo "node $id exited with status $status"
    unset "PIDS[$id]"
done
echo
echo "demo: done (node logs in ./$DATA/node*.log)"
