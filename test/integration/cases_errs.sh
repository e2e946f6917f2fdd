# shellcheck shell=bash
# Errors an operator can act on (docs/server.md, "Errors and limits"):
# each case provokes one resource failure on a real dqlited and checks that
# the client and the log say what happened, and what limit was hit.
# Sourced by run.sh; every case starts from no node and fresh directories.

EDB=errs
esh_() { sh_ "$EDB" "$@"; }

# e_reset: no node running, fresh directories and logs.
e_reset() {
    m_reset
    rm -f "$TMP"/node*.log "$TMP"/node*.out
}

# A transaction larger than one raft entry fails at its commit with the
# same clear error whatever its size (a 150 MB one used to fail "out of
# memory", a 100 MB one "limit exceeded"), and leaves nothing locked.
t_e_txn_too_large() {
    local size out
    start_node 1 || return 1
    esh_ "CREATE TABLE t (b BLOB)" || return 1
    # Rows of 50 MB each: one value stays under SQLite's 64 MiB length
    # limit (docs/sql-policy.md), the transaction does not.
    for rows in 2 3; do
        if out=$(esh_ "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $rows) INSERT INTO t SELECT zeroblob(50000000) FROM c" 2>&1); then
            echo "a transaction of $rows x 50 MB was acknowledged"
            return 1
        fi
        case $out in
        *"transaction too large"*"64 MiB limit"*) ;;
        *) echo "$rows x 50 MB: $out"; return 1 ;;
        esac
    done
    esh_ "INSERT INTO t VALUES (x'01')" || return 1
    expect_eq 1 "$(esh_ "SELECT count(*) FROM t")"
}

# An unfinished snapshot (a disk-full install, a crash mid-write) leaves a
# snap-*.tmp; the next start removes it and says so.
t_e_stale_snapshot_tmp() {
    local tmp=$TMP/node1/snap-00000000000000999999.tmp # no real snapshot reaches it
    start_node 1 || return 1
    esh_ "CREATE TABLE s (n INT)" || return 1
    stop_node 1 TERM
    head -c 10000 /dev/zero >"$tmp"
    start_node 1 || return 1
    if [ -e "$tmp" ]; then
        echo "$tmp is still there after a restart"
        return 1
    fi
    grep -q "removed 1 unfinished snapshot file" "$TMP/node1.log" ||
        { echo "no log line"; tail -5 "$TMP/node1.log"; return 1; }
    esh_ "INSERT INTO s VALUES (1)"
}

# e_wait_exit ID: waits (10 s) for node ID to exit by itself; sets
# EXIT_STATUS (or fails if it is still running).
e_wait_exit() {
    local pid=${PIDS[$1]}
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "node $1 is still running"
        tail -3 "$TMP/node$1.log"
        return 1
    fi
    EXIT_STATUS=0
    { wait "$pid" || EXIT_STATUS=$?; } 2>/dev/null
    unset "PIDS[$1]"
}

# A data directory that cannot be written (immutable: even root cannot
# create files in it) fails the node's first durable write: the log names
# the file and the system's error, and dqlited exits 15 instead of staying
# up as a silent member that refuses to serve.
t_e_unwritable_dir_exits() {
    local rv=0
    start_node 1 || return 1
    esh_ "CREATE TABLE r (n INT)" || return 1
    stop_node 1 TERM
    chattr +i "$TMP/node1" || return 1
    start_node 1 && e_wait_exit 1 || rv=1
    chattr -i "$TMP/node1"
    [ "$rv" = 0 ] || return 1
    expect_eq 15 "$EXIT_STATUS" || return 1
    grep -E "refusing to serve" "$TMP/node1.log" |
        grep -q "(open $TMP/node1/metadata.tmp: Operation not permitted)" ||
        { tail -3 "$TMP/node1.log"; return 1; }
}

# A data directory on a read-only mount refuses the start, naming the file
# and the system's error.
t_e_readonly_mount_refused() {
    local out status=0
    start_node 1 || return 1
    esh_ "CREATE TABLE r (n INT)" || return 1
    stop_node 1 TERM
    out=$(timeout 20 unshare -m sh -c 'mount --bind "$1" "$1" &&
        mount -o remount,bind,ro "$1" && shift && exec "$@"' sh \
        "$TMP/node1" "$B/dqlited" --id 1 --address "${ADDRS[1]}" \
        --dir "$TMP/node1" 2>&1) || status=$?
    expect_eq 1 "$status" || { echo "$out"; return 1; }
    case $out in
    *"$TMP/node1"*": Read-only file system"*) ;;
    *) echo "$out"; return 1 ;;
    esac
}

# A node under RLIMIT_NOFILE 128 flooded with 150 idle connections: it
# refuses what its descriptors cannot hold, says so (one line per 10 s,
# with a count), and still serves once the flood is gone; nothing in the
# node itself (its raft log) ran out of descriptors.
t_e_fd_limit() {
    local fd i fds=() port
    ADDRS[1]=127.0.0.1:$(free_port)
    port=${ADDRS[1]##*:}
    bash -c 'ulimit -n 128 && exec "$@"' sh "$B/dqlited" --id 1 \
        --address "${ADDRS[1]}" --dir "$TMP/node1" --log-level debug \
        >"$TMP/node1.out" 2>>"$TMP/node1.log" &
    PIDS[1]=$!
    for _ in $(seq 200); do
        grep -q '^listening on' "$TMP/node1.out" && break
        sleep 0.05
    done
    esh_ "CREATE TABLE f (n INT)" || return 1
    for i in $(seq 150); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$port" && fds+=("$fd")
    done
    sleep 1
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    grep "refused" "$TMP/node1.log" | grep -q "client connection" ||
        { echo "no log line about refused connections"; return 1; }
    expect_eq 1 "$(grep -c "refused .* client connection" "$TMP/node1.log")" ||
        return 1
    sleep 0.5
    esh_ "INSERT INTO f VALUES (1)" || return 1
    expect_eq 1 "$(esh_ "SELECT count(*) FROM f")" || return 1
    ! grep "refusing to serve" "$TMP/node1.log"
}

# The leader's disk fills: a write sent to it is answered within the
# client's 5 s (here: "disk full on the leader", SQLITE_FULL) instead of
# hanging; once space is back the cluster takes writes again. Node 1's data
# directory is a 16 MiB tmpfs (mounted by run_errs_cases).
t_e_leader_disk_full() {
    local out i status=0
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    esh_ "CREATE TABLE d (n INT, b BLOB)" || return 1
    expect_eq "${ADDRS[1]}" "$(esh_ .leader)" || return 1
    dd if=/dev/zero of="$TMP/node1/filler" bs=64k 2>/dev/null
    for i in 1 2; do
        # Space freed meanwhile (the writer undoing a torn append, a
        # segment dropped) would let the next write through: take it too.
        dd if=/dev/zero of="$TMP/node1/filler$i" bs=4k 2>/dev/null
        status=0
        out=$(timeout 30 "$B/dqlite" -s "${ADDRS[1]}" "$EDB" \
            "INSERT INTO d VALUES ($i, randomblob(4096))" 2>&1) || status=$?
        case $out in
        *"disk full on the leader"*) echo "write $i: $out" ;;
        *"not leader"* | *"leadership lost"*) [ "$i" = 2 ] || {
            echo "write $i: $out"; return 1; } ;;
        *) echo "write $i (status $status): $out"; return 1 ;;
        esac
    done
    grep -q "disk full: the raft log waits for space" "$TMP/node1.log" ||
        { echo "node 1 never found its disk full"; return 1; }
    rm -f "$TMP/node1/filler" "$TMP/node1/filler1" "$TMP/node1/filler2"
    for _ in $(seq 40); do
        esh_ "INSERT INTO d VALUES (10, x'00')" >/dev/null 2>&1 && break
        sleep 0.25
    done
    expect_eq 1 "$(esh_ "SELECT count(*) FROM d WHERE n = 10")"
}

run_errs_cases() {
    local id
    e_reset
    check "errs: a transaction over 64 MiB fails naming the limit" \
        t_e_txn_too_large
    e_reset
    check "errs: a stale snap-*.tmp is removed at start-up" \
        t_e_stale_snapshot_tmp
    e_reset
    local name="errs: unwritable data dir: file and errno logged, exit 15"
    if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/probe" &&
        chattr +i "$TMP/probe" 2>/dev/null; then
        chattr -i "$TMP/probe"
        check "$name" t_e_unwritable_dir_exits
    else
        skip "$name" "chattr +i does not work here (needs root, ext4/xfs)"
    fi
    e_reset
    check "errs: at the fd limit: logged (rate-limited), node still serves" \
        t_e_fd_limit
    e_reset
    name="errs: the leader's disk fills: writes answered 'disk full'"
    if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/node1" &&
        mount -t tmpfs -o size=16m tmpfs "$TMP/node1" 2>/dev/null; then
        check "$name" t_e_leader_disk_full
        for id in "${!PIDS[@]}"; do stop_node "$id" TERM; done
        umount "$TMP/node1"
    else
        skip "$name" "cannot mount a tmpfs here (needs root)"
    fi
    e_reset
    name="errs: read-only data dir at start: file and errno named"
    if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
        check "$name" t_e_readonly_mount_refused
    else
        skip "$name" "no private mount namespace (needs root)"
    fi
    e_reset
}
