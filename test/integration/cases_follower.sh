# shellcheck shell=bash
# Follower reads at a chosen consistency (docs/protocol.md "Read
# consistency"): a client connected to a follower sets
# PRAGMA dqlite_consistency and reads there; writes stay the leader's.
# Sourced by run.sh; uses m_reset and the node helpers of run.sh.

FDB=follow
fsh() { sh_ "$FDB" "$@"; }
# fread ID SQL...: the statements on node ID itself (follower_read.py).
fread() {
    local id=$1
    shift
    timeout 30 python3 "$(dirname "$0")/follower_read.py" "${ADDRS[$id]}" "$FDB" "$@"
}

# f_follower: the id of a running node that is not the leader.
f_follower() {
    local l id
    l=$(fsh .leader) || return 1
    for id in $(printf '%s\n' "${!PIDS[@]}" | sort); do
        [ "${ADDRS[$id]}" != "$l" ] && echo "$id" && return 0
    done
    return 1
}

t_f_start() {
    m_reset
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    fsh "CREATE TABLE f (n INTEGER PRIMARY KEY)" || return 1
    fsh "INSERT INTO f VALUES (1)"
}

# Without the pragma a follower answers "not leader" as before. With
# linearizable, each write acknowledged by the leader is seen by the next
# read on a follower, asked right after the acknowledgement.
t_f_linearizable() {
    local f out i
    f=$(f_follower) || return 1
    # Without the pragma a follower still sends the client to the leader.
    out=$(fread "$f" "PRAGMA dqlite_consistency" "SELECT count(*) FROM f" 2>&1) &&
        { echo "a follower answered without the pragma: $out"; return 1; }
    expect_eq "leader" "$(echo "$out" | head -1)" || return 1
    echo "$out" | grep -q "^FAILURE 10250 not leader" || { echo "$out"; return 1; }
    for i in 2 3 4 5 6; do
        fsh "INSERT INTO f VALUES ($i)" || return 1
        out=$(fread "$f" "PRAGMA dqlite_consistency = linearizable" "SELECT count(*) FROM f") ||
            { echo "$out"; return 1; }
        expect_eq "$i" "$(echo "$out" | sed -n 2p)" || return 1
    done
    out=$(fread "$f" "PRAGMA dqlite_consistency = 'linearizable'" \
        "SELECT max(n) FROM f" "PRAGMA dqlite_consistency") || { echo "$out"; return 1; }
    expect_eq "ok 6 linearizable" "$(echo "$out" | head -3 | tr '\n' ' ' | sed 's/ $//')"
}

# bounded and any on a healthy follower; a bad level is refused; a write
# on a follower is refused whatever the level and changes nothing.
t_f_levels_and_writes() {
    local f out
    f=$(f_follower) || return 1
    out=$(fread "$f" "PRAGMA dqlite_consistency = 'bounded:2000'" \
        "SELECT count(*) FROM f" "PRAGMA dqlite_consistency") || { echo "$out"; return 1; }
    expect_eq "ok 6 bounded:2000" "$(echo "$out" | head -3 | tr '\n' ' ' | sed 's/ $//')" || return 1
    out=$(fread "$f" "PRAGMA dqlite_consistency = any" "SELECT count(*) FROM f") ||
        { echo "$out"; return 1; }
    expect_eq "ok 6" "$(echo "$out" | head -2 | tr '\n' ' ' | sed 's/ $//')" || return 1
    out=$(fread "$f" "PRAGMA dqlite_consistency = 'bogus'" 2>&1) &&
        { echo "a bad level was accepted: $out"; return 1; }
    echo "$out" | grep -q "FAILURE 1 dqlite_consistency: expected" ||
        { echo "$out"; return 1; }
    out=$(fread "$f" "PRAGMA dqlite_consistency = any" "exec:INSERT INTO f VALUES (100)" 2>&1) &&
        { echo "a write on a follower went through: $out"; return 1; }
    echo "$out" | grep -q "FAILURE.*not leader" || { echo "$out"; return 1; }
    out=$(fread "$f" "PRAGMA dqlite_consistency = any" "INSERT INTO f VALUES (101) RETURNING n" 2>&1) &&
        { echo "a write (a query) on a follower went through: $out"; return 1; }
    echo "$out" | grep -q "FAILURE" || { echo "$out"; return 1; }
    expect_eq 6 "$(fsh "SELECT count(*) FROM f")" || return 1
    # ...nor in the follower's own copy.
    out=$(fread "$f" "PRAGMA dqlite_consistency = any" "SELECT count(*) FROM f") ||
        { echo "$out"; return 1; }
    expect_eq 6 "$(echo "$out" | sed -n 2p)"
}

# The shell pointed at a follower with --read-level (docs/shell.md): it
# stays on that node, sends the pragma and reads there; a write gives the
# node's "not leader"; without the option it still goes to the leader.
t_f_shell() {
    local f out
    f=$(f_follower) || return 1
    fsf() { timeout 30 "$B/dqlite" -s "${ADDRS[$f]}" "$@"; }
    out=$(fsf --read-level any "$FDB" "SELECT count(*) FROM f; PRAGMA dqlite_consistency") ||
        { echo "$out"; return 1; }
    expect_eq "6 any" "$(echo "$out" | tr '\n' ' ' | sed 's/ $//')" || return 1
    fsh "INSERT INTO f VALUES (7)" || return 1
    expect_eq 7 "$(fsf --read-level linearizable "$FDB" "SELECT count(*) FROM f")" ||
        return 1
    expect_eq "bounded:5000" "$(fsf --read-level bounded:5000 "$FDB" "PRAGMA dqlite_consistency")" ||
        return 1
    out=$(fsf --read-level any "$FDB" "INSERT INTO f VALUES (8)" 2>&1) &&
        { echo "a write through a follower went through: $out"; return 1; }
    echo "$out" | grep -q "not leader" || { echo "$out"; return 1; }
    out=$(fsf --read-level sometimes "$FDB" "SELECT 1" 2>&1) &&
        { echo "a bad level was accepted: $out"; return 1; }
    echo "$out" | grep -q "read level: expected" || { echo "$out"; return 1; }
    # Without --read-level the same -s still reaches the leader.
    fsf "$FDB" "DELETE FROM f WHERE n = 7" || return 1
    expect_eq 6 "$(fsh "SELECT count(*) FROM f")"
}

# Reads on a follower while the leader writes (frames applied, checkpoints
# skipped or run beside the follower's readers): every read answers, and
# with linearizable reads the count never goes back and is at least the
# number of writes acknowledged before the read was asked.
t_f_during_writes() {
    local f out i acked=0 last=0 got wpid
    f=$(f_follower) || return 1
    fsh "CREATE TABLE w (n INTEGER PRIMARY KEY, v BLOB)" || return 1
    ( for i in $(seq 1 300); do
          fsh "INSERT INTO w VALUES ($i, randomblob(3000))" || exit 1
          echo "$i" >"$TMP/f_acked"
      done ) &
    wpid=$!
    for i in $(seq 1 60); do
        acked=$(cat "$TMP/f_acked" 2>/dev/null); acked=${acked:-0}
        out=$(fread "$f" "PRAGMA dqlite_consistency = linearizable" "SELECT count(*) FROM w" 2>&1) ||
            { echo "read $i: $out"; kill "$wpid"; wait "$wpid"; return 1; }
        got=$(echo "$out" | sed -n 2p)
        if [ "$got" -lt "$acked" ] || [ "$got" -lt "$last" ]; then
            echo "read $i: $got rows, $acked acknowledged before, $last seen"
            kill "$wpid"; wait "$wpid"; return 1
        fi
        last=$got
    done
    wait "$wpid" || { echo "a write failed"; return 1; }
    out=$(fread "$f" "PRAGMA dqlite_consistency = linearizable" "SELECT count(*) FROM w") ||
        { echo "$out"; return 1; }
    expect_eq 300 "$(echo "$out" | sed -n 2p)"
}

# A follower cut off from the leader and the other node (both frozen):
# a linearizable read fails within about an election timeout (1 s here),
# never hangs; bounded fails once the follower is staler than the bound;
# any still answers from its own copy. Once the others resume, linearizable
# reads work again.
t_f_partitioned() {
    local f id out ms rv=0
    f=$(f_follower) || return 1
    for id in "${!PIDS[@]}"; do [ "$id" != "$f" ] && kill -STOP "${PIDS[$id]}"; done
    out=$(fread "$f" "PRAGMA dqlite_consistency = linearizable" "SELECT count(*) FROM f" 2>&1) &&
        { echo "a cut-off follower answered linearizable: $out"; rv=1; }
    ms=$(echo "$out" | sed -n 's/^ms //p')
    echo "$out" | grep -q "^FAILURE" || { echo "$out"; rv=1; }
    [ "${ms:-99999}" -lt 3000 ] || { echo "refused after $ms ms"; rv=1; }
    sleep 1
    out=$(fread "$f" "PRAGMA dqlite_consistency = 'bounded:500'" "SELECT count(*) FROM f" 2>&1) &&
        { echo "a stale follower answered bounded:500: $out"; rv=1; }
    echo "$out" | grep -q "FAILURE.*longer ago than the bound\|FAILURE.*not leader" ||
        { echo "$out"; rv=1; }
    out=$(fread "$f" "PRAGMA dqlite_consistency = 'any'" "SELECT count(*) FROM f" 2>&1) ||
        { echo "any: $out"; rv=1; }
    expect_eq 6 "$(echo "$out" | sed -n 2p)" || rv=1
    for id in "${!PIDS[@]}"; do kill -CONT "${PIDS[$id]}"; done
    [ "$rv" -eq 0 ] || return 1
    for _ in $(seq 40); do
        out=$(fread "$f" "PRAGMA dqlite_consistency = linearizable" "SELECT count(*) FROM f" 2>&1) &&
            break
        sleep 0.25
    done
    expect_eq 6 "$(echo "$out" | sed -n 2p)"
}

# PRAGMA dqlite_databases (docs/protocol.md "Listing databases"): the
# leader lists its databases, a follower refuses whatever the level.
t_f_databases() {
    local f l id out
    f=$(f_follower) || return 1
    l=$(fsh .leader) || return 1
    sh_ follow_2 "CREATE TABLE g (x)" || return 1
    out=$(fread "$f" "PRAGMA dqlite_consistency = any" "PRAGMA dqlite_databases" 2>&1) &&
        { echo "a follower listed: $out"; return 1; }
    echo "$out" | grep -q "^FAILURE 10250 not leader" || { echo "$out"; return 1; }
    for id in "${!ADDRS[@]}"; do
        [ "${ADDRS[$id]}" = "$l" ] && break
    done
    out=$(fread "$id" "PRAGMA dqlite_databases" "exec:PRAGMA dqlite_databases;") ||
        { echo "$out"; return 1; }
    expect_eq "follow,follow_2 ok" "$(echo "$out" | head -2 | tr '\n' ' ' | sed 's/ $//')"
}

run_follower_cases() {
    check "follower: 3-node cluster" t_f_start || return
    check "follower: linearizable reads see acknowledged writes" t_f_linearizable
    check "follower: bounded, any, bad level, writes refused" t_f_levels_and_writes
    check "follower: shell --read-level reads on the node given" t_f_shell
    check "follower: linearizable reads during writes" t_f_during_writes
    check "follower: PRAGMA dqlite_databases on the leader only" t_f_databases
    check "follower: cut off, linearizable and bounded fail in time" t_f_partitioned
    m_reset
}
