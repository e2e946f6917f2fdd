# shellcheck shell=bash
# The integration cases (sourced by run.sh, which provides start_node,
# stop_node, sh_, wait_leader, check and expect_eq). Each t_* function is
# one check; they run in order and build on each other's cluster.

t_start_cluster() {
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" --failure-domain 7 || return 1
}

t_cluster_tabular() {
    expect_eq "1|${ADDRS[1]}|voter
2|${ADDRS[2]}|voter
3|${ADDRS[3]}|voter" "$(sh_ "$DB" .cluster | sort)"
}

t_cluster_json() {
    local out
    out=$(sh_ -f json "$DB" .cluster) || return 1
    for id in 1 2 3; do
        printf '%s' "$out" | tr -d '\n' |
            grep -q "{		\"ID\": $id,		\"Address\": \"${ADDRS[$id]}\",		\"Role\": 0	}" ||
            { echo "node $id missing in:"; echo "$out"; return 1; }
    done
    [ "${out:0:3}" = "[
	" ] || { echo "not an indented array: $out"; return 1; }
}

t_leader() {
    local l
    l=$(sh_ "$DB" .leader) || return 1
    case " ${ADDRS[1]} ${ADDRS[2]} ${ADDRS[3]} " in
        *" $l "*) return 0 ;;
    esac
    echo "leader '$l' is not a member"
    return 1
}

t_sql_stdin_tabular() {
    local out
    out=$(sh_ "$DB" <<'SQL'
CREATE TABLE t (n INTEGER PRIMARY KEY, f REAL, s TEXT, b BLOB);
INSERT INTO t VALUES (1, 1000000.0, 'semi;colon', x'0102ff');
INSERT INTO t VALUES (2, 3.25,
    'two lines', NULL);
INSERT INTO t VALUES (3, 1e-5, NULL, x'');
SELECT * FROM t ORDER BY n;
select count(*) from t
SQL
) || return 1
    expect_eq "1|1e+06|semi;colon|[1 2 255]
2|3.25|two lines|<nil>
3|1e-05|<nil>|[]
3" "$out"
}

# As in sqlite3, a statement ends at a ';' (not at the end of a line): a
# SELECT whose FROM is on the next line is one statement.
t_sql_continued_lines() {
    local out
    out=$(printf '%s\n' "CREATE TABLE u (n INT);" "INSERT INTO u VALUES (1)," \
        "(2);" "SELECT sum(n)" "FROM u WHERE" "n > 0;" "-- a comment" \
        "SELECT count(*) FROM u" | sh_ "$DB") || return 1
    expect_eq "3
2" "$out"
}

t_sql_argument_json() {
    local out
    out=$(sh_ -f json "$DB" "SELECT n, s FROM t WHERE n < 3 ORDER BY n") ||
        return 1
    expect_eq '[
	{
		"n": 1,
		"s": "semi;colon"
	},
	{
		"n": 2,
		"s": "two lines"
	}
]' "$out"
}

t_sql_several_in_argument() {
    local out
    out=$(sh_ "$DB" "INSERT INTO t VALUES (4, 0.5, 'four', NULL); SELECT s FROM t WHERE n = 4") || return 1
    expect_eq "four" "$out"
}

t_sql_error() {
    local out status=0
    out=$(sh_ "$DB" "SELECT * FROM nope" 2>&1) || status=$?
    [ "$status" -eq 1 ] || { echo "exit status $status"; return 1; }
    expect_eq "Error: query: no such table: nope" "$out"
}

t_stdin_continues_after_error() {
    local out status=0
    out=$(printf 'SELECT 1;\nINSERT INTO nope VALUES (1);\nSELECT 2;\n' |
        sh_ "$DB" 2>/dev/null) || status=$?
    [ "$status" -eq 1 ] || { echo "exit status $status"; return 1; }
    expect_eq "1
2" "$out"
}

t_describe() {
    expect_eq "${ADDRS[3]}|7|0" "$(sh_ "$DB" ".describe ${ADDRS[3]}")" &&
        expect_eq '{
	"FailureDomain": 7,
	"Weight": 0
}' "$(sh_ -f json "$DB" ".describe ${ADDRS[3]}")"
}

t_weight() {
    local out
    out=$(sh_ "$DB" ".weight ${ADDRS[2]} 5") || return 1
    expect_eq "" "$out" &&
        expect_eq "${ADDRS[2]}|0|5" "$(sh_ "$DB" ".describe ${ADDRS[2]}")"
}

# go-dqlite's own shell (Debian package go-dqlite) against the same nodes:
# both shells must print the same bytes.
t_same_as_reference_shell() {
    local cmd ours theirs
    for cmd in "SELECT * FROM t ORDER BY n" .cluster .leader \
        ".describe ${ADDRS[2]}"; do
        ours=$(sh_ "$DB" "$cmd") || return 1
        theirs=$(timeout 30 "$REFERENCE_SHELL" -s "$(servers)" "$DB" "$cmd") ||
            return 1
        expect_eq "$theirs" "$ours" || { echo "(for $cmd)"; return 1; }
    done
    ours=$(sh_ -f json "$DB" ".describe ${ADDRS[2]}") || return 1
    theirs=$(timeout 30 "$REFERENCE_SHELL" -s "$(servers)" -f json "$DB" \
        ".describe ${ADDRS[2]}") || return 1
    expect_eq "$theirs" "$ours"
}

t_dump() {
    local dir=$TMP/dump out
    mkdir -p "$dir"
    out=$(cd "$dir" && sh_ "$DB" ".dump ${ADDRS[1]} $DB") || return 1
    expect_eq "OK" "$out" || return 1
    [ -f "$dir/$DB" ] || { echo "no $DB file:"; ls -la "$dir"; return 1; }
    expect_eq "4|four" "$(sqlite3 "$dir/$DB" "SELECT count(*), (SELECT s FROM t WHERE n = 4) FROM t")"
}

t_transfer() {
    local l=""
    sh_ "$DB" ".transfer 2" || return 1
    for _ in $(seq 40); do
        l=$(sh_ "$DB" .leader 2>/dev/null)
        [ "$l" = "${ADDRS[2]}" ] && break
        sleep 0.25
    done
    expect_eq "${ADDRS[2]}" "$l"
}

t_failover() {
    local old new out
    old=$(sh_ "$DB" .leader) || return 1
    for id in 1 2 3; do [ "${ADDRS[$id]}" = "$old" ] && VICTIM=$id; done
    [ -n "${VICTIM:-}" ] || { echo "leader '$old' unknown"; return 1; }
    stop_node "$VICTIM" KILL
    new=$(wait_leader "$old")
    [ -n "$new" ] && [ "$new" != "$old" ] || { echo "no new leader"; return 1; }
    sh_ "$DB" "INSERT INTO t VALUES (5, 5.5, 'after failover', NULL)" ||
        return 1
    out=$(sh_ "$DB" "SELECT count(*), max(n) FROM t") || return 1
    expect_eq "5|5" "$out"
}

t_rejoin_after_kill() {
    start_node "$VICTIM" --join "$(servers)" || return 1
    # A node resuming its state serves first, then checks its membership:
    # the line may come a little after "listening on".
    for _ in $(seq 40); do
        grep -q "already a member" "$TMP/node$VICTIM.log" && break
        sleep 0.1
    done
    grep -q "already a member" "$TMP/node$VICTIM.log" ||
        { echo "no 'already a member' log line"; return 1; }
    local out="" dir=$TMP/dump$VICTIM
    mkdir -p "$dir"
    for _ in $(seq 40); do
        (cd "$dir" && sh_ "$DB" ".dump ${ADDRS[$VICTIM]} $DB" >/dev/null 2>&1)
        out=$(sqlite3 "$dir/$DB" "SELECT count(*) FROM t" 2>/dev/null)
        [ "$out" = 5 ] && return 0
        sleep 0.25
    done
    echo "node $VICTIM has $out rows, expected 5"
    return 1
}

# The leader itself stopped with SIGTERM: it hands leadership over, exits
# 0, and the two others go on.
t_graceful_stop() {
    local l id
    l=$(sh_ "$DB" .leader) || return 1
    for id in "${!PIDS[@]}"; do [ "${ADDRS[$id]}" = "$l" ] && STOPPED=$id; done
    [ -n "${STOPPED:-}" ] || { echo "leader '$l' unknown"; return 1; }
    stop_node "$STOPPED" TERM
    expect_eq 0 "$STOP_STATUS" || return 1
    grep -q "stopped" "$TMP/node$STOPPED.log" ||
        { echo "no 'stopped' log line"; return 1; }
    expect_eq "5" "$(sh_ "$DB" "SELECT count(*) FROM t")"
}

# Lines of .cluster for the running nodes, sorted.
running_cluster() {
    local id
    for id in $(printf '%s\n' "${!PIDS[@]}" | sort); do
        echo "$id|${ADDRS[$id]}|voter"
    done
}

t_remove() {
    sh_ "$DB" ".remove ${ADDRS[$STOPPED]}" || return 1
    expect_eq "$(running_cluster)" "$(sh_ "$DB" .cluster | sort)"
}

t_foreign_data_dir() {
    local status=0
    # A stopped node's directory (a running one's is refused as in use).
    timeout 20 "$B/dqlited" --id 9 --address 127.0.0.1:$(free_port) \
        --dir "$TMP/node$STOPPED" >/dev/null 2>"$TMP/foreign.log" || status=$?
    expect_eq 3 "$status" || return 1
    grep -q "belongs to node $STOPPED" "$TMP/foreign.log" ||
        { cat "$TMP/foreign.log"; return 1; }
}

t_unknown_owner_data_dir() {
    local status=0
    mkdir -p "$TMP/orphan" && cp "$TMP/node3/metadata" "$TMP/orphan/" ||
        return 1
    timeout 20 "$B/dqlited" --id 3 --address 127.0.0.1:1 --dir "$TMP/orphan" \
        >/dev/null 2>"$TMP/orphan.log" || status=$?
    expect_eq 3 "$status" || return 1
    grep -q "no node-id file" "$TMP/orphan.log" ||
        { cat "$TMP/orphan.log"; return 1; }
}

t_usage_errors() {
    local s1=0 s2=0 s3=0 s4=0 s5=0
    "$B/dqlited" --address 127.0.0.1:1 2>/dev/null || s1=$?
    "$B/dqlite" itest .cluster 2>/dev/null || s2=$?
    "$B/dqlited" --address 127.0.0.1:1 --dir "$TMP/x" --role boss 2>/dev/null || s3=$?
    "$B/dqlited" --id 1 --address 127.0.0.1:1 --dir "$TMP/x" \
        --join 127.0.0.1:2 2>/dev/null || s4=$?
    "$B/dqlited" --id 1 --address 127.0.0.1:1 --dir "$TMP/x" \
        --read-lease maybe 2>/dev/null || s5=$?
    expect_eq "2 2 2 2 2" "$s1 $s2 $s3 $s4 $s5" || return 1
    "$B/dqlited" --help | grep -q "EXIT STATUS" &&
        "$B/dqlite" --help | grep -q "DOT-COMMANDS"
}

t_node_waits_to_be_added() {
    start_node 5 || return 1
    grep -q "waiting to be added" "$TMP/node5.log" ||
        { echo "no 'waiting to be added' log line"; return 1; }
    stop_node 5 TERM
    expect_eq 0 "$STOP_STATUS"
}

# The shell on a terminal (a pty from script(1)): prompt, continuation
# prompt, results, and the history file.
t_interactive_terminal() {
    local out
    out=$( (printf 'SELECT n FROM t WHERE\nn = 1;\n.leader\n'; sleep 2) |
        HOME=$TMP timeout 30 script -qec \
            "$B/dqlite -s $(servers) $DB" /dev/null | tr -d '\r') || return 1
    local want
    for want in '^dqlite> ' '^   \.\.\.> ' '^1$' '^127\.0\.0\.1:[0-9]+$'; do
        printf '%s\n' "$out" | grep -Eq "$want" ||
            { echo "no line matching $want (nodes ${ADDRS[*]}) in:"; echo "$out"; return 1; }
    done
    grep -q '^\.leader$' "$TMP/.dqlite_history" ||
        { echo "no history in $TMP/.dqlite_history"; return 1; }
}

# -s file://PATH: go-dqlite's server store (an SQLite table of addresses).
t_file_store() {
    local store=$TMP/servers.db id values=""
    for id in "${!PIDS[@]}"; do values+=${values:+,}"('${ADDRS[$id]}')"; done
    sqlite3 "$store" "CREATE TABLE servers (address TEXT, UNIQUE(address));
        INSERT INTO servers VALUES $values;" || return 1
    expect_eq "5" "$(timeout 30 "$B/dqlite" -s "file://$store" "$DB" \
        "SELECT count(*) FROM t")"
}

# Every node stopped, then started again on its data: the cluster comes
# back with its data (--join is ignored by members).
t_restart_all() {
    local id ids
    ids=$(printf '%s\n' "${!PIDS[@]}" | sort)
    for id in $ids; do
        stop_node "$id" TERM
        expect_eq 0 "$STOP_STATUS" || return 1
    done
    # Back with leader leases off: every query runs a read-index round.
    for id in $ids; do
        start_node "$id" --join "${ADDRS[$STOPPED]}" --read-lease off ||
            return 1
    done
    expect_eq "5" "$(sh_ "$DB" "SELECT count(*) FROM t")" &&
        sh_ "$DB" "INSERT INTO t VALUES (6, 6.0, 'after restart', NULL)" &&
        expect_eq "6" "$(sh_ "$DB" "SELECT count(*) FROM t")"
}

# A node joining as a stand-by, listening on an explicit --bind address.
t_join_standby() {
    ADDRS[4]=127.0.0.1:$(free_port)
    start_node 4 --join "$(servers)" --role standby --bind "${ADDRS[4]}" ||
        return 1
    sh_ "$DB" .cluster | grep -qx "4|${ADDRS[4]}|stand-by" ||
        { sh_ "$DB" .cluster; return 1; }
}

run_cases() {
    check "3 nodes start and join" t_start_cluster || return
    check ".cluster (tabular)" t_cluster_tabular
    check ".cluster (json)" t_cluster_json
    check ".leader" t_leader
    check "SQL from stdin, tabular rows" t_sql_stdin_tabular
    check "statements continued on the next line" t_sql_continued_lines
    check "SQL as argument, json rows" t_sql_argument_json
    check "several statements in the argument" t_sql_several_in_argument
    check "SQL error: message and exit status" t_sql_error
    check "stdin goes on after an error, exits 1" t_stdin_continues_after_error
    check ".describe (tabular, json)" t_describe
    check ".weight" t_weight
    if [ -x "$REFERENCE_SHELL" ]; then
        check "same output as go-dqlite's shell" t_same_as_reference_shell
    else
        skip "same output as go-dqlite's shell" "$REFERENCE_SHELL not installed"
    fi
    check ".dump opens with sqlite3" t_dump
    check ".transfer" t_transfer
    check "leader killed: new leader, writes go on" t_failover
    check "killed node restarts and catches up" t_rejoin_after_kill
    check "SIGTERM stops the leader gracefully (exit 0)" t_graceful_stop
    check ".remove" t_remove
    check "data dir of another node refused (exit 3)" t_foreign_data_dir
    check "data dir with state, no node-id refused" t_unknown_owner_data_dir
    check "bad command lines (exit 2), --help" t_usage_errors
    check "node without --join waits to be added" t_node_waits_to_be_added
    check "interactive terminal: prompts, history" t_interactive_terminal
    check "-s file:// server store" t_file_store
    check "whole cluster restarted (--read-lease off)" t_restart_all
    check "node joins as stand-by, with --bind" t_join_standby
}
