#!/bin/bash
# The fault-injection harness (docs/faults.md): starts NODES nodes, each in
# a network namespace of its own on a bridge (loopback ports when namespaces
# cannot be made: no partitions then), runs WORKLOADS with our C client,
# injects FAULTS on a schedule drawn from SEED, then checks every history
# and scans every node log for assertions, sanitizer reports and crashes.
# It ends only the processes it started, by PID, and removes what it made.
#
#   test/faults/run.sh BUILD_DIR
# Environment (defaults): SEED (random) DURATION=30 NODES=3 CLIENTS=4
#   WORKLOADS="register bank set append runaway" (runaway: RUNAWAY_CLIENTS=1
#   hostile clients abandoning endless statements) FAULTS="kill pause partition stop
#   diskfull member delay torn" NODE_PROG=dqlited|faults-node DQF_BUG= KEEP=0
#   PARTITIONS="isolated-leader majority-minority bridge" (the partition
#   kinds the partition fault draws from) CALL_TIMEOUT_MS=2000 (clients)
#   LATENCY_MS= (dqlited --latency-ms, faults-node DQF_LATENCY_MS)
#   HOLD_MIN=3 HOLD_MAX=6 (seconds a fault is held)
#   SUMMARY= (a file to append this run's figures to, for battery.sh)
#   TLS=1 (every link over TLS: a CA, a node and a client certificate made
#   with the openssl CLI in RUN/tls; nodes get the TLS flags, clients the
#   client certificate)
set -u
BUILD=${1:?usage: run.sh BUILD_DIR}
SEED=${SEED:-$(( (RANDOM << 15 | RANDOM) ))}
DURATION=${DURATION:-30}
NODES=${NODES:-3}
CLIENTS=${CLIENTS:-4}
WORKLOADS=${WORKLOADS-register bank set append runaway}
RUNAWAY_CLIENTS=${RUNAWAY_CLIENTS:-1}
FAULTS=${FAULTS-kill pause partition stop diskfull member delay torn}
PARTITIONS=${PARTITIONS:-isolated-leader majority-minority bridge}
HOLD_MIN=${HOLD_MIN:-3} HOLD_MAX=${HOLD_MAX:-6}
NODE_PROG=${NODE_PROG:-dqlited}
TLS=${TLS:-0}
# follower.py speaks plaintext only: a TLS run leaves that workload out.
if [ "$TLS" = 1 ] && [[ " $WORKLOADS " == *" follower "* ]]; then
    WORKLOADS=$(echo " $WORKLOADS " | sed 's/ follower / /; s/^ *//; s/ *$//')
    echo "TLS=1: the follower workload (plaintext only) is left out"
fi
[ -n "${DQF_BUG:-}" ] && NODE_PROG=faults-node
# The write queue's bug is compiled into its own node program.
case ${DQF_BUG:-} in
group-*) NODE_PROG=faults-node-group ;;
follower-no-read-index | bounded-ignores-bound) NODE_PROG=faults-node-read ;;
esac
export DQF_BUG=${DQF_BUG:-}
RANDOM=$SEED
TAG=$(( $$ % 200 + 20 ))
RUN=$(mktemp -d /tmp/dqf-$SEED-XXXX)
# Private copies of the programs: a concurrent rebuild of BUILD must not make
# a restart fail (exec of a half-written file).
B=$RUN/bin
mkdir -p "$B/test" && cp "$BUILD/dqlited" "$B/" &&
    cp "$BUILD"/test/faults-{workload,check,node} "$B/test/" || exit 2
case $NODE_PROG in faults-node-group | faults-node-read)
    cp "$BUILD/test/$NODE_PROG" "$B/test/" || exit 2 ;;
esac
# The delay and torn faults' helpers (a build without them: those faults
# say they are unavailable).
cp "$BUILD"/test/faults-{delay,torn} "$B/test/" 2>/dev/null
WL=$B/test/faults-workload
# The follower workload (reads on chosen nodes) speaks the protocol itself.
cp "$(dirname "$0")/follower.py" "$B/test/" || exit 2
declare -A PID NS IP STARTS DPID DELAYED
NETNS=0
FAILED=0
declare -A COUNT

say() { echo "[$(date +%T)] $*" | tee -a "$RUN/nemesis.log"; }
# Runs a node command in node $1's namespace as this (sub)shell's process:
# called as `nsx ... &`, $! is then the node's own PID.
nsx() { if [ "$NETNS" = 1 ]; then exec ip netns exec "${NS[$1]}" "${@:2}"; else exec "${@:2}"; fi; }
addr() { if [ "$NETNS" = 1 ]; then echo "${IP[$1]}:9001"; else echo "127.0.0.1:$((24000 + TAG * 10 + $1))"; fi; }
addrs() { local a="" i; for i in $(seq 1 "$NODES"); do a="$a${a:+,}$(addr "$i")"; done; echo "$a"; }

net_up() {
    local i br="dqf${TAG}br"
    ip link add "$br" type bridge 2>/dev/null || return 1
    ip addr add "10.77.$TAG.254/24" dev "$br" && ip link set "$br" up || return 1
    for i in $(seq 1 "$NODES"); do
        NS[$i]="dqf${TAG}n$i"; IP[$i]="10.77.$TAG.$i"
        ip netns add "${NS[$i]}" && ip link add "dqf${TAG}v$i" type veth peer name eth0 netns "${NS[$i]}" &&
        ip link set "dqf${TAG}v$i" master "$br" up &&
        ip netns exec "${NS[$i]}" ip addr add "${IP[$i]}/24" dev eth0 &&
        ip netns exec "${NS[$i]}" ip link set eth0 up &&
        ip netns exec "${NS[$i]}" ip link set lo up || return 1
    done
    NETNS=1
}

net_down() {
    local i
    for i in $(seq 1 "$NODES"); do ip netns del "dqf${TAG}n$i" 2>/dev/null; done
    ip link del "dqf${TAG}br" 2>/dev/null
}

# TLS=1: a CA, one node certificate (OU=dqlite-node; every node address as
# an IP subjectAltName, so clients verify the node they dialled) and one
# plain client certificate, made with the openssl CLI; the workloads read
# the client's from DQF_TLS_*, faults-node the node's from DQF_NODE_TLS_*.
TLS_ARGS=()
tls_up() {
    local d=$RUN/tls i san="DNS:dqlite,IP:127.0.0.1" n subj
    mkdir -p "$d" || return 1
    for i in $(seq 1 "$NODES"); do san="$san,IP:${IP[$i]:-127.0.0.1}"; done
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj /CN=dqf-ca \
        -addext basicConstraints=critical,CA:TRUE 2>>"$d/openssl.log" || return 1
    for n in "node:/CN=dqf-node/OU=dqlite-node:subjectAltName=$san" \
        "client:/CN=dqf-client:basicConstraints=CA:FALSE"; do
        IFS=: read -r i subj san <<<"$n"
        echo "$san" >"$d/$i.ext"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/$i.key" -out "$d/$i.csr" -subj "$subj" 2>>"$d/openssl.log" &&
            openssl x509 -req -in "$d/$i.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
                -CAcreateserial -out "$d/$i.crt" -days 2 -extfile "$d/$i.ext" \
                2>>"$d/openssl.log" || return 1
    done
    TLS_ARGS=(--tls-cert "$d/node.crt" --tls-key "$d/node.key" --tls-ca "$d/ca.crt")
    export DQF_NODE_TLS_CERT=$d/node.crt DQF_NODE_TLS_KEY=$d/node.key DQF_NODE_TLS_CA=$d/ca.crt
    export DQF_TLS_CERT=$d/client.crt DQF_TLS_KEY=$d/client.key DQF_TLS_CA=$d/ca.crt
}

# TLS=1: node 1 must refuse plaintext (it runs TLS); the refusal is counted
# so that any later one (a client or peer speaking plaintext) fails the run.
TLS_REFUSED='does not start a TLS handshake'
tls_probe() {
    local host port t
    IFS=: read -r host port <<<"$(addr 1)"
    timeout 3 bash -c "printf 'plaintext' >/dev/tcp/$host/$port" 2>/dev/null
    for t in $(seq 1 30); do
        grep -q "$TLS_REFUSED" "$RUN/n1.log" && { say "TLS: node 1 refuses plaintext"; return 0; }
        sleep 0.1
    done
    say "TLS: node 1 did not refuse plaintext"; return 1
}

start_node() { # id [fresh]
    local i=$1 join=()
    mkdir -p "$RUN/n$i"; : >>"$RUN/n$i.log"
    # Every node's address: joining through node 1 alone stalls while node 1
    # is paused or cut off (the joiner keeps trying until then).
    [ "$NODE_PROG" = dqlited ] && [ "$i" != 1 ] && join=(--join "$(addrs)")
    if [ "$NODE_PROG" = dqlited ]; then
        nsx "$i" "$B/dqlited" --id "$i" --address "$(addr "$i")" --dir "$RUN/n$i" \
            "${join[@]}" "${TLS_ARGS[@]}" ${LATENCY_MS:+--latency-ms $LATENCY_MS} >>"$RUN/n$i.log" 2>&1 &
    else
        DQF_LATENCY_MS=${LATENCY_MS:-} \
            nsx "$i" "$B/test/$NODE_PROG" "$i" "$(addr "$i")" "$RUN/n$i" >>"$RUN/n$i.log" 2>&1 &
    fi
    PID[$i]=$!
    STARTS[$i]=$(( ${STARTS[$i]:-0} + 1 ))
}

wait_listening() { # id: until its latest start serves
    local t
    for t in $(seq 1 300); do
        [ "$(grep -c '^listening on' "$RUN/n$1.log")" -ge "${STARTS[$1]}" ] && return 0
        kill -0 "${PID[$1]}" 2>/dev/null || break
        sleep 0.1
    done
    say "node $1 did not start"; tail -5 "$RUN/n$1.log"; return 1
}

member() { timeout 20 "$WL" member "$@" "$(addrs)" >/dev/null 2>>"$RUN/member.log"; }

cluster_up() {
    local i
    mkdir -p "$RUN/n$NODES"
    mount -t tmpfs -o size=64m dqf "$RUN/n$NODES" 2>/dev/null && DISK=1 || DISK=0
    for i in $(seq 1 "$NODES"); do
        start_node "$i"; wait_listening "$i" || return 1
        if [ "$NODE_PROG" != dqlited ] && [ "$i" != 1 ]; then
            member add "$i" "$(addr "$i")" && member assign "$i" x || return 1
        fi
    done
    [ "$TLS" != 1 ] || tls_probe
}

leader() { timeout 10 "$WL" member leader 0 x "$(addrs)" 2>/dev/null || echo 0; }
pick() { echo $(( RANDOM % NODES + 1 )); }
hold() { sleep "$(( HOLD_MIN + RANDOM % (HOLD_MAX - HOLD_MIN + 1) ))"; }
count() { COUNT[$1]=$(( ${COUNT[$1]:-0} + 1 )); }

# Cuts (or heals, with "del") the links between two groups of node ids.
cut() { # add|del "A B" "C D"
    local i j
    for i in $2; do for j in $3; do
        ip netns exec "${NS[$i]}" ip route "$1" blackhole "${IP[$j]}/32" 2>/dev/null
        ip netns exec "${NS[$j]}" ip route "$1" blackhole "${IP[$i]}/32" 2>/dev/null
    done; done
}

partition_groups() { # KIND ROTATION: prints "KIND|GROUP_A|GROUP_B"
    local ids=() k l rest
    for k in $(seq 0 $((NODES - 1))); do ids+=($(( (k + $2) % NODES + 1 ))); done
    case $1 in
    isolated-leader) l=$(leader); [ "$l" = 0 ] && l=${ids[0]}
       rest=$(seq 1 "$NODES" | grep -vx "$l" | tr '\n' ' ')
       echo "isolated-leader|$l|$rest";;
    majority-minority) echo "majority-minority|${ids[*]:0:$((NODES / 2))}|${ids[*]:$((NODES / 2))}";;
    bridge) echo "bridge|${ids[0]}|${ids[*]:2}";; # ids[1] sees both sides
    esac
}

fault_partition() {
    [ "$NETNS" = 1 ] || { say "partition skipped (no namespaces)"; return; }
    local spec kind a b kinds=($PARTITIONS)
    kind=${kinds[$(( RANDOM % ${#kinds[@]} ))]}
    spec=$(partition_groups "$kind" $((RANDOM % NODES))); IFS='|' read -r kind a b <<<"$spec"
    say "partition $kind: [$a] x [$b]"; count "partition-$kind"
    cut add "$a" "$b"; hold; cut del "$a" "$b"; say "healed"
}

fault_kill() {
    local i; i=$(pick); say "kill -9 node $i"; count kill
    kill -KILL "${PID[$i]}"; wait "${PID[$i]}" 2>/dev/null; hold
    start_node "$i"; say "restarted node $i"
}

fault_stop() {
    local i; i=$(pick); say "graceful stop of node $i"; count stop
    kill -TERM "${PID[$i]}"; wait_gone "$i"; hold
    start_node "$i"; say "restarted node $i"
}

fault_pause() {
    local i; i=$(pick); say "SIGSTOP node $i"; count pause
    kill -STOP "${PID[$i]}"; hold; kill -CONT "${PID[$i]}"; say "SIGCONT node $i"
}

fault_diskfull() {
    [ "$DISK" = 1 ] || { say "diskfull skipped (no tmpfs)"; return; }
    # Every other time the full disk is the leader's: its writers must be
    # answered ("disk full on the leader") and nothing acknowledged lost.
    if [ $((RANDOM % 2)) = 0 ] && [ "$(leader)" != "$NODES" ]; then
        member transfer "$NODES" x && say "leadership moved to node $NODES"
    fi
    say "disk full on node $NODES (leader: node $(leader))"; count diskfull
    dd if=/dev/zero of="$RUN/n$NODES/filler" bs=1M count=100 2>/dev/null
    hold; rm -f "$RUN/n$NODES/filler"; say "disk freed"
}

fault_member() {
    local i l; l=$(leader); i=$(( RANDOM % (NODES - 1) + 2 ))
    [ "$i" = "$l" ] && { say "member: node $i leads, skipped"; return; }
    say "remove node $i"; count member
    member remove "$i" x || say "remove $i failed"
    kill -TERM "${PID[$i]}"; wait_gone "$i"
    find "$RUN/n$i" -mindepth 1 -delete; sleep 2
    start_node "$i"
    if [ "$NODE_PROG" != dqlited ]; then
        wait_listening "$i"
        member add "$i" "$(addr "$i")" && member assign "$i" x || say "re-add $i failed"
    fi
    say "node $i re-added"
}

# Packet delay (the `delay` fault): tc netem on a node's eth0 where the
# kernel has sch_netem; otherwise an iptables NFQUEUE rule in the node's
# namespace hands every packet it sends to faults-delay, which holds it
# (--queue-bypass: packets pass when no delayer listens). Probed once.
DELAY_BACKEND="" DELAY_WHY="no network namespaces" DELAY_Q=7
NFQ_RULE=(OUTPUT -o eth0 -j NFQUEUE --queue-num "$DELAY_Q" --queue-bypass)

delay_on() { # id delay_ms jitter_ms
    local i=$1 n t s=$RANDOM
    if [ "$DELAY_BACKEND" = netem ]; then
        ip netns exec "${NS[$i]}" tc qdisc add dev eth0 root netem \
            delay "${2}ms" "${3}ms" 2>>"$RUN/delay-n$i.log" && DELAYED[$i]=1
        return
    fi
    n=$(grep -c '^bound' "$RUN/delay-n$i.log" 2>/dev/null)
    nsx "$i" "$B/test/faults-delay" "$DELAY_Q" "$2" "$3" "$s" >>"$RUN/delay-n$i.log" 2>&1 &
    DPID[$i]=$!; DELAYED[$i]=1
    for t in $(seq 1 50); do
        [ "$(grep -c '^bound' "$RUN/delay-n$i.log")" -gt "${n:-0}" ] && break
        kill -0 "${DPID[$i]}" 2>/dev/null || return 1
        sleep 0.05
    done
    ip netns exec "${NS[$i]}" iptables -t mangle -A "${NFQ_RULE[@]}" 2>>"$RUN/delay-n$i.log"
}

delay_off() { # id
    local i=$1
    [ -n "${DELAYED[$i]:-}" ] || return 0
    unset "DELAYED[$i]"
    if [ "$DELAY_BACKEND" = netem ]; then
        ip netns exec "${NS[$i]}" tc qdisc del dev eth0 root 2>/dev/null
        return 0
    fi
    ip netns exec "${NS[$i]}" iptables -t mangle -D "${NFQ_RULE[@]}" 2>/dev/null
    kill -TERM "${DPID[$i]}" 2>/dev/null; wait "${DPID[$i]}" 2>/dev/null
    unset "DPID[$i]"
    return 0
}

delay_probe() {
    local err
    [ "$NETNS" = 1 ] || return
    if err=$(ip netns exec "${NS[1]}" tc qdisc add dev eth0 root netem delay 1ms 2>&1); then
        ip netns exec "${NS[1]}" tc qdisc del dev eth0 root
        DELAY_BACKEND=netem; return
    fi
    DELAY_WHY="tc netem: ${err:-failed} (no sch_netem in this kernel?)"
    if ! command -v iptables >/dev/null; then
        DELAY_WHY="$DELAY_WHY; nfqueue: no iptables (apt-get install iptables)"
    elif [ ! -x "$B/test/faults-delay" ]; then
        DELAY_WHY="$DELAY_WHY; nfqueue: $BUILD/test/faults-delay not built"
    else
        DELAY_BACKEND=nfqueue
        if delay_on 1 0 0 && ip netns exec "${NS[1]}" iptables -t mangle -C "${NFQ_RULE[@]}"; then
            delay_off 1; return
        fi
        delay_off 1; DELAY_BACKEND=""
        DELAY_WHY="$DELAY_WHY; nfqueue: $(tail -1 "$RUN/delay-n1.log" 2>/dev/null)"
    fi
}

fault_delay() {
    [ -n "$DELAY_BACKEND" ] || { say "delay fault unavailable: $DELAY_WHY"; return; }
    local d j i nodes kind
    d=$(( 20 + RANDOM % 181 )); j=$(( RANDOM % (d / 2 + 1) ))
    if [ $(( RANDOM % 2 )) = 0 ]; then nodes=$(seq -s ' ' 1 "$NODES"); kind=all
    else nodes=$(pick); kind=one; fi
    say "delay ${d}ms +-${j}ms on every packet nodes [$nodes] send ($DELAY_BACKEND)"
    count "delay-$kind"
    for i in $nodes; do delay_on "$i" "$d" "$j" || say "delay on node $i failed (delay-n$i.log)"; done
    hold
    for i in $nodes; do delay_off "$i"; done
    say "delay healed"
}

# Torn write (the `torn` fault): SIGKILL a node, damage the last write group
# of its newest log segment (faults-torn: cut inside a record, garbage over
# its last bytes, a partial record appended, a zeroed block), restart it. It
# must start, log the torn tail it cut, and rejoin; the checkers decide
# whether acknowledged data survived.
fault_torn() {
    [ -x "$B/test/faults-torn" ] || { say "torn fault unavailable: $BUILD/test/faults-torn not built"; return; }
    local i out rc before t; i=$(pick)
    say "torn write on node $i: kill -9"
    kill -KILL "${PID[$i]}"; wait "${PID[$i]}" 2>/dev/null
    out=$("$B/test/faults-torn" "$RUN/n$i" "$RANDOM" 2>&1); rc=$?
    case $rc in
    0) say "torn node $i: $out"; count torn;;
    3) say "torn node $i: $out; restarting it as it is";;
    *) say "torn node $i: faults-torn failed ($rc): $out"; FAILED=1;;
    esac
    hold
    before=$(grep -c 'dropping torn tail' "$RUN/n$i.log")
    start_node "$i"; say "restarted node $i"
    wait_listening "$i" || return
    [ "$rc" = 0 ] || return
    for t in $(seq 1 50); do
        [ "$(grep -c 'dropping torn tail' "$RUN/n$i.log")" -gt "$before" ] && break
        sleep 0.1
    done
    if [ "$(grep -c 'dropping torn tail' "$RUN/n$i.log")" -gt "$before" ]; then
        say "node $i: $(grep 'dropping torn tail' "$RUN/n$i.log" | tail -1 | sed 's/^.*log: //')"
    else
        say "node $i did not report the torn tail"; FAILED=1
    fi
}

# Every thread's stack of a node that is slow to stop, for the post-mortem
# (gdb, when installed), into n<id>.stacks.
dump_stacks() {
    command -v gdb >/dev/null || return 0
    say "node $1 still running after 10 s: stacks in n$1.stacks"
    timeout 60 gdb -p "${PID[$1]}" -batch -ex "thread apply all bt" \
        >>"$RUN/n$1.stacks" 2>&1
}

wait_gone() { # id: up to 35 s for a graceful exit, then SIGKILL
    local t
    for t in $(seq 1 350); do
        kill -0 "${PID[$1]}" 2>/dev/null || break
        [ "$t" = 100 ] && dump_stacks "$1"
        sleep 0.1
    done
    kill -0 "${PID[$1]}" 2>/dev/null && { say "node $1 ignored SIGTERM"; kill -KILL "${PID[$1]}"; FAILED=1; }
    wait "${PID[$1]}" 2>/dev/null
    local rc=$?
    [ "$rc" = 0 ] || { say "node $1 exited $rc on SIGTERM"; FAILED=1; }
}

check_alive() {
    local i
    for i in $(seq 1 "$NODES"); do
        kill -0 "${PID[$i]}" 2>/dev/null && continue
        say "node $i DIED unexpectedly"; FAILED=1; count crash
        start_node "$i"
    done
}

nemesis() { # until the deadline
    local end=$(( SECONDS + DURATION - 2 )) f faults=($FAULTS)
    while [ "$SECONDS" -lt "$end" ]; do
        sleep "$(( 1 + RANDOM % 3 ))"
        check_alive
        [ "$SECONDS" -lt "$end" ] || break
        [ "${#faults[@]}" -gt 0 ] || continue
        f=${faults[$(( RANDOM % ${#faults[@]} ))]}
        "fault_$f"
        check_alive
    done
}

cleanup() {
    local i
    for i in "${!PID[@]}"; do kill -CONT "${PID[$i]}" 2>/dev/null; kill -KILL "${PID[$i]}" 2>/dev/null; done
    for i in ${WPIDS:-}; do kill -KILL "$i" 2>/dev/null; done
    for i in "${!DPID[@]}"; do kill -KILL "${DPID[$i]}" 2>/dev/null; done
    wait 2>/dev/null
    umount "$RUN/n$NODES" 2>/dev/null
    net_down
    [ "${KEEP:-0}" = 1 ] || [ "$FAILED" != 0 ] || rm -rf "$RUN"
}
trap cleanup EXIT

heal_all() {
    local i
    if [ "$NETNS" = 1 ]; then
        for i in $(seq 1 "$NODES"); do ip netns exec "${NS[$i]}" ip route flush type blackhole 2>/dev/null; done
        for i in $(seq 1 "$NODES"); do delay_off "$i"; done
    fi
    rm -f "$RUN/n$NODES/filler"
    for i in $(seq 1 "$NODES"); do kill -CONT "${PID[$i]}" 2>/dev/null; done
    check_alive
}

scan_logs() {
    local i pat='assertion failed|AddressSanitizer|LeakSanitizer|runtime error:|Segmentation fault|SIGSEGV|SIGABRT|panic'
    for i in $(seq 1 "$NODES"); do
        if grep -qE "$pat" "$RUN/n$i.log"; then
            say "node $i log has a failure:"; grep -m3 -E -B2 -A6 "$pat" "$RUN/n$i.log"; FAILED=1
        fi
        # TLS=1: no plaintext beyond node 1's probe, no certificate refused.
        [ "$TLS" = 1 ] || continue
        if [ "$(grep -c "$TLS_REFUSED" "$RUN/n$i.log")" -gt "$([ "$i" = 1 ] && echo 1 || echo 0)" ] ||
            grep -q 'handshake with .* failed: .*certificate' "$RUN/n$i.log"; then
            say "node $i: a link was not TLS with the run's certificates:"
            grep -E -m3 "$TLS_REFUSED|handshake with .* failed" "$RUN/n$i.log"; FAILED=1
        fi
    done
}

stop_all() {
    local i
    for i in $(seq 1 "$NODES"); do kill -TERM "${PID[$i]}" 2>/dev/null; done
    for i in $(seq 1 "$NODES"); do wait_gone "$i"; done
}

check_histories() {
    local w total=$(( 8 * 10 )) rc
    for w in $WORKLOADS; do
        cat "$RUN/$w.out"
        sort "$RUN/$w.err" | uniq -c | sort -rn | head -3 | sed "s/^/$w: first failed writes: /"
        "$B/test/faults-check" "$w" "$RUN/$w.hist" "$total" >"$RUN/$w.check"
        rc=$?
        tail -20 "$RUN/$w.check"
        [ "$rc" = 0 ] || { FAILED=1; say "$w: checker exit $rc (history $RUN/$w.hist)"; }
        # TLS=1: the clients got through (a client that cannot speak TLS
        # gets nothing acknowledged, which some checkers would accept).
        if [ "$TLS" = 1 ] && ! grep -qE "^$w: invoked [0-9]+ ok [1-9]" "$RUN/$w.out"; then
            FAILED=1; say "$w: nothing acknowledged over TLS"
        fi
        if [ -n "${SUMMARY:-}" ]; then
            grep -h "^$w: invoked" "$RUN/$w.out" | sed 's/^/ops /' >>"$SUMMARY"
            tail -1 "$RUN/$w.check" | sed 's/^/verdict /' >>"$SUMMARY"
        fi
    done
}

main() {
    say "seed $SEED: $NODES nodes ($NODE_PROG${DQF_BUG:+, bug $DQF_BUG}$([ "$TLS" = 1 ] && echo ", TLS")), ${DURATION}s, workloads [$WORKLOADS], faults [$FAULTS], dir $RUN"
    net_up || { net_down; NETNS=0; say "no network namespaces: loopback, no partitions"; }
    if [[ " $FAULTS " == *" delay "* ]]; then
        delay_probe
        [ -n "$DELAY_BACKEND" ] && say "delay fault: $DELAY_BACKEND" ||
            say "delay fault unavailable: $DELAY_WHY"
    fi
    if [ "$TLS" = 1 ]; then
        tls_up || { say "TLS: could not make the certificates ($RUN/tls/openssl.log)"; FAILED=1; return; }
    fi
    cluster_up || { FAILED=1; return; }
    local w
    WPIDS=""
    for w in $WORKLOADS; do
        DQF_CALL_TIMEOUT_MS=${CALL_TIMEOUT_MS:-} \
            timeout -k 5 $(( DURATION + 120 )) $([ "$w" = follower ] &&
                echo "python3 $B/test/follower.py" || echo "$WL $w") "$(addrs)" "$DURATION" \
            "$([ "$w" = runaway ] && echo "$RUNAWAY_CLIENTS" || echo "$CLIENTS")" "$SEED" \
            "$RUN/$w.hist" 8 >"$RUN/$w.out" 2>"$RUN/$w.err" &
        WPIDS="$WPIDS $!"
    done
    nemesis
    heal_all; say "all faults healed"
    for w in $WPIDS; do wait "$w" || { say "workload pid $w exited $?"; FAILED=1; }; done
    WPIDS=""
    check_alive
    stop_all
    scan_logs
    check_histories
    local k s=""
    for k in "${!COUNT[@]}"; do s="$s $k=${COUNT[$k]}"; done
    say "faults:${s:- none}"
    if [ -n "${SUMMARY:-}" ]; then
        for k in "${!COUNT[@]}"; do echo "fault $k ${COUNT[$k]}"; done >>"$SUMMARY"
        echo "run $SEED$([ "$TLS" = 1 ] && echo " (tls)") $([ "$FAILED" = 0 ] && echo PASS || echo "FAIL $RUN")" >>"$SUMMARY"
    fi
    # The settings that differ from the defaults, for the reproduction.
    local extra=""
    [ "$CLIENTS" = 4 ] || extra="$extra CLIENTS=$CLIENTS"
    [ "$PARTITIONS" = "isolated-leader majority-minority bridge" ] || extra="$extra PARTITIONS=\"$PARTITIONS\""
    [ "$HOLD_MIN $HOLD_MAX" = "3 6" ] || extra="$extra HOLD_MIN=$HOLD_MIN HOLD_MAX=$HOLD_MAX"
    [ -z "${LATENCY_MS:-}" ] || extra="$extra LATENCY_MS=$LATENCY_MS"
    [ -z "${CALL_TIMEOUT_MS:-}" ] || extra="$extra CALL_TIMEOUT_MS=$CALL_TIMEOUT_MS"
    [ "$NODE_PROG" = dqlited ] || [ -n "$DQF_BUG" ] || extra="$extra NODE_PROG=$NODE_PROG"
    [ -z "$DQF_BUG" ] || extra="$extra DQF_BUG=$DQF_BUG"
    [ "$TLS" != 1 ] || extra="$extra TLS=1"
    [ "$FAILED" = 0 ] && say "seed $SEED: PASS" || say "seed $SEED: FAIL (reproduce: SEED=$SEED NODES=$NODES DURATION=$DURATION WORKLOADS=\"$WORKLOADS\" FAULTS=\"$FAULTS\"$extra test/faults/run.sh $BUILD; files in $RUN)"
}

main
exit "$FAILED"
