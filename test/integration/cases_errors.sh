# Integration cases: what dqlited and the shell say and do (issue 16 §3):
# host names for listening, joining and clients, `.dump FILE`, a node
# removed while it runs, SIGHUP.
# Sourced by run.sh. A cluster of its own (directories h1, h2), driven with
# the shell's -s on its addresses only.

# start_named NAME ID ADDRESS [ARGS...]: dqlited on $TMP/NAME, waited for.
start_named() {
    local name=$1 id=$2 address=$3
    shift 3
    "$B/dqlited" --id "$id" --address "$address" --dir "$TMP/$name" \
        --log-level debug "$@" >"$TMP/$name.out" 2>>"$TMP/$name.log" &
    PIDS[$name]=$!
    for _ in $(seq 200); do
        grep -q '^listening on' "$TMP/$name.out" && return 0
        kill -0 "${PIDS[$name]}" 2>/dev/null || break
        sleep 0.05
    done
    tail -5 "$TMP/$name.log"
    return 1
}

H1=""
H2=""
hsh() { timeout 30 "$B/dqlite" -s "$H1,$H2" "$@"; }

t_host_names() {
    H1=localhost:$(free_port)
    H2=localhost:$(free_port)
    start_named h1 1 "$H1" || return 1
    start_named h2 2 "$H2" --join "$H1" || return 1
    hsh hdb "CREATE TABLE t (n INT)" &&
        hsh hdb "INSERT INTO t VALUES (1), (2)" || return 1
    expect_eq "2" "$(timeout 30 "$B/dqlite" -s "$H2" hdb "SELECT count(*) FROM t")" ||
        return 1
    hsh hdb .cluster | grep -qx "2|$H2|voter" || { hsh hdb .cluster; return 1; }
}

t_dump_to_file() {
    local out
    out=$(cd "$TMP" && hsh hdb ".dump imported.db") || return 1
    expect_eq "OK" "$out" || return 1
    expect_eq "2" "$(sqlite3 "$TMP/imported.db" "SELECT count(*) FROM t")"
}

t_removed_node_exits() {
    local h3 pid
    h3=localhost:$(free_port)
    start_named h3 3 "$h3" --join "$H1" || return 1
    pid=${PIDS[h3]}
    hsh hdb ".remove $h3" || return 1
    # The node notices within a few election timeouts and stops.
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    stop_node h3 KILL # reaps it; a KILL only if it still ran
    expect_eq 13 "$STOP_STATUS" || { tail -5 "$TMP/h3.log"; return 1; }
    grep -q "node 3 was removed from the cluster" "$TMP/h3.log" ||
        { tail -5 "$TMP/h3.log"; return 1; }
    hsh hdb .cluster | grep -q "|$h3|" && { hsh hdb .cluster; return 1; }
    hsh hdb "SELECT count(*) FROM t" >/dev/null
}

t_sighup_ignored() {
    kill -HUP "${PIDS[h2]}"
    sleep 0.5
    kill -0 "${PIDS[h2]}" || { echo "SIGHUP killed dqlited"; return 1; }
    grep -q "SIGHUP: log level" "$TMP/h2.log" || { tail -3 "$TMP/h2.log"; return 1; }
    hsh hdb "INSERT INTO t VALUES (3)" || return 1
    stop_node h2 TERM
    expect_eq 0 "$STOP_STATUS" || return 1
    stop_node h1 TERM
    expect_eq 0 "$STOP_STATUS"
}

run_error_cases() {
    check "host names: listen, join and connect with localhost:PORT" \
        t_host_names || return
    check ".dump FILE writes the shell's database into FILE" t_dump_to_file
    check "a removed node says so and exits 13" t_removed_node_exits
    check "SIGHUP does not stop dqlited" t_sighup_ignored
}
