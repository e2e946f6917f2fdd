#!/usr/bin/env bash
# Restore figures (docs/restore.md): builds a SQLite file of about SIZE_MB
# megabytes with sqlite3, starts a 3-node cluster on loopback, runs the
# shell's .restore, and prints the wall time of the restore, its rate, and
# each node's peak RSS (VmHWM) before and after. Every process it starts is
# stopped by PID; the temporary directory is removed.
#
#   scripts/bench-restore.sh BUILD_DIR SIZE_MB
#   DQLITED_OPTS="--entry-cache 2048" scripts/bench-restore.sh ...  (node options)
set -uo pipefail
B=$(cd "${1:?usage: bench-restore.sh BUILD_DIR SIZE_MB}" && pwd)
SIZE_MB=${2:?size in MB}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-restore.XXXXXX")
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
addrs=()
for i in 1 2 3; do
    addrs+=("127.0.0.1:$((base + i))")
    join=()
    [ "$i" -gt 1 ] && join=(--join "${addrs[0]}")
    "$B/dqlited" --id "$i" --address "${addrs[$((i - 1))]}" --dir "$TMP/n$i" \
        "${join[@]}" ${DQLITED_OPTS:-} >"$TMP/n$i.out" 2>"$TMP/n$i.log" &
    PIDS+=($!)
    sleep 0.5
done
servers=$(IFS=,; echo "${addrs[*]}")
rows=$((SIZE_MB * 1024 * 1024 / 1100))
sqlite3 "$TMP/src.db" "PRAGMA page_size=4096; CREATE TABLE t (n INTEGER PRIMARY KEY, b BLOB);
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $rows)
    INSERT INTO t SELECT i, randomblob(1000) FROM c;"
bytes=$(stat -c %s "$TMP/src.db")
hwm() { awk '/VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }
for _ in $(seq 40); do
    timeout 5 "$B/dqlite" -s "$servers" x .leader >/dev/null 2>&1 && break
    sleep 0.25
done
echo "file: $((bytes / 1048576)) MiB ($rows rows); peak RSS before (MiB): $(for p in "${PIDS[@]}"; do printf '%s ' "$(hwm "$p")"; done)"
start=$(date +%s.%N)
roles() {
    echo "restore began at $(date -u -d "@$start" +%H:%M:%S.%N | cut -c1-12); role changes of the nodes:"
    for i in 1 2 3; do grep -hE "state [0-9]|(leader|follower|candidate)( in term|,)" "$TMP/n$i.log" | sed "s/^/  node $i: /"; done
}
if ! timeout 1800 "$B/dqlite" -s "$servers" bench ".restore $TMP/src.db"; then
    echo "restore failed after $(echo "$(date +%s.%N) - $start" | bc) s"
    roles
    [ -z "${BENCH_KEEP:-}" ] || cp "$TMP"/n*.log "$BENCH_KEEP"/
    exit 1
fi
end=$(date +%s.%N)
secs=$(echo "$end - $start" | bc)
echo "restore: ${secs} s, $(echo "scale=1; $bytes / 1048576 / $secs" | bc) MiB/s"
count=$(timeout 30 "$B/dqlite" -s "$servers" bench "SELECT count(*) FROM t")
echo "rows after: $count"
echo "peak RSS after (MiB, nodes 1-3): $(for p in "${PIDS[@]}"; do printf '%s ' "$(hwm "$p")"; done)"
roles
echo "machine: $(nproc) cores, shared with other builds (figures are noisy)"
