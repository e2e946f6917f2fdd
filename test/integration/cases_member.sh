# shellcheck shell=bash
# Membership cases (issue 8), sourced by run.sh after cases.sh: ADD, ASSIGN
# (voter, stand-by, spare; a promotion waits for catch-up), REMOVE,
# TRANSFER, DESCRIBE, WEIGHT, CLUSTER with roles, DUMP into a directory, the
# misuses (unknown id, removing the leader, promoting an unreachable node,
# two changes at once) each followed by a health check, and quorum-loss
# recovery with `dqlited --recover`. They run on a cluster of their own
# (nodes 1-7, fresh directories and ports), driven by our shell; run.sh
# provides start_node, stop_node, sh_, check and expect_eq.
# docs/membership.md lists every operation with the case that covers it.

MDB=member
M_ROWS=0 # rows of table m acknowledged so far (n = 1..M_ROWS)

msh() { sh_ "$MDB" "$@"; }

# Stops every running node (SIGTERM) and forgets the nodes' addresses and
# data, so the next cases start a cluster of their own.
m_reset() {
    local id
    for id in "${!PIDS[@]}"; do stop_node "$id" TERM; done
    for id in "${!ADDRS[@]}"; do rm -rf "$TMP/node$id"; done
    ADDRS=()
}

# m_cluster "ID:ROLE ...": what .cluster prints for that configuration.
m_cluster() {
    local item
    for item in $1; do
        printf '%x|%s|%s\n' "${item%%:*}" "${ADDRS[${item%%:*}]}" "${item#*:}"
    done | sort
}

# m_write: one more acknowledged row in table m.
m_write() {
    msh "INSERT INTO m (n, v) VALUES ($((M_ROWS + 1)), 'row $((M_ROWS + 1))')" ||
        return 1
    M_ROWS=$((M_ROWS + 1))
}

# m_healthy "ID:ROLE ...": a write goes through (and the count of rows is
# right), and .cluster is as given.
m_healthy() {
    local n=$((M_ROWS + 1)) out
    out=$(msh "INSERT INTO m (n, v) VALUES ($n, 'row $n'); SELECT count(*) FROM m") ||
        { echo "health: write failed"; return 1; }
    M_ROWS=$n
    expect_eq "$M_ROWS" "$out" || { echo "(health: rows)"; return 1; }
    expect_eq "$(m_cluster "$1")" "$(msh .cluster | sort)" ||
        { echo "(health: .cluster)"; return 1; }
}

# m_refused PATTERN DOT-COMMAND: the command fails (exit 1) with a message
# matching PATTERN.
m_refused() {
    local out status=0
    out=$(msh "$2" 2>&1) || status=$?
    [ "$status" -eq 1 ] && printf '%s\n' "$out" | grep -Eq "$1" && return 0
    echo "$2: exit $status, expected 1 and /$1/; output:"
    printf '%s\n' "$out"
    return 1
}

# m_id_of ADDRESS: the node id of a running node's address.
m_id_of() {
    local id
    for id in "${!ADDRS[@]}"; do
        [ "${ADDRS[$id]}" = "$1" ] && echo "$id" && return 0
    done
    return 1
}

# m_count_on ID TABLE EXPECTED [SECONDS]: node ID's own copy of the database
# (dumped into a directory, read by sqlite3) reaches EXPECTED rows.
m_count_on() {
    local dir=$TMP/mdump$1 out="" i
    mkdir -p "$dir"
    for i in $(seq $((${4:-5} * 4))); do
        rm -f "$dir/$MDB" "$dir/$MDB-wal"
        msh ".dump ${ADDRS[$1]} $MDB $dir" >/dev/null 2>&1 &&
            out=$(sqlite3 "$dir/$MDB" "SELECT count(*) FROM $2" 2>&1)
        [ "$out" = "$3" ] && return 0
        sleep 0.25
    done
    echo "node $1 has '$out' rows in $2, expected $3"
    return 1
}

# ------------------------------------------------------------ the cases

t_m_start() {
    m_reset
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    msh "CREATE TABLE m (n INTEGER PRIMARY KEY, v TEXT)" || return 1
    m_healthy "1:voter 2:voter 3:voter"
}

# ADD: a node started without --join waits; .add makes it a spare.
t_m_add_spare() {
    start_node 4 || return 1
    msh ".add 4 ${ADDRS[4]}" || return 1
    m_healthy "1:voter 2:voter 3:voter 4:spare"
}

# ASSIGN stand-by: the node replicates (its own copy gets the rows).
t_m_assign_standby() {
    msh ".assign 4 stand-by" || return 1
    m_healthy "1:voter 2:voter 3:voter 4:stand-by" &&
        m_count_on 4 m "$M_ROWS"
}

# ASSIGN spare (a demotion), then a promotion that must wait: node 4 is
# frozen (SIGSTOP) while 3000 rows are behind it. The promotion stays
# pending (node 4 still spare) and another change meanwhile is refused as
# "in progress" (REMOVE of an unknown id: refused as such when no change is
# pending, so the probe changes nothing); writes go on. Once node 4 runs
# again it catches up and the ASSIGN (the shell's 5 s call timeout) succeeds,
# node 4 a voter holding every row.
t_m_promotion_waits() {
    local out="" status=0 pid i
    msh ".assign 4 spare" || return 1
    m_healthy "1:voter 2:voter 3:voter 4:spare" || return 1
    msh "INSERT INTO m (n, v) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL
        SELECT i + 1 FROM c WHERE i < 3000) SELECT $M_ROWS + i,
        printf('%0100d', i) FROM c" || return 1
    M_ROWS=$((M_ROWS + 3000))
    kill -STOP "${PIDS[4]}"
    (msh ".assign 4 voter" >"$TMP/m_promote.out" 2>&1) &
    pid=$!
    for i in $(seq 30); do
        out=$(msh ".remove 63" 2>&1)
        printf '%s\n' "$out" | grep -q "already in progress" && break
        sleep 0.1
    done
    echo "second change: $out"
    printf '%s\n' "$out" | grep -q "already in progress" &&
        expect_eq "4|${ADDRS[4]}|spare" "$(msh .cluster | grep "^4|")" &&
        m_write || status=1
    kill -CONT "${PIDS[4]}"
    wait "$pid" || status=1
    echo "promotion: $(cat "$TMP/m_promote.out")"
    [ "$status" -eq 0 ] || return 1
    m_healthy "1:voter 2:voter 3:voter 4:voter" &&
        m_count_on 4 m "$M_ROWS" 2
}

# Promoting an unreachable node: node 4 (spare again) is killed and the
# cluster writes on. The ASSIGN times out on the client (the node cannot
# catch up), node 4 stays spare, writes go on; changes are refused as "in
# progress" until the leader gives the promotion up (10 election timeouts),
# then the dead node can be removed.
t_m_promote_unreachable() {
    local out status=0 i
    msh ".assign 4 spare" || return 1
    stop_node 4 KILL
    m_write && m_write || return 1
    out=$(msh ".assign 4 voter" 2>&1) || status=$?
    echo "$out"
    [ "$status" -eq 1 ] || { echo "exit $status"; return 1; }
    printf '%s\n' "$out" | grep -Eq "timed out|did not catch up" || return 1
    m_healthy "1:voter 2:voter 3:voter 4:spare" || return 1
    for i in $(seq 60); do
        out=$(msh ".remove 4" 2>&1) && break
        printf '%s\n' "$out" | grep -q "already in progress" ||
            { echo "remove: $out"; return 1; }
        sleep 0.5
    done
    echo "removed after $i attempt(s)"
    m_healthy "1:voter 2:voter 3:voter"
}

# A new node joins as spare through dqlited itself (--join --role spare).
t_m_join_spare() {
    start_node 5 --join "$(servers)" --role spare --failure-domain 3 ||
        return 1
    m_healthy "1:voter 2:voter 3:voter 5:spare"
}

# DESCRIBE and WEIGHT, asked of node 5 itself.
t_m_describe_weight() {
    expect_eq "${ADDRS[5]}|3|0" "$(msh ".describe ${ADDRS[5]}")" || return 1
    msh ".weight ${ADDRS[5]} 7" || return 1
    expect_eq "${ADDRS[5]}|3|7" "$(msh ".describe ${ADDRS[5]}")" &&
        expect_eq "${ADDRS[1]}|0|0" "$(msh ".describe ${ADDRS[1]}")"
}

# Unknown ids, a role the node already has, TRANSFER to a spare, ADD of an
# id or address in use: each refused with the server's message, the cluster
# unchanged and healthy.
t_m_misuse_refused() {
    m_refused "server ID is not valid" ".assign 63 voter" &&
        m_refused "server ID is not valid" ".remove 63" &&
        m_refused "server ID is not valid" ".transfer 63" &&
        m_refused "server role is not valid" ".assign 2 voter" &&
        m_refused "server role is not valid" ".transfer 5" &&
        m_refused "server ID already in use" ".add 2 127.0.0.1:1" &&
        m_refused "server address already in use" ".add 9 ${ADDRS[2]}" &&
        m_refused "bad role" ".assign 5 boss" || return 1
    m_healthy "1:voter 2:voter 3:voter 5:spare"
}

# TRANSFER to a chosen node, by id and by address.
t_m_transfer() {
    local l id target i
    msh ".assign 5 voter" || return 1
    m_healthy "1:voter 2:voter 3:voter 5:voter" || return 1
    for target in id address; do
        l=$(msh .leader) || return 1
        for id in 5 3 2 1; do [ "${ADDRS[$id]}" != "$l" ] && break; done
        if [ "$target" = id ]; then
            msh ".transfer $id" || return 1
        else
            msh ".transfer ${ADDRS[$id]}" || return 1
        fi
        for i in $(seq 20); do
            [ "$(msh .leader)" = "${ADDRS[$id]}" ] && break
            sleep 0.25
        done
        expect_eq "${ADDRS[$id]}" "$(msh .leader)" || return 1
    done
    m_healthy "1:voter 2:voter 3:voter 5:voter"
}

# m_leader_id: the id of the current leader.
m_leader_id() {
    local l
    l=$(msh .leader) && m_id_of "$l"
}

# DUMP into a directory while a writer runs, on the leader and on a
# follower: the two files (main file and WAL, not merged) open with sqlite3
# as one consistent database. The leader's dump holds every row
# acknowledged before it (it passes the read gate first); a follower's is
# its own copy as applied so far (it may lack the last acknowledged rows
# until its next heartbeat: docs/membership.md), so it is only checked to
# reach them. The writer's rows are deleted whatever the outcome, so that
# later cases count right.
t_m_dump_dir() {
    local dir=$TMP/mdir wpid n before status=0 id leader follower
    mkdir -p "$dir"
    leader=$(m_leader_id) || { echo "no leader"; return 1; }
    for id in 1 2 3 5; do [ "$id" != "$leader" ] && follower=$id && break; done
    (for n in $(seq 1 15); do
        msh "INSERT INTO m (n, v) VALUES ($((100000 + n)), 'w')" || exit 1
    done) &
    wpid=$!
    before=$M_ROWS
    for id in "$leader" "$follower"; do
        rm -f "$dir/$MDB" "$dir/$MDB-wal"
        expect_eq OK "$(msh ".dump ${ADDRS[$id]} $MDB $dir")" || break
        [ -f "$dir/$MDB" ] && [ -f "$dir/$MDB-wal" ] ||
            { ls -la "$dir"; status=1; break; }
        expect_eq ok "$(sqlite3 "$dir/$MDB" "PRAGMA integrity_check")" ||
            { status=1; break; }
        [ "$id" = "$leader" ] || continue
        n=$(sqlite3 "$dir/$MDB" "SELECT count(*) FROM m WHERE n <= $before")
        expect_eq "$before" "$n" || { echo "(leader $id)"; status=1; break; }
    done
    wait "$wpid" || { echo "writer failed"; status=1; }
    [ "$status" -eq 0 ] &&
        m_count_on "$follower" "m WHERE n <= $before" "$before" &&
        m_count_on 1 "m WHERE n > 100000" 15 || status=1
    msh "DELETE FROM m WHERE n > 100000" || return 1
    [ "$status" -eq 0 ] || return 1
    # A directory that does not exist: a clear error naming the file.
    m_refused "cannot write $TMP/nodir/$MDB" ".dump ${ADDRS[1]} $MDB $TMP/nodir"
}

# A leader just elected (TRANSFER) may not yet have applied the writes its
# predecessor acknowledged; its DUMP waits for them (the read gate). Five
# times, one shell writes a row, hands leadership to another voter and at
# once dumps the new leader: every dump holds the row. (Without the gate
# most of these dumps lacked it: 17 of 20 in a loop.)
t_m_dump_new_leader() {
    local dir=$TMP/mdir i l id n
    mkdir -p "$dir"
    for i in $(seq 5); do
        l=$(m_leader_id) || { echo "no leader"; return 1; }
        for id in 5 3 2 1; do [ "$id" != "$l" ] && break; done
        rm -f "$dir/$MDB" "$dir/$MDB-wal"
        n=$((M_ROWS + 1))
        printf '%s\n' "INSERT INTO m (n, v) VALUES ($n, 'row $n');" \
            ".transfer $id" ".dump ${ADDRS[$id]} $MDB $dir" | msh ||
            { echo "round $i: write, transfer or dump failed"; return 1; }
        M_ROWS=$n
        expect_eq "$M_ROWS" "$(sqlite3 "$dir/$MDB" "SELECT count(*) FROM m")" ||
            { echo "(round $i: dump of the new leader $id)"; return 1; }
    done
    m_healthy "1:voter 2:voter 3:voter 5:voter"
}

# Two changes at once: two ADDs race; each succeeds or is refused as "in
# progress", and the configuration holds exactly the ones that succeeded.
t_m_two_changes() {
    local s6=0 s7=0 want="1:voter 2:voter 3:voter 5:voter"
    start_node 6 && start_node 7 || return 1
    msh ".add 6 ${ADDRS[6]}" >"$TMP/m_add6.out" 2>&1 &
    local p6=$!
    msh ".add 7 ${ADDRS[7]}" >"$TMP/m_add7.out" 2>&1 &
    local p7=$!
    wait "$p6" || s6=$?
    wait "$p7" || s7=$?
    echo "add 6: exit $s6 $(cat "$TMP/m_add6.out")"
    echo "add 7: exit $s7 $(cat "$TMP/m_add7.out")"
    [ "$s6" -eq 0 ] || [ "$s7" -eq 0 ] || { echo "neither succeeded"; return 1; }
    [ "$s6" -eq 0 ] && want+=" 6:spare"
    [ "$s7" -eq 0 ] && want+=" 7:spare"
    [ "$s6" -eq 0 ] || grep -q "already in progress" "$TMP/m_add6.out" || return 1
    [ "$s7" -eq 0 ] || grep -q "already in progress" "$TMP/m_add7.out" || return 1
    m_healthy "$want" || return 1
    [ "$s6" -eq 0 ] && { msh ".remove 6" || return 1; }
    [ "$s7" -eq 0 ] && { msh ".remove 7" || return 1; }
    stop_node 6 TERM
    stop_node 7 TERM
    m_healthy "1:voter 2:voter 3:voter 5:voter"
}

# REMOVE of the leader itself. Expected: the request succeeds once the
# configuration without the leader is committed (the change is made).
t_m_remove_leader_answer() {
    local l
    l=$(msh .leader) || return 1
    M_REMOVED=$(m_id_of "$l") || { echo "leader '$l' unknown"; return 1; }
    msh ".remove $l"
}

# ... and whatever the answer, the cluster goes on: a new leader among the
# others, writes continue, .cluster without the removed node, which learns
# it was removed and stops by itself (exit 13), or, if SIGTERM comes
# first, stops cleanly (exit 0).
t_m_remove_leader_health() {
    local id want="" l
    [ -n "${M_REMOVED:-}" ] || return 1
    for id in 1 2 3 5; do [ "$id" = "$M_REMOVED" ] || want+=" $id:voter"; done
    l=$(wait_leader "${ADDRS[$M_REMOVED]}")
    [ -n "$l" ] && [ "$l" != "${ADDRS[$M_REMOVED]}" ] ||
        { echo "no new leader"; return 1; }
    m_healthy "$want" || return 1
    stop_node "$M_REMOVED" TERM
    case $STOP_STATUS in 0 | 13) ;; *)
        echo "exit status of the removed node: $STOP_STATUS"; return 1 ;;
    esac
    m_healthy "$want"
}

# dqlited --recover: refused on an empty directory, without this node, with
# --join.
t_m_recover_usage() {
    local s1=0 s2=0 s3=0 s4=0
    "$B/dqlited" --id 1 --address 127.0.0.1:1 --dir "$TMP/empty" \
        --recover self 2>/dev/null || s1=$?
    mkdir -p "$TMP/rc" && cp "$TMP/node1/metadata" "$TMP/rc/" &&
        echo 1 >"$TMP/rc/node-id" || return 1
    "$B/dqlited" --address 127.0.0.1:1 --dir "$TMP/rc" \
        --recover 2=127.0.0.1:2 2>/dev/null || s2=$?
    "$B/dqlited" --address 127.0.0.1:1 --dir "$TMP/rc" \
        --recover "1=127.0.0.1:1=boss" 2>/dev/null || s3=$?
    "$B/dqlited" --address 127.0.0.1:1 --dir "$TMP/rc" --recover self \
        --join 127.0.0.1:2 2>/dev/null || s4=$?
    expect_eq "3 2 2 2" "$s1 $s2 $s3 $s4" &&
        "$B/dqlited" --help | grep -q -- "--recover LIST"
}

# Quorum loss: 3 nodes, rows written, 2 nodes killed with their data
# deleted for good. The survivor alone cannot serve (reads need a quorum);
# it is stopped, recovered into a one-node cluster (dqlited --recover self),
# started: it leads, with every committed row; two fresh nodes join and get
# every row.
t_m_quorum_loss_recovery() {
    local l s id out want status=0
    m_reset
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    msh "CREATE TABLE r (n INTEGER PRIMARY KEY, v TEXT)" || return 1
    for id in $(seq 5); do msh "INSERT INTO r VALUES ($id, 'one by one')" || return 1; done
    msh "INSERT INTO r WITH RECURSIVE c(i) AS (SELECT 6 UNION ALL SELECT i + 1
        FROM c WHERE i < 1000) SELECT i, 'in bulk' FROM c" || return 1
    want="1000|500500"
    expect_eq "$want" "$(msh "SELECT count(*), sum(n) FROM r")" || return 1
    l=$(msh .leader) || return 1
    s=$(m_id_of "$l") || return 1
    for id in 1 2 3; do
        [ "$id" = "$s" ] && continue
        stop_node "$id" KILL
        rm -rf "$TMP/node$id"
    done
    # Under its read lease (docs/raft.md, "Leader leases") the survivor may
    # still answer until the lease ends, within one election timeout of the
    # last heartbeat a quorum acknowledged; from then on it must not (an
    # error or no answer within 6 s: both mean it cannot serve).
    for _ in $(seq 40); do
        timeout 2 "$B/dqlite" -s "$l" "$MDB" "SELECT count(*) FROM r" >/dev/null 2>&1 || break
        sleep 0.25
    done
    timeout 6 "$B/dqlite" -s "$l" "$MDB" "SELECT count(*) FROM r" >/dev/null 2>&1 &&
        { echo "the survivor alone still answers a linearizable read"; return 1; }
    stop_node "$s" TERM
    expect_eq 0 "$STOP_STATUS" || { echo "(survivor's exit status)"; return 1; }
    out=$("$B/dqlited" --address "$l" --dir "$TMP/node$s" --recover self 2>&1) ||
        status=$?
    echo "$out"
    expect_eq 0 "$status" || return 1
    start_node "$s" || return 1
    expect_eq "$(m_cluster "$s:voter")" "$(msh .cluster)" &&
        expect_eq "$want" "$(msh "SELECT count(*), sum(n) FROM r")" || return 1
    msh "INSERT INTO r VALUES (1001, 'after recovery')" || return 1
    start_node 6 --join "$l" && start_node 7 --join "$l" || return 1
    expect_eq "$(m_cluster "$s:voter 6:voter 7:voter")" "$(msh .cluster | sort)" ||
        return 1
    for id in "$s" 6 7; do m_count_on "$id" r 1001 || return 1; done
}

run_member_cases() {
    check "member: 3-node cluster of its own" t_m_start || return
    check "member: ADD (a node waiting) as spare" t_m_add_spare
    check "member: ASSIGN stand-by replicates" t_m_assign_standby
    check "member: ASSIGN spare; promotion to voter waits for catch-up" t_m_promotion_waits
    check "member: promoting an unreachable node fails, cluster healthy" t_m_promote_unreachable
    check "member: dqlited --join --role spare" t_m_join_spare
    check "member: DESCRIBE and WEIGHT" t_m_describe_weight
    check "member: unknown id, same role, id/address in use refused" t_m_misuse_refused
    check "member: TRANSFER to a chosen node (id, address)" t_m_transfer
    check "member: DUMP into a directory during writes" t_m_dump_dir
    check "member: DUMP of a leader just elected holds acknowledged writes" t_m_dump_new_leader
    check "member: two changes at once" t_m_two_changes
    check "member: REMOVE of the leader answers success" t_m_remove_leader_answer
    check "member: leader removed: new leader, writes go on" t_m_remove_leader_health
    check "member: dqlited --recover refusals" t_m_recover_usage
    check "member: quorum loss, --recover, grow back to 3" t_m_quorum_loss_recovery
}
