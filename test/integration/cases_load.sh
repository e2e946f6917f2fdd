# shellcheck shell=bash
# .restore FILE [DB] [--force]: a SQLite file loaded into the cluster as one
# replicated operation (docs/restore.md). A cluster of its own (nodes 1-3,
# fresh directories and ports) with small snapshot parameters, so that a
# load of several parts crosses snapshots. Sourced by run.sh.

LOAD_DB=loaded

ldsh_() { sh_ "$LOAD_DB" "$@"; }

# l_make FILE ROWS: a SQLite file (rollback journal mode, as sqlite3 makes
# it) with table t of ROWS rows of ~1 KB and an index on n.
l_make() {
    rm -f "$1"
    sqlite3 "$1" "CREATE TABLE t (n INTEGER PRIMARY KEY, b BLOB);
        WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c
                                WHERE i < $2)
        INSERT INTO t SELECT i, randomblob(1000) FROM c;
        CREATE INDEX tn ON t (n);" || return 1
}

# l_count NODE_ID: count(*) of t in $LOAD_DB as node NODE_ID's own copy (a
# dump of that node, opened with sqlite3).
l_count() {
    local dir=$TMP/ldump$1
    rm -rf "$dir" && mkdir -p "$dir"
    timeout 30 "$B/dqlite" -s "$(servers)" "$LOAD_DB" \
        ".dump ${ADDRS[$1]} $LOAD_DB $dir" >/dev/null || return 1
    sqlite3 "$dir/$LOAD_DB" "SELECT count(*) FROM t"
}

t_ld_start() {
    m_reset
    local o=(--snapshot-threshold 4 --snapshot-trailing 4)
    start_node 1 "${o[@]}" || return 1
    start_node 2 "${o[@]}" --join "${ADDRS[1]}" || return 1
    start_node 3 "${o[@]}" --join "${ADDRS[1]}" || return 1
    wait_leader "" >/dev/null
}

# 30 MB (4 parts of 8 MiB): every node has the file's rows, the same
# integrity, and the database takes writes afterwards.
t_l_restore() {
    l_make "$TMP/l.db" 30000 || return 1
    ldsh_ ".restore $TMP/l.db" || return 1
    local id n
    for id in 1 2 3; do
        for _ in $(seq 40); do
            n=$(l_count "$id" 2>/dev/null) && [ "$n" = 30000 ] && break
            sleep 0.25
        done
        expect_eq 30000 "$n" || { echo "node $id"; return 1; }
    done
    expect_eq ok "$(ldsh_ "SELECT * FROM pragma_integrity_check")" || return 1
    ldsh_ "INSERT INTO t (n, b) VALUES (30001, x'00')" || return 1
    expect_eq 30001 "$(ldsh_ "SELECT count(*) FROM t")"
}

# The database exists: refused without --force (its content unchanged),
# replaced with it.
t_l_exists() {
    l_make "$TMP/l2.db" 10 || return 1
    if ldsh_ ".restore $TMP/l2.db" 2>"$TMP/l.err"; then
        echo "restore over an existing database succeeded"; return 1
    fi
    grep -q "exists" "$TMP/l.err" || { cat "$TMP/l.err"; return 1; }
    expect_eq 30001 "$(ldsh_ "SELECT count(*) FROM t")" || return 1
    ldsh_ ".restore $TMP/l2.db $LOAD_DB --force" || return 1
    expect_eq 10 "$(ldsh_ "SELECT count(*) FROM t")"
}

# A file that is not SQLite: refused before anything is proposed.
t_l_not_sqlite() {
    head -c 1048576 /dev/urandom >"$TMP/junk.db"
    if sh_ other ".restore $TMP/junk.db" 2>"$TMP/l.err"; then
        echo "restore of a random file succeeded"; return 1
    fi
    grep -q "not a SQLite database" "$TMP/l.err" || { cat "$TMP/l.err"; return 1; }
    if sh_ other ".restore $TMP/l.err" 2>"$TMP/l.err2"; then
        echo "restore of a text file succeeded"; return 1
    fi
    grep -q "not a SQLite database" "$TMP/l.err2" || { cat "$TMP/l.err2"; return 1; }
    # Nothing installed: "other" is an empty database (the shell's open
    # creates it). The refusal comes before any proposal: at BEGIN for the
    # text file (not whole pages), at the first chunk's header check for
    # the random one (gateway_load.c).
    if sh_ other "SELECT count(*) FROM sqlite_master" 2>/dev/null | grep -qv '^0$'; then
        echo "database other has content"; return 1
    fi
}

# A file with a valid header whose pages are damaged: PRAGMA
# integrity_check fails and the load is refused on every node; the
# database keeps its content.
t_l_corrupt() {
    l_make "$TMP/bad.db" 2000 || return 1
    # Overwrite pages 3..40 (table and index b-tree pages) with noise.
    local ps
    ps=$(sqlite3 "$TMP/bad.db" "PRAGMA page_size")
    dd if=/dev/urandom of="$TMP/bad.db" bs="$ps" seek=2 count=38 \
        conv=notrunc status=none || return 1
    if ldsh_ ".restore $TMP/bad.db $LOAD_DB --force" 2>"$TMP/l.err"; then
        echo "restore of a corrupt file succeeded"; return 1
    fi
    grep -q "integrity_check" "$TMP/l.err" || { cat "$TMP/l.err"; return 1; }
    expect_eq 10 "$(ldsh_ "SELECT count(*) FROM t")"
}

# A WAL beside the file: refused by the shell before anything is sent.
t_l_wal_beside() {
    l_make "$TMP/w.db" 5 || return 1
    head -c 4096 /dev/zero >"$TMP/w.db-wal"
    if sh_ other2 ".restore $TMP/w.db" 2>"$TMP/l.err"; then
        echo "restore with a WAL beside succeeded"; return 1
    fi
    grep -q "checkpoint" "$TMP/l.err" || { cat "$TMP/l.err"; return 1; }
}

# A restarted follower: its copy comes back from its snapshot and log
# (the load crossed snapshots taken every 4 entries).
t_l_restart() {
    stop_node 2 TERM
    start_node 2 --snapshot-threshold 4 --snapshot-trailing 4 || return 1
    local n=""
    for _ in $(seq 40); do
        n=$(l_count 2 2>/dev/null) && [ "$n" = 10 ] && break
        sleep 0.25
    done
    expect_eq 10 "$n"
}

# ld_leader_id: the id of the current leader.
ld_leader_id() {
    local l id
    l=$(wait_leader "") || return 1
    for id in "${!ADDRS[@]}"; do
        [ "${ADDRS[$id]}" = "$l" ] && { echo "$id"; return 0; }
    done
    return 1
}

# A query of the target streaming in batches (a client that never reads:
# the statement stays open between two batches, its read transaction held)
# on a follower (started on the leader, then leadership moved away) and on
# the leader while .restore --force replaces the target: every node ends
# its reader, applies the last part and serves the new content; none stops
# (a client never stops a node).
t_ld_readers() {
    l_make "$TMP/l3.db" 20 || return 1
    local big="SELECT t.n, zeroblob(4000) FROM t, (WITH RECURSIVE"
    big+=" c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000)"
    big+=" SELECT i FROM c)"
    local hold old new h1 h2 id n
    hold=$(dirname "$0")/hold_query.py
    old=$(ld_leader_id) || { echo "no leader"; return 1; }
    python3 "$hold" "${ADDRS[$old]}" "$LOAD_DB" "$big" 60 drain >"$TMP/lh1.out" 2>&1 &
    h1=$!
    sleep 1
    new=$((old % 3 + 1))
    ldsh_ ".transfer $new" || { kill "$h1"; wait "$h1"; return 1; }
    for _ in $(seq 40); do
        [ "$(ld_leader_id 2>/dev/null)" = "$new" ] && break
        sleep 0.25
    done
    python3 "$hold" "${ADDRS[$new]}" "$LOAD_DB" "$big" 60 drain >"$TMP/lh2.out" 2>&1 &
    h2=$!
    sleep 1
    ldsh_ ".restore $TMP/l3.db $LOAD_DB --force"
    local rv=$? bad=""
    # The readers stay until every node applied the last part (a follower
    # applies it after the shell's answer).
    for id in 1 2 3; do
        for _ in $(seq 40); do
            n=$(l_count "$id" 2>/dev/null) && [ "$n" = 20 ] && break
            sleep 0.25
        done
        [ "$n" = 20 ] || bad+=" node $id has $n rows;"
    done
    kill -USR1 "$h1" "$h2" 2>/dev/null
    wait "$h1" "$h2" 2>/dev/null
    [ "$rv" -eq 0 ] || { echo ".restore --force failed"; return 1; }
    [ -z "$bad" ] || { echo "$bad"; return 1; }
    for id in 1 2 3; do
        kill -0 "${PIDS[$id]}" 2>/dev/null || { echo "node $id stopped"; return 1; }
    done
    for id in "$old" "$new"; do
        grep -q "ended 1 reader(s) of $LOAD_DB replaced by a restore" \
            "$TMP/node$id.log" || { echo "node $id ended no reader"; return 1; }
    done
    # Each client's stream ended with a FAILURE saying why.
    for id in 1 2; do
        grep -q "^failure [0-9]* database replaced by a restore" "$TMP/lh$id.out" ||
            { echo "client $id:"; cat "$TMP/lh$id.out"; return 1; }
    done
    ldsh_ "INSERT INTO t (n, b) VALUES (21, x'00')" || return 1
    expect_eq 21 "$(ldsh_ "SELECT count(*) FROM t")"
}

# The leader is killed in the middle of a 90 MB load: the cluster drops
# the parts, and the shell starts the load again on the new leader (it says
# so); no node ever has part of the file: the database has every row, and
# the killed node, restarted, has it too.
t_l_leader_killed() {
    l_make "$TMP/big.db" 80000 || return 1
    local leader id old
    leader=$(wait_leader "")
    for id in "${!ADDRS[@]}"; do [ "${ADDRS[$id]}" = "$leader" ] && old=$id; done
    [ -n "${old:-}" ] || { echo "no leader"; return 1; }
    sh_ killed ".restore $TMP/big.db" 2>"$TMP/lk.err" &
    local shpid=$!
    sleep 1.5
    stop_node "$old" KILL
    wait "$shpid"
    local rv=$?
    wait_leader "$leader" >/dev/null
    local n
    n=$(sh_ killed "SELECT count(*) FROM t" 2>/dev/null)
    if [ "$rv" -eq 0 ]; then
        grep -q "starting again" "$TMP/lk.err" ||
            echo "(the load finished before the kill)"
        expect_eq 80000 "$n" || return 1
    else
        [ -z "$n" ] || { echo "a failed load left rows: $n"; return 1; }
        # (the SELECT opened "killed": empty, it does not count as existing)
        sh_ killed ".restore $TMP/big.db" || return 1
    fi
    start_node "$old" --snapshot-threshold 4 --snapshot-trailing 4 || return 1
    local dir=$TMP/ldumpk
    for _ in $(seq 80); do
        rm -rf "$dir" && mkdir -p "$dir"
        timeout 30 "$B/dqlite" -s "$(servers)" killed \
            ".dump ${ADDRS[$old]} killed $dir" >/dev/null 2>&1 &&
            n=$(sqlite3 "$dir/killed" "SELECT count(*) FROM t" 2>/dev/null) &&
            [ "$n" = 80000 ] && break
        sleep 0.25
    done
    expect_eq 80000 "$n"
}

run_load_cases() {
    command -v sqlite3 >/dev/null || { skip "load" "no sqlite3"; return; }
    check "load: a 3-node cluster starts" t_ld_start || return
    check "load: .restore of a 30 MB file reaches every node" t_l_restore
    check "load: an existing database is refused, --force replaces it" t_l_exists
    check "load: a file that is not SQLite is refused, nothing replicated" t_l_not_sqlite
    check "load: a file failing integrity_check is refused" t_l_corrupt
    check "load: a WAL beside the file is refused" t_l_wal_beside
    check "load: a restarted follower has the loaded database" t_l_restart
    check "load: --force while a follower and the leader stream a query" t_ld_readers
    check "load: a leader killed mid-load leaves no half database" t_l_leader_killed
    m_reset
}
