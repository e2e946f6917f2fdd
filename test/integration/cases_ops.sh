# shellcheck shell=bash
# What an operator watches and configures (docs/operations.md): a 3-node
# cluster with --http, whose /metrics promtool accepts and whose figures
# move with the writes; /healthz and /readyz, also when quorum is lost;
# log lines with names (roles, leader addresses, membership changes);
# --log-format json; the configuration file and DQLITED_* variables;
# SIGHUP reloading the log level; --version. Sourced by run.sh.

ODB=ops
declare -A HTTP=()

# o_start ID [ARGS...]: a node with an HTTP listener on a free port.
o_start() {
    local id=$1
    shift
    HTTP[$id]=127.0.0.1:$(free_port)
    start_node "$id" --http "${HTTP[$id]}" "$@"
}

o_get() { curl -s --max-time 5 "http://${HTTP[$1]}$2"; }
o_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://${HTTP[$1]}$2"; }

# o_metric ID NAME: the value of an unlabelled metric (or of the first
# line starting with NAME).
o_metric() { o_get "$1" /metrics | awk -v n="$2" 'index($0, n) == 1 { print $2; exit }'; }

t_o_start() {
    m_reset
    o_start 1 || return 1
    o_start 2 --join "${ADDRS[1]}" || return 1
    o_start 3 --join "${ADDRS[1]}" || return 1
    sh_ "$ODB" "CREATE TABLE t (n INT)" || return 1
    for i in $(seq 20); do echo "INSERT INTO t VALUES ($i);"; done | sh_ "$ODB" >/dev/null
    sh_ "$ODB" "SELECT * FROM nosuchtable" >/dev/null 2>&1
    return 0
}

t_o_promtool_accepts_every_node() {
    local id
    sleep 0.6 # one publish period and a bit
    for id in 1 2 3; do
        o_get "$id" /metrics >"$TMP/metrics$id.txt" || return 1
        promtool check metrics <"$TMP/metrics$id.txt" || {
            echo "node $id"
            return 1
        }
    done
}

t_o_leader_metrics_follow_the_writes() {
    local m=$TMP/metrics1.txt
    grep -qx 'dqlite_role{role="leader"} 1' "$m" || { grep dqlite_role "$m"; return 1; }
    [ "$(grep -c '^dqlite_peer_match_index{' "$m")" = 3 ] || { grep peer "$m"; return 1; }
    local proposed statements errors commits syncs
    proposed=$(awk '$1 == "dqlite_entries_proposed_total" { print $2 }' "$m")
    statements=$(awk '$1 == "dqlite_statements_total{database=\"ops\"}" { print $2 }' "$m")
    errors=$(awk '$1 == "dqlite_statement_errors_total{database=\"ops\"}" { print $2 }' "$m")
    commits=$(awk '$1 == "dqlite_commit_latency_seconds_count" { print $2 }' "$m")
    syncs=$(awk '$1 == "dqlite_fsync_latency_seconds_count" { print $2 }' "$m")
    echo "proposed=$proposed statements=$statements errors=$errors commits=$commits syncs=$syncs"
    [ "${proposed:-0}" -ge 21 ] && [ "${statements:-0}" -ge 21 ] &&
        [ "${errors:-0}" -ge 1 ] && [ "${commits:-0}" -ge 21 ] &&
        [ "${syncs:-0}" -ge 1 ]
}

t_o_followers_know_the_leader() {
    local m=$TMP/metrics2.txt
    grep -qx 'dqlite_role{role="follower"} 1' "$m" || return 1
    grep -qx "dqlite_leader_id{address=\"${ADDRS[1]}\"} 1" "$m" || { grep leader "$m"; return 1; }
    expect_eq 200 "$(o_status 2 /readyz)" && expect_eq 200 "$(o_status 3 /healthz)"
}

t_o_routes_refuse_what_they_do_not_serve() {
    expect_eq 404 "$(o_status 1 /nothing)" || return 1
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X DELETE "http://${HTTP[1]}/metrics")
    expect_eq 405 "$code" || return 1
    expect_eq 400 "$(o_status 1 '/readyz?max_lag=x')"
}

t_o_logs_name_roles_and_members() {
    grep -E "follower in term [0-9]+, leader ${ADDRS[1]} \(node 1\)" "$TMP/node2.log" >/dev/null ||
        { grep -E "node: (follower|leader|candidate)" "$TMP/node2.log"; return 1; }
    grep -q "leader in term [0-9]* (was " "$TMP/node1.log" || return 1
    grep -q "membership: node 2 (${ADDRS[2]}) added as spare" "$TMP/node1.log" || return 1
    grep -q "membership: node 3 (${ADDRS[3]}) is now voter (was spare)" "$TMP/node1.log" || {
        grep membership "$TMP/node1.log"
        return 1
    }
    ! grep -E "state [0-9], leader [0-9]" "$TMP/node1.log"
}

# A follower stopped (SIGSTOP) while the leader commits a few thousand
# entries is far behind when it resumes (SIGCONT): its log says
# "catching up" at one of its 250 ms checks, then "caught up" once it has
# applied every committed entry (node_metrics.c, docs/operations.md).
t_o_follower_logs_catching_up_and_caught_up() {
    local pid=${PIDS[3]} i
    local before
    before=$(wc -l <"$TMP/node3.log")
    kill -STOP "$pid"
    for i in $(seq 1500); do echo "INSERT INTO t VALUES (randomblob(4000));"; done |
        sh_ "$ODB" >/dev/null || { kill -CONT "$pid"; echo "writes failed"; return 1; }
    # Resumed in slices (20 ms running, 230 ms stopped, as cpulimit
    # does): its catch-up spans many of its 250 ms checks, each one due
    # when it runs again, so one of them sees the lag (10 s at most).
    for i in $(seq 40); do
        kill -CONT "$pid"
        tail -n +"$((before + 1))" "$TMP/node3.log" | grep -q "caught up: applied every committed entry" && break
        sleep 0.02
        kill -STOP "$pid"
        sleep 0.23
    done
    kill -CONT "$pid"
    tail -n +"$((before + 1))" "$TMP/node3.log" | grep -E "catching up|caught up"
    tail -n +"$((before + 1))" "$TMP/node3.log" |
        grep -qE "catching up: applied [0-9]+ of [0-9]+ committed entries" || { tail -n +"$((before + 1))" "$TMP/node3.log" | grep -v "^$" | tail -15; return 1; }
    tail -n +"$((before + 1))" "$TMP/node3.log" |
        grep -qE "caught up: applied every committed entry \(index [0-9]+\) after [0-9.]+ s"
}

# Quorum lost: the survivor is alive (/healthz) but not ready (/readyz
# 503 with the reason), and its metrics say it has no leader.
t_o_readyz_fails_without_quorum() {
    stop_node 2 TERM
    stop_node 3 TERM
    local code="" i
    for i in $(seq 60); do
        code=$(o_status 1 /readyz)
        [ "$code" = 503 ] && break
        sleep 0.25
    done
    expect_eq 503 "$code" || return 1
    o_get 1 /readyz | grep -q "not ready: no known leader" || { o_get 1 /readyz; return 1; }
    expect_eq 200 "$(o_status 1 /healthz)"
}

t_o_json_logs_parse() {
    m_reset
    local before
    before=$(wc -l <"$TMP/node1.log") # the log file is appended to
    o_start 1 --log-format json || return 1
    sh_ "$ODB" "CREATE TABLE j (n INT)" || return 1
    stop_node 1 TERM
    python3 - "$TMP/node1.log" "$before" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]).readlines()[int(sys.argv[2]):]:
    o = json.loads(line)
    assert set(o) == {"time", "level", "msg"}, o
    n += 1
assert n >= 3, n
print(n, "JSON lines")
EOF
}

# Options from the file, overridden by DQLITED_*, overridden by argv; a
# bad key names the file and line; SIGHUP re-reads the log level.
t_o_config_file_env_and_sighup() {
    m_reset
    local conf=$TMP/dqlited.conf
    printf '# test\nlog-level = warn\nsnapshot-threshold = 64\ntls12 = false\n' >"$conf"
    HTTP[1]=127.0.0.1:$(free_port)
    DQLITED_HTTP=${HTTP[1]} start_node 1 --config "$conf" || return 1
    expect_eq 200 "$(o_status 1 /healthz)" || return 1
    printf 'log-level = debug\n' >"$conf"
    kill -HUP "${PIDS[1]}"
    local i
    for i in $(seq 40); do
        grep -q "SIGHUP: log level debug" "$TMP/node1.log" && break
        sleep 0.1
    done
    grep -q "SIGHUP: log level debug" "$TMP/node1.log" || { tail -5 "$TMP/node1.log"; return 1; }
    kill -0 "${PIDS[1]}" || return 1
    stop_node 1 TERM
    expect_eq 0 "$STOP_STATUS" || return 1
    printf 'no-such-option = 1\n' >"$conf"
    local out rc=0
    out=$("$B/dqlited" --config "$conf" --id 1 --address 127.0.0.1:1 --dir "$TMP/x" 2>&1) || rc=$?
    expect_eq 2 "$rc" || return 1
    echo "$out" | grep -q "$conf:1: unknown option \"no-such-option\"" || { echo "$out"; return 1; }
}

# systemd's Type=notify: READY=1 once the node serves, STOPPING=1 at the
# stop, through $NOTIFY_SOCKET (a datagram socket, read here by python).
t_o_sd_notify() {
    m_reset
    local sock=$TMP/notify.sock
    python3 - "$sock" >"$TMP/notify.out" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
try:
    while True:
        msg = s.recv(4096).decode()
        print(msg.replace("\n", " "), flush=True)
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    pass
EOF
    local listener=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    NOTIFY_SOCKET=$sock start_node 1 || return 1
    stop_node 1 TERM
    wait "$listener"
    cat "$TMP/notify.out"
    grep -q "^READY=1 STATUS=serving on ${ADDRS[1]}" "$TMP/notify.out" &&
        grep -q "^STOPPING=1" "$TMP/notify.out"
}

# With --tls-*, the HTTP listener speaks HTTPS with the node's files and
# asks for a client certificate from the CA: curl with it gets /metrics,
# curl without it gets nothing, plain HTTP gets nothing.
t_o_https_with_the_node_certificate() {
    m_reset
    local d=$TMP/ops-tls
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -days 2 -subj /CN=dqlite-ops -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$d/c.key" -out "$d/c.crt" 2>/dev/null || return 1
    o_start 1 --tls-cert "$d/c.crt" --tls-key "$d/c.key" --tls-ca "$d/c.crt" || return 1
    local url=https://${HTTP[1]}/metrics code
    code=$(curl -s -o "$TMP/tls-metrics.txt" -w '%{http_code}' --max-time 5 \
        --cacert "$d/c.crt" --cert "$d/c.crt" --key "$d/c.key" "$url")
    expect_eq 200 "$code" || return 1
    promtool check metrics <"$TMP/tls-metrics.txt" || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$d/c.crt" "$url")
    [ "$code" != 200 ] || { echo "answered without a client certificate"; return 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://${HTTP[1]}/metrics")
    [ "$code" != 200 ] || { echo "answered plain HTTP"; return 1; }
    # Rotation: new files in place, SIGHUP; HTTPS then presents the new
    # certificate (verified against the new one alone) and asks for a
    # client certificate of the new CA.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -days 2 -subj /CN=dqlite-ops-2 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$d/n.key" -out "$d/n.crt" 2>/dev/null || return 1
    cp "$d/c.crt" "$d/old.crt" && cp "$d/c.key" "$d/old.key" || return 1
    mv "$d/n.crt" "$d/c.crt" && mv "$d/n.key" "$d/c.key" || return 1
    kill -HUP "${PIDS[1]}"
    for _ in $(seq 50); do
        grep -q "listener on .* serves with the reloaded certificate" "$TMP/node1.log" && break
        sleep 0.1
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        --cacert "$d/c.crt" --cert "$d/c.crt" --key "$d/c.key" "$url")
    expect_eq 200 "$code" || { tail -3 "$TMP/node1.log"; return 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        --cacert "$d/old.crt" --cert "$d/old.crt" --key "$d/old.key" "$url")
    [ "$code" != 200 ] || { echo "the old certificate is still served"; return 1; }
}

t_o_version_is_the_build() {
    local v
    v=$("$B/dqlited" --version) || return 1
    echo "$v"
    echo "$v" | grep -Eq '^dqlited [^ ]+ \(dqlite ABI 1\.11\.0\)$'
}

run_ops_cases() {
    check "ops: 3 nodes with --http" t_o_start || return
    check "ops: promtool check metrics passes on every node" t_o_promtool_accepts_every_node
    check "ops: leader metrics count proposals, statements, errors, commits, fsyncs" \
        t_o_leader_metrics_follow_the_writes
    check "ops: followers know the leader, ready and healthy" t_o_followers_know_the_leader
    check "ops: 404, 405 and 400 from the listener" t_o_routes_refuse_what_they_do_not_serve
    check "ops: logs name roles, leaders and membership changes" t_o_logs_name_roles_and_members
    check "ops: a stopped follower logs catching up, then caught up" \
        t_o_follower_logs_catching_up_and_caught_up
    check "ops: /readyz 503 without quorum, /healthz 200" t_o_readyz_fails_without_quorum
    check "ops: --log-format json lines parse" t_o_json_logs_parse
    check "ops: config file, DQLITED_* and SIGHUP" t_o_config_file_env_and_sighup
    check "ops: --version prints the build" t_o_version_is_the_build
    check "ops: sd_notify READY=1 when serving, STOPPING=1 at the stop" t_o_sd_notify
    check "ops: HTTPS with the node's certificate, client certificate required, SIGHUP rotates it"         t_o_https_with_the_node_certificate
    m_reset
}
