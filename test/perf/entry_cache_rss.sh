#!/usr/bin/env bash
# RSS of a dqlited right after a restart with large entries in its raft log
# (make perf-entry-cache; issue 15, finding 10; docs/raft.md "Memory").
# For each --entry-cache value of PERF_CACHES (MiB; 0 is the 1.11
# behaviour: every entry since the last snapshot-minus-trailing loaded):
# starts a one-node cluster on a free 127.0.0.1 port in a temporary
# directory, writes PERF_ENTRIES transactions that each rewrite one
# PERF_ENTRY_BYTES random blob (one raft entry of about that size each;
# the database itself stays one blob), stops the node (SIGTERM), starts it
# again on the same directory and prints its VmRSS once it serves, and
# again after one more write. Every process is stopped by PID; the
# directory is removed.
set -uo pipefail
B=$(cd "${1:?usage: entry_cache_rss.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ENTRIES=${PERF_ENTRIES:-100}
ENTRY_BYTES=${PERF_ENTRY_BYTES:-4000000}
CACHES=${PERF_CACHES:-"0 64"}
TMP=$(mktemp -d /tmp/entry-cache-rss-XXXXXX)
PORTS_DIR=$TMP
# shellcheck source=../lib/ports.sh
. "$HERE/../lib/ports.sh"
PID=

cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

start() { # DIR PORT CACHE
    "$B/dqlited" --id 1 --address "127.0.0.1:$2" --dir "$1" \
        --entry-cache "$3" >"$TMP/out" 2>>"$TMP/err" &
    PID=$!
    for _ in $(seq 600); do
        grep -q "listening on" "$TMP/out" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "dqlited did not start:" >&2
    cat "$TMP/err" >&2
    exit 1
}

stop() {
    kill -TERM "$PID" && wait "$PID"
    PID=
}

rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status"; }

sql() { "$B/dqlite" -s "127.0.0.1:$PORT" db "$1" >/dev/null; }

for cache in $CACHES; do
    dir=$TMP/node-$cache
    mkdir -p "$dir"
    PORT=$(free_port) || exit 1
    start "$dir" "$PORT" "$cache"
    sql "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)" || exit 1
    sql "INSERT INTO t VALUES (1, zeroblob(1))" || exit 1
    for _ in $(seq "$ENTRIES"); do
        sql "UPDATE t SET b = randomblob($ENTRY_BYTES) WHERE id = 1" || exit 1
    done
    before=$(rss)
    stop
    start "$dir" "$PORT" "$cache"
    sleep 1
    after=$(rss)
    sql "UPDATE t SET b = randomblob($ENTRY_BYTES) WHERE id = 1" || exit 1
    later=$(rss)
    stop
    log_mb=$(du -sm "$dir" | awk '{print $1}')
    echo "entry cache ${cache} MiB: $ENTRIES entries of $ENTRY_BYTES bytes" \
        "(data dir $log_mb MB): RSS before the restart $before, right" \
        "after it $after, after one more write $later"
    grep -h "covers left on disk" "$TMP/err" | tail -1
    : >"$TMP/err"
done
