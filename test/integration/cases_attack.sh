# shellcheck shell=bash
# Hostile raft peers (issue 15, finding 1), sourced by run.sh after the
# other cases: a stranger on the node port CONNECTs claiming the leader's id
# and sends a follower one AppendEntries at a much higher term, prev_index
# 0, whose entries contradict the committed log (barriers and a
# configuration adding voter 666, past the end of its log); another CONNECTs as id 666 and sends the
# leader an empty AppendEntries at a higher term. The follower must refuse
# and log it, keep its own copy of the database identical to the others,
# and the configuration must not change; the leader must keep leading.
# The attacker is test/integration/raft_attack.c (build/*/test/raft-attack).
# Then a follower restarted with a wiped data directory (finding 8).
# Runs on a 3-node cluster of its own; run.sh provides start_node,
# stop_node, sh_, check and expect_eq; cases_member.sh provides m_reset,
# m_id_of and m_count_on (with MDB).

# a_log_has ID PATTERN: node ID's log shows PATTERN within 10 s.
a_log_has() {
    local i
    for i in $(seq 40); do
        grep -q "$2" "$TMP/node$1.log" && return 0
        sleep 0.25
    done
    echo "node $1 did not log /$2/; its last lines:"
    tail -5 "$TMP/node$1.log"
    return 1
}

# a_rows N: N more acknowledged rows in table m, one entry each.
a_rows() {
    local k
    for k in $(seq "$1"); do m_write || return 1; done
}

t_a_start() {
    m_reset
    M_ROWS=0
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    msh "CREATE TABLE m (n INTEGER PRIMARY KEY, v TEXT)" || return 1
    a_rows 10
}

# The attack of issue 15 on a follower: refused, logged, nothing changes.
t_a_forged_append() {
    local l lid f
    l=$(msh .leader) || return 1
    lid=$(m_id_of "$l") || return 1
    for f in 1 2 3; do [ "$f" != "$lid" ] && break; done
    "$B/test/raft-attack" "${ADDRS[$f]}" "$lid" "$f" 1000 64 || return 1
    sleep 1
    a_rows 5 || return 1
    m_count_on "$f" m "$M_ROWS" || return 1
    expect_eq "$l" "$(msh .leader)" || { echo "(leader changed)"; return 1; }
    if msh .cluster | grep -q '^29a|'; then
        echo "voter 666 joined the configuration:"
        msh .cluster
        return 1
    fi
    a_log_has "$f" "contradicting the committed log"
}

# A stranger's empty AppendEntries at a higher term to the leader.
t_a_stranger_heartbeat() {
    local l lid
    l=$(msh .leader) || return 1
    lid=$(m_id_of "$l") || return 1
    "$B/test/raft-attack" "$l" 666 "$lid" 2000 0 || return 1
    sleep 1
    expect_eq "$l" "$(msh .leader)" || { echo "(leader deposed)"; return 1; }
    a_rows 1 || return 1
    a_log_has "$lid" "outside the configuration"
}

# Issue 15, finding 8: the repair docs/server.md recommends for a damaged
# data directory (wipe it, restart with the same id) while the same node
# leads: the leader notices the follower lost what it had acknowledged and
# sends everything again. Before, it stayed empty for as long as that node
# led.
t_a_wiped_follower() {
    local l lid f
    l=$(msh .leader) || return 1
    lid=$(m_id_of "$l") || return 1
    for f in 3 2 1; do [ "$f" != "$lid" ] && break; done
    stop_node "$f" TERM
    rm -rf "$TMP/node$f"
    start_node "$f" --join "$l" || return 1
    a_rows 2 || return 1
    m_count_on "$f" m "$M_ROWS" 15 || return 1
    expect_eq "$l" "$(msh .leader)" || { echo "(leader changed)"; return 1; }
    a_log_has "$lid" "holds less than it had acknowledged"
}

run_attack_cases() {
    check "attack: 3-node cluster of its own" t_a_start || return
    check "attack: forged AppendEntries below the commit is refused" \
        t_a_forged_append
    check "attack: a stranger's heartbeat does not depose the leader" \
        t_a_stranger_heartbeat
    check "lost data: a wiped follower is caught up by the same leader" \
        t_a_wiped_follower
    m_reset
}
