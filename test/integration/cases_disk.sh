# shellcheck shell=bash
# A follower whose disk fills up waits for space instead of failing, and
# serves again, without a restart, once space returns. Sourced by run.sh;
# a cluster of its own (nodes 1-3, fresh directories) where node 3's data
# directory is a small tmpfs (root only: skipped where it cannot be
# mounted).

DDB=disk
ddsh_() { sh_ "$DDB" "$@"; }

# d_insert FROM TO: one autocommit INSERT of a 2 KiB blob per row. While
# node 3 is full the quorum is nodes 1 and 2 with no slack: if either one
# stalls for an election timeout (a loaded machine), the leader steps down
# (check-quorum) and the write in flight fails "leadership lost", its
# outcome unknown (a 1.5 s SIGSTOP of node 2 does this every time, with no
# leader for about 2 s). That is raft doing its job, not what this case is
# about, so such a batch is sent again (at most twice, once a leader is
# known; INSERT OR REPLACE makes a row written twice one row) and the
# retry is printed. The final count still proves every row is there.
d_insert() {
    local i sql="" out try
    for i in $(seq "$1" "$2"); do
        sql+="INSERT OR REPLACE INTO d VALUES ($i, randomblob(2048));"$'\n'
    done
    for try in 1 2 3; do
        out=$(printf '%s' "$sql" | ddsh_ 2>&1 >/dev/null) && return 0
        echo "rows $1-$2, attempt $try: $out"
        printf '%s\n' "$out" |
            grep -Eq "leadership lost|not leader|knows no leader" || return 1
        [ -n "$(wait_leader "")" ] || return 1
    done
    return 1
}

# d_wait_log NODE TEXT: waits (20 s) for TEXT in the node's log.
d_wait_log() {
    for _ in $(seq 80); do
        grep -q "$2" "$TMP/node$1.log" && return 0
        sleep 0.25
    done
    echo "node $1 never logged: $2"
    tail -5 "$TMP/node$1.log"
    return 1
}

t_d_full_then_space() {
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    ddsh_ "CREATE TABLE d (n INT PRIMARY KEY, b BLOB)" || return 1
    d_insert 1 20 || return 1
    # Fill node 3's disk; the cluster goes on with nodes 1 and 2.
    dd if=/dev/zero of="$TMP/node3/filler" bs=64k 2>/dev/null
    d_insert 21 200 || { echo "writes failed with one full follower"; return 1; }
    d_wait_log 3 "disk full: the raft log waits for space" || return 1
    # Space returns: node 3 catches up by itself. Then node 2 stops, so
    # every later write needs node 3's durable append.
    rm -f "$TMP/node3/filler"
    d_wait_log 3 "disk space is back" || return 1
    stop_node 2 TERM
    d_insert 201 220 || { echo "writes needing node 3 failed"; return 1; }
    expect_eq 220 "$(ddsh_ "SELECT count(*) FROM d")" || return 1
    if grep -q "refusing to serve" "$TMP/node3.log"; then
        grep "refusing to serve" "$TMP/node3.log" | head -3
        return 1
    fi
}

run_disk_cases() {
    local id name="disk: a full follower waits for space, then serves again"
    m_reset
    if [ "$(id -u)" != 0 ] || ! mkdir -p "$TMP/node3" ||
        ! mount -t tmpfs -o size=16m tmpfs "$TMP/node3" 2>/dev/null; then
        skip "$name" "cannot mount a tmpfs here (needs root)"
        return
    fi
    check "$name" t_d_full_then_space
    for id in "${!PIDS[@]}"; do stop_node "$id" TERM; done
    umount "$TMP/node3"
}
