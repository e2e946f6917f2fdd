# shellcheck shell=bash
# shellcheck disable=SC2154 # $ctl, $tmp, node_addr, node_pid: set by run.sh
# Membership through go-dqlite 1.11.5's client package (issue 8), sourced
# by run.sh: Add, Assign, Remove, Transfer, Cluster, Leader, Dump, Describe
# and Weight, one call each through `ctl member ...` (ctl/member.go),
# against a cluster of our interop-node processes of its own (nodes 1-6,
# fresh directories and ports), with the misuses: unknown id, a role the
# node has, an id in use, promoting an unreachable node, two changes at
# once, removing the leader; after each, a write and the configuration are
# checked. run.sh provides start_node, stop_node, bounded, result, $ctl and
# $tmp. run.sh runs under `set -euo pipefail` and calls member_checks where
# errexit does not apply (`member_checks || true`), so every step here ends
# with `|| return 1`.
# docs/membership.md lists the operations and the checks that cover them.

M_DB=member
m_rows=0 # rows of table m acknowledged so far

mctl() { bounded 40 "$ctl" -cluster "$(cluster_addrs)" "$@"; }
mc() { mctl member "$@"; }

# mcheck NAME FUNCTION: runs FUNCTION in this shell (it starts and kills
# nodes), its output in $tmp/NAME.log.
mcheck() {
    local name=$1 rc=0
    shift
    if "$@" >"$tmp/$name.log" 2>&1; then rc=0; else rc=1; fi
    result "$name" "$rc" "$tmp/$name.log"
    return $rc
}

# m_conf "ID:ROLE ...": what `member cluster` prints for it.
m_conf() {
    local item
    for item in $1; do
        echo "${item%%:*}|${node_addr[${item%%:*}]}|${item#*:}"
    done | sort -n
}

m_write() {
    mc exec "$M_DB" "INSERT INTO m (n) VALUES ($((m_rows + 1)))" || return 1
    m_rows=$((m_rows + 1))
}

# m_healthy "ID:ROLE ...": a write goes through, the configuration is that.
m_healthy() {
    local got
    m_write || { echo "health: write failed"; return 1; }
    got=$(mc cluster) || return 1
    [ "$got" = "$(m_conf "$1")" ] ||
        { echo "health: cluster is"; echo "$got"; echo "expected"; m_conf "$1"; return 1; }
    [ "$(mc query "$M_DB" "SELECT count(*) FROM m")" = "$m_rows" ] ||
        { echo "health: rows"; return 1; }
}

# m_refused PATTERN ARGS...: `ctl member ARGS` fails with PATTERN.
m_refused() {
    local pattern=$1 out
    shift
    if out=$(mc "$@" 2>&1); then
        echo "member $*: succeeded, expected /$pattern/"
        return 1
    fi
    echo "member $*: $out"
    printf '%s\n' "$out" | grep -Eq "$pattern"
}

# m_rows_on ID N: node ID's own copy (Dump into a directory, read with
# sqlite3) reaches N rows of m within 5 s.
m_rows_on() {
    local dir=$tmp/mdump$1 out="" i
    mkdir -p "$dir"
    for i in $(seq 20); do
        rm -f "$dir"/*
        mc dump "${node_addr[$1]}" "$M_DB" "$dir" >/dev/null 2>&1 &&
            out=$(sqlite3 "$dir/$M_DB" "SELECT count(*) FROM m" 2>&1)
        [ "$out" = "$2" ] && return 0
        sleep 0.25
    done
    echo "node $1 has '$out' rows, expected $2"
    return 1
}

m_leader_id() { mc leader | cut -d' ' -f1; }

# ------------------------------------------------------------ checks

m_add_voters() {
    mc add 2 "${node_addr[2]}" voter && mc add 3 "${node_addr[3]}" voter || return 1
    [ "$(mc leader)" = "1 ${node_addr[1]}" ] || return 1
    mc exec "$M_DB" "CREATE TABLE m (n INTEGER PRIMARY KEY)" || return 1
    m_healthy "1:voter 2:voter 3:voter"
}

m_roles() {
    mc add 4 "${node_addr[4]}" || return 1
    m_healthy "1:voter 2:voter 3:voter 4:spare" || return 1
    mc assign 4 stand-by || return 1
    m_healthy "1:voter 2:voter 3:voter 4:stand-by" || return 1
    m_rows_on 4 "$m_rows" || return 1
    mc assign 4 voter || return 1
    m_healthy "1:voter 2:voter 3:voter 4:voter" || return 1
    mc assign 4 spare || return 1
    m_healthy "1:voter 2:voter 3:voter 4:spare"
}

m_describe_weight() {
    [ "$(mc describe "${node_addr[4]}")" = "${node_addr[4]}|3|0" ] || return 1
    mc weight "${node_addr[4]}" 5 || return 1
    [ "$(mc describe "${node_addr[4]}")" = "${node_addr[4]}|3|5" ]
}

m_dump() {
    local dir=$tmp/mdumpdir out
    mkdir -p "$dir"
    out=$(mc dump "${node_addr[1]}" "$M_DB" "$dir") || return 1
    echo "$out"
    printf '%s\n' "$out" | grep -q "^$M_DB " &&
        printf '%s\n' "$out" | grep -q "^$M_DB-wal " || return 1
    [ "$(sqlite3 "$dir/$M_DB" "PRAGMA integrity_check")" = ok ] &&
        [ "$(sqlite3 "$dir/$M_DB" "SELECT count(*) FROM m")" = "$m_rows" ] || return 1
    m_refused "database does not exist|1002" dump "${node_addr[1]}" nosuchdb "$dir"
}

m_transfer() {
    local l target i
    l=$(m_leader_id) || return 1
    for target in 3 2 1; do [ "$target" != "$l" ] && break; done
    mc transfer "$target" || return 1
    for i in $(seq 20); do
        [ "$(m_leader_id)" = "$target" ] && break
        sleep 0.25
    done
    [ "$(m_leader_id)" = "$target" ] || { echo "leader is not $target"; return 1; }
    m_healthy "1:voter 2:voter 3:voter 4:spare"
}

m_misuse() {
    m_refused "server ID is not valid" assign 99 voter &&
        m_refused "server ID is not valid" remove 99 &&
        m_refused "server ID is not valid" transfer 99 &&
        m_refused "server role is not valid" assign 2 voter &&
        m_refused "server role is not valid" transfer 4 &&
        m_refused "server ID already in use" add 2 127.0.0.1:1 || return 1
    m_healthy "1:voter 2:voter 3:voter 4:spare"
}

# Node 4 (spare) killed, then promoted: the call ends with its context (5 s),
# node 4 stays spare, writes go on; once the leader gives the promotion up,
# node 4 can be removed.
m_promote_unreachable() {
    local out i
    stop_node 4 KILL || return 1
    m_write || return 1
    if out=$(mctl -timeout 5s member assign 4 voter 2>&1); then
        echo "promotion of a dead node succeeded"
        return 1
    fi
    echo "assign: $out"
    m_healthy "1:voter 2:voter 3:voter 4:spare" || return 1
    for i in $(seq 60); do
        out=$(mc remove 4 2>&1) && break
        printf '%s\n' "$out" | grep -q "already in progress" ||
            { echo "remove: $out"; return 1; }
        sleep 0.5
    done
    echo "removed after $i attempt(s)"
    m_healthy "1:voter 2:voter 3:voter"
}

m_two_changes() {
    local s5=0 s6=0 want="1:voter 2:voter 3:voter"
    mc add 5 "${node_addr[5]}" >"$tmp/m_add5.out" 2>&1 &
    local p5=$!
    mc add 6 "${node_addr[6]}" >"$tmp/m_add6.out" 2>&1 &
    local p6=$!
    wait "$p5" || s5=$?
    wait "$p6" || s6=$?
    echo "add 5: exit $s5 $(cat "$tmp/m_add5.out")"
    echo "add 6: exit $s6 $(cat "$tmp/m_add6.out")"
    [ "$s5" = 0 ] || [ "$s6" = 0 ] || return 1
    [ "$s5" = 0 ] && want+=" 5:spare"
    [ "$s6" = 0 ] && want+=" 6:spare"
    [ "$s5" = 0 ] || grep -q "already in progress" "$tmp/m_add5.out" || return 1
    [ "$s6" = 0 ] || grep -q "already in progress" "$tmp/m_add6.out" || return 1
    m_healthy "$want" || return 1
    [ "$s5" = 0 ] || mc add 5 "${node_addr[5]}" || return 1
    [ "$s6" = 0 ] || mc add 6 "${node_addr[6]}" || return 1
    mc assign 5 voter || return 1
    m_healthy "1:voter 2:voter 3:voter 5:voter 6:spare"
}

# Remove of the leader: expected to succeed once the configuration without
# it is committed.
m_remove_leader_answer() {
    m_removed=$(m_leader_id) || return 1
    echo "leader: node $m_removed"
    mc remove "$m_removed"
}

m_remove_leader_health() {
    local want="" id i l=""
    [ -n "${m_removed:-}" ] || return 1
    for id in 1 2 3 5; do [ "$id" = "$m_removed" ] || want+=" $id:voter"; done
    for i in $(seq 40); do
        l=$(m_leader_id 2>/dev/null) && [ -n "$l" ] && [ "$l" != "$m_removed" ] && break
        sleep 0.25
    done
    echo "new leader: node $l"
    [ -n "$l" ] && [ "$l" != "$m_removed" ] || return 1
    m_healthy "$want 6:spare" || return 1
    stop_node "$m_removed" || return 1
    m_healthy "$want 6:spare"
}

member_checks() {
    local id
    rm -rf "$tmp"/n[1-6]
    node_addr=()
    for id in 1 2 3 4 5 6; do
        if [ "$id" = 4 ]; then
            start_node 4 "127.0.0.1:$(free_port)" -d 3 || return 1
        else
            start_node "$id" "127.0.0.1:$(free_port)" || return 1
        fi
    done
    mcheck member-add-voters-leader m_add_voters || return 0
    mcheck member-add-spare-assign-roles m_roles
    mcheck member-describe-weight m_describe_weight
    mcheck member-dump m_dump
    mcheck member-transfer m_transfer
    mcheck member-misuse-refused m_misuse
    mcheck member-promote-unreachable m_promote_unreachable
    mcheck member-two-changes-at-once m_two_changes
    mcheck member-remove-leader-answer m_remove_leader_answer
    mcheck member-remove-leader-health m_remove_leader_health
    local rc=0
    stop_all >"$tmp/member-stop.log" 2>&1 || rc=$?
    result member-clean-stop "$rc" "$tmp/member-stop.log"
}
