# Integration cases: the data directory's lock and owner (issue 16 §1).
# Sourced by run.sh (check, start_node, stop_node, free_port, PIDS, ADDRS).

t_dir_in_use() {
    local status=0 other
    start_node 71 || return 1
    other=127.0.0.1:$(free_port)
    # Another address: the lock refuses it.
    timeout 20 "$B/dqlited" --id 71 --address "$other" --dir "$TMP/node71" \
        >/dev/null 2>"$TMP/inuse.log" || status=$?
    expect_eq 12 "$status" || { cat "$TMP/inuse.log"; return 1; }
    grep -qF "data directory $TMP/node71 is in use by another node (pid ${PIDS[71]})" \
        "$TMP/inuse.log" || { cat "$TMP/inuse.log"; return 1; }
    # The same address: named for the directory too, not "address in use".
    status=0
    timeout 20 "$B/dqlited" --id 71 --address "${ADDRS[71]}" \
        --dir "$TMP/node71" >/dev/null 2>"$TMP/inuse2.log" || status=$?
    expect_eq 12 "$status" || { cat "$TMP/inuse2.log"; return 1; }
    grep -q "is in use by another node" "$TMP/inuse2.log" ||
        { cat "$TMP/inuse2.log"; return 1; }
    # The running node is untouched.
    kill -0 "${PIDS[71]}"
}

t_failed_start_leaves_dir_unclaimed() {
    local status=0
    # Node 71's address is taken: node 72 cannot bind.
    timeout 20 "$B/dqlited" --id 72 --address "${ADDRS[71]}" \
        --dir "$TMP/node72" >/dev/null 2>"$TMP/nobind.log" || status=$?
    expect_eq 1 "$status" || { cat "$TMP/nobind.log"; return 1; }
    [ ! -e "$TMP/node72/node-id" ] ||
        { echo "node-id left behind: $(cat "$TMP/node72/node-id")"; return 1; }
    # So the directory is still free for another id.
    mv "$TMP/node72" "$TMP/node73" && start_node 73 || return 1
    expect_eq 73 "$(cat "$TMP/node73/node-id")"
}

t_lock_released_at_stop() {
    stop_node 71 TERM
    expect_eq 0 "$STOP_STATUS" || return 1
    start_node 71 || return 1
    stop_node 71 TERM
    stop_node 73 TERM
}

run_datadir_cases() {
    check "second dqlited on a running node's dir refused (exit 12)" \
        t_dir_in_use
    check "failed start leaves the data dir unclaimed" \
        t_failed_start_leaves_dir_unclaimed
    check "the lock goes with the node: restart on the same dir" \
        t_lock_released_at_stop
}
