#!/usr/bin/env bash
# Backup figures: one dqlited node holding a database of SIZE_MB MiB of
# random blobs (loaded in 32 MiB transactions), then `.backup FILE`
# through the shell (BACKUP, streamed) and, for comparison when the
# database fits in one message, `.dump FILE` (DUMP, whole in memory).
# Prints the time of each, the shell's peak RSS (/usr/bin/time) and the
# node's RSS before and its peak during each (sampled every 50 ms).
#
#   scripts/bench-backup.sh BUILD_DIR [SIZE_MB]     (default 1024)
#
# A benchmark, not a test: figures only, nothing passes or fails. The
# machine's load changes them; compare runs of one invocation only.
set -euo pipefail
B=$(cd "${1:?usage: bench-backup.sh BUILD_DIR [SIZE_MB]}" && pwd)
SIZE_MB=${2:-1024}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dqlite-bench-backup.XXXXXX")
PORT=$((20000 + RANDOM % 20000))
ADDR=127.0.0.1:$PORT
NODE=""

cleanup() {
    if [ -n "$NODE" ]; then
        kill -TERM "$NODE" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$NODE" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NODE" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

"$B/dqlited" --id 1 --address "$ADDR" --dir "$TMP/node" >"$TMP/node.out" \
    2>"$TMP/node.log" &
NODE=$!
for _ in $(seq 100); do grep -q '^listening on' "$TMP/node.out" && break; sleep 0.1; done
sh_() { timeout 3600 "$B/dqlite" -s "$ADDR" bench "$@"; }

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$NODE/status"; }

# peak_during CMD...: runs CMD, sampling the node's RSS; prints the peak.
peak_during() {
    local peak=0 r pid
    "$@" >/dev/null &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        r=$(rss_kb)
        [ "$r" -gt "$peak" ] && peak=$r
        sleep 0.05
    done
    wait "$pid"
    echo "$peak"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared)"
start=$(date +%s.%N)
sh_ "CREATE TABLE b (n INTEGER PRIMARY KEY, v BLOB)"
rows_per_txn=$((32 * 1024 / 8)) # 8 KiB rows, 32 MiB a transaction
for t in $(seq $((SIZE_MB / 32))); do
    sh_ "INSERT INTO b (v) SELECT randomblob(8192) FROM
         (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c
          WHERE i < $rows_per_txn) SELECT i FROM c)"
done
echo "loaded $SIZE_MB MiB in $(echo "$(date +%s.%N) - $start" | bc) s"
before=$(rss_kb)

for what in backup dump; do
    if [ "$what" = dump ] && [ "$SIZE_MB" -gt 512 ]; then
        echo "dump: skipped (DUMP answers in one message, limited to 1 GiB)"
        continue
    fi
    rm -f "$TMP/copy.db" "$TMP/copy.db-wal"
    sync
    before=$(rss_kb)
    peak=$(peak_during /usr/bin/time -f "%e %M" -o "$TMP/time.$what" \
        "$B/dqlite" -s "$ADDR" bench ".$what $TMP/copy.db")
    read -r secs shell_kb <"$TMP/time.$what"
    size=$(stat -c %s "$TMP/copy.db")
    echo "$what: $((size / 1048576)) MiB file in $secs s;" \
        "shell peak RSS $((shell_kb / 1024)) MiB;" \
        "node RSS $((before / 1024)) MiB before, peak $((peak / 1024)) MiB during"
    if [ "$what" = backup ]; then
        echo "backup: integrity $(sqlite3 "$TMP/copy.db" "PRAGMA integrity_check")," \
            "rows $(sqlite3 "$TMP/copy.db" "SELECT count(*) FROM b")"
    fi
done
