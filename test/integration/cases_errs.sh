# shellcheck shell=bash
# Errors an operator can act on (docs/server.md, "Errors and limits"):
# each case provokes one resource failure on a real dqlited and checks that
# the client and the log say what happened, and what limit was hit.
# Sourced by run.sh; every case starts from no node and fresh directories.

EDB=errs
esh_() { sh_ "$EDB" "$@"; }

# A transaction larger than one raft entry fails at its commit with the
# same clear error whatever its size (a 150 MB one used to fail "out of
# memory", a 100 MB one "limit exceeded"), and leaves nothing locked.
t_e_txn_too_large() {
    local size out
    start_node 1 || return 1
    esh_ "CREATE TABLE t (b BLOB)" || return 1
    for size in 100000000 150000000; do
        if out=$(esh_ "INSERT INTO t VALUES (zeroblob($size))" 2>&1); then
            echo "a $size-byte transaction was acknowledged"
            return 1
        fi
        case $out in
        *"transaction too large"*"64 MiB limit"*) ;;
        *) echo "$size bytes: $out"; return 1 ;;
        esac
    done
    esh_ "INSERT INTO t VALUES (x'01')" || return 1
    expect_eq 1 "$(esh_ "SELECT count(*) FROM t")"
}

# An unfinished snapshot (a disk-full install, a crash mid-write) leaves a
# snap-*.tmp; the next start removes it and says so.
t_e_stale_snapshot_tmp() {
    local tmp=$TMP/node1/snap-00000000000000000005.tmp
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

run_errs_cases() {
    m_reset
    check "errs: a transaction over 64 MiB fails naming the limit" \
        t_e_txn_too_large
    m_reset
    check "errs: a stale snap-*.tmp is removed at start-up" \
        t_e_stale_snapshot_tmp
    m_reset
}
