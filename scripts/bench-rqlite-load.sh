#!/usr/bin/env bash
# rqlite API load and backup figures (docs/http-api.md, "Backup and load"):
# builds a SQLite file of about SIZE_MB megabytes with sqlite3, starts a
# 3-node cluster with --http on loopback, POSTs the file to node 2's
# /db/load (a follower: the load goes to the leader), GETs it back from
# /db/backup, checks the copy's row count, and prints the wall times and
# each node's peak RSS (VmHWM) before and after. Prints figures, asserts
# only that the round trip kept every row. Every process it starts is
# stopped by PID; the temporary directory is removed.
#
#   scripts/bench-rqlite-load.sh BUILD_DIR SIZE_MB
set -uo pipefail
B=$(cd "${1:?usage: bench-rqlite-load.sh BUILD_DIR SIZE_MB}" && pwd)
SIZE_MB=${2:?size in MB}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-rqload.XXXXXX")
declare -a PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
base=$((20000 + RANDOM % 30000))
addrs=() https=()
for i in 1 2 3; do
    addrs+=("127.0.0.1:$((base + i))")
    https+=("127.0.0.1:$((base + 10 + i))")
    join=()
    [ "$i" -gt 1 ] && join=(--join "${addrs[0]}")
    "$B/dqlited" --id "$i" --address "${addrs[$((i - 1))]}" --dir "$TMP/n$i" \
        --http "${https[$((i - 1))]}" "${join[@]}" >"$TMP/n$i.out" 2>"$TMP/n$i.log" &
    PIDS+=($!)
    sleep 0.5
done
rows=$((SIZE_MB * 1024 * 1024 / 1100))
sqlite3 "$TMP/src.db" "PRAGMA page_size=4096; CREATE TABLE t (n INTEGER PRIMARY KEY, b BLOB);
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $rows)
    INSERT INTO t SELECT i, randomblob(1000) FROM c;"
bytes=$(stat -c %s "$TMP/src.db")
hwm() { for p in "${PIDS[@]}"; do awk '/VmHWM/ {printf "%d ", $2 / 1024}' "/proc/$p/status"; done; }
echo "file: $((bytes / 1048576)) MiB, $rows rows (machine shared: figures are noisy)"
echo "peak RSS MiB before: $(hwm)"
h=http://${https[1]}
t0=$(date +%s.%N)
curl -sS -m 1800 -XPOST --data-binary @"$TMP/src.db" "$h/db/load?db=big" -o "$TMP/load.out" -w 'load: HTTP %{http_code}\n'
t1=$(date +%s.%N)
echo "load: $(cat "$TMP/load.out"), $(echo "$t1 - $t0" | bc) s; peak RSS MiB: $(hwm)"
rm -f "$TMP/src.db"
t0=$(date +%s.%N)
curl -sS -m 1800 "$h/db/backup?db=big" -o "$TMP/copy.db" -w 'backup: HTTP %{http_code}\n'
t1=$(date +%s.%N)
echo "backup: $(($(stat -c %s "$TMP/copy.db") / 1048576)) MiB, $(echo "$t1 - $t0" | bc) s; peak RSS MiB: $(hwm)"
got=$(sqlite3 "$TMP/copy.db" "SELECT COUNT(*) FROM t")
[ "$got" = "$rows" ] && echo "rows: $got (all)" || { echo "rows: $got of $rows"; exit 1; }
