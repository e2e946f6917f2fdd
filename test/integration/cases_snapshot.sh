# shellcheck shell=bash
# A follower that falls behind the leader's log gets the leader's snapshot
# (InstallSnapshot), then goes on appending: its log restarts after the
# snapshot. Sourced by run.sh after the other cases; a cluster of its own
# (nodes 1-3 again, fresh directories and ports) with tiny snapshot parameters, so that a few hundred writes
# compact the leader's log past the stopped follower.

SDB=snap
SNAP_OPTS=(--snapshot-threshold 32 --snapshot-trailing 32)

ssh_() { sh_ "$SDB" "$@"; }

t_s_start() {
    m_reset
    start_node 1 "${SNAP_OPTS[@]}" || return 1
    start_node 2 "${SNAP_OPTS[@]}" --join "${ADDRS[1]}" || return 1
    start_node 3 "${SNAP_OPTS[@]}" --join "${ADDRS[1]}" || return 1
    ssh_ "CREATE TABLE s (n INT PRIMARY KEY)"
}

# s_insert FROM TO: one autocommit INSERT per row (one raft entry each).
s_insert() {
    local i sql=""
    for i in $(seq "$1" "$2"); do sql+="INSERT INTO s VALUES ($i);"$'\n'; done
    printf '%s' "$sql" | ssh_ >/dev/null
}

# Node 3 is stopped while 300 entries are written (the others compact
# their logs every 32), then restarted: it can only catch up by snapshot.
# The leader starts a snapshot transfer to it once its log is compacted
# past node 3, which holds compaction at that snapshot until an election
# timeout (1 s) passes unanswered (docs/raft.md, "Slow snapshot
# transfers"): so node 3 stays down past that, and 100 more entries
# compact the leader's log well past anything node 3 holds (the appends
# the leader sent it while it was down reach it when it is back, up to
# its in-flight window: with the hold, those and the held entries let it
# catch up without a snapshot in about 1 run in 2 under ASan).
# Then node 2 is stopped, so that every later write needs node 3's vote
# and durable append: they succeed only if its log goes on after the
# snapshot.
t_s_follower_installs_and_appends() {
    stop_node 3 TERM
    s_insert 1 300 || return 1
    sleep 2
    s_insert 301 400 || return 1
    start_node 3 "${SNAP_OPTS[@]}" || return 1
    local count="" installed=0
    for _ in $(seq 80); do
        grep -q "installed the leader's snapshot" "$TMP/node3.log" &&
            { installed=1; break; }
        sleep 0.25
    done
    [ "$installed" = 1 ] || { echo "node 3 installed no snapshot"; return 1; }
    stop_node 2 TERM
    s_insert 401 420 || { echo "writes needing node 3 failed"; return 1; }
    count=$(ssh_ "SELECT count(*) FROM s") || return 1
    expect_eq 420 "$count" || return 1
    if grep -q "refusing to serve" "$TMP/node3.log"; then
        grep "refusing to serve" "$TMP/node3.log" | head -3
        return 1
    fi
    start_node 2 "${SNAP_OPTS[@]}"
}

# The entry cache bound (issue 15, finding 10; docs/raft.md "Memory"):
# node 3 restarted with a 1 MiB bound, 24 transactions of a 256 KB blob
# (one entry each, 6 MB: snapshots come by bytes, the 32-entry trailing
# window is cut to the bound); restarted again, it loads only what the
# bound allows of the entries its snapshot covers (logged), and still
# serves the same data and appends.
t_s_entry_cache_restart() {
    stop_node 3 TERM
    start_node 3 "${SNAP_OPTS[@]}" --entry-cache 1 || return 1
    ssh_ "CREATE TABLE big (n INT PRIMARY KEY, b BLOB)" || return 1
    local i sql=""
    for i in $(seq 24); do
        sql+="INSERT INTO big VALUES ($i, randomblob(262144));"$'\n'
    done
    printf '%s' "$sql" | ssh_ >/dev/null || return 1
    ssh_ "SELECT count(*) FROM big" >/dev/null || return 1 # a barrier
    sleep 1 # node 3 applies and snapshots
    stop_node 3 TERM
    local lines left=""
    lines=$(wc -l <"$TMP/node3.log")
    start_node 3 "${SNAP_OPTS[@]}" --entry-cache 1 || return 1
    left=$(tail -n +"$((lines + 1))" "$TMP/node3.log" |
        grep "covers left on disk")
    [ -n "$left" ] || {
        echo "node 3 loaded every entry at start"
        grep "raft log" "$TMP/node3.log" | tail -3
        return 1
    }
    stop_node 2 TERM # writes now need node 3's durable append
    ssh_ "INSERT INTO big VALUES (25, randomblob(262144))" || return 1
    local count=""
    count=$(ssh_ "SELECT count(*) FROM big") || return 1
    expect_eq 25 "$count" || return 1
    start_node 2 "${SNAP_OPTS[@]}"
}

run_snapshot_cases() {
    check "snapshot: 3-node cluster with tiny snapshots" t_s_start || return
    check "snapshot: a follower behind installs the snapshot, then appends" \
        t_s_follower_installs_and_appends
    check "snapshot: a node loads only its entry cache bound at restart" \
        t_s_entry_cache_restart
}
