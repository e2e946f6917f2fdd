# shellcheck shell=bash
# Requests near and over the request limit (issue 15, finding 5), on a
# cluster of its own (nodes 1-3, fresh directories): 9 MB and 20 MB blob
# INSERTs are answered and read back whole, a request over 64 MiB is
# refused with a clear error, and clients that go away in the middle of a
# large request leave no socket behind on the node. Sourced by run.sh.

LDB=limits
lsh_() { sh_ "$LDB" "$@"; }

# l_hex BYTES FILE: BYTES random bytes, as hex, into FILE.
l_hex() {
    head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n' >"$2"
}

# l_blob_round_trip ID BYTES: inserts a random blob of BYTES bytes as an
# X'..' literal (a request of twice that size) and reads it back.
l_blob_round_trip() {
    local id=$1 bytes=$2 hex=$TMP/blob.hex out
    l_hex "$bytes" "$hex"
    # Retried (idempotent) when leadership moved meanwhile: a large entry
    # can stall the leader's loop into an election on a loaded machine,
    # sanitizers on (docs/server.md, "Known limits of this version").
    for try in 1 2 3; do
        { printf 'INSERT OR REPLACE INTO l VALUES (%s, X'"'" "$id"; cat "$hex"
          printf "');\n"; } | lsh_ >"$TMP/blob.err" 2>&1 && break
        grep -qE "leadership lost|not leader" "$TMP/blob.err" && [ "$try" -lt 3 ] ||
            { cat "$TMP/blob.err"; echo "the $bytes byte INSERT failed"; return 1; }
        sleep 1
    done
    out=$(lsh_ "SELECT length(b) FROM l WHERE n = $id") || return 1
    expect_eq "$bytes" "$out" || return 1
    lsh_ "SELECT lower(hex(b)) FROM l WHERE n = $id" >"$TMP/blob.back" || return 1
    printf '\n' >>"$hex"
    cmp -s "$hex" "$TMP/blob.back" || { echo "blob $id read back differs"; return 1; }
    rm -f "$hex" "$TMP/blob.back"
}

t_l_start() {
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    lsh_ "CREATE TABLE l (n INT PRIMARY KEY, b BLOB)"
}

t_l_9mb() { l_blob_round_trip 1 9000000; }
t_l_20mb() { l_blob_round_trip 2 20000000; }

# A 67 MB blob as a literal is a 134 MB request: over the 64 MiB limit.
t_l_67mb_refused() {
    local out
    out=$({ printf "INSERT INTO l VALUES (3, X'"
            head -c 134000000 /dev/zero | tr '\0' '0'
            printf "');\n"; } | lsh_ 2>&1) && { echo "accepted: $out"; return 1; }
    case "$out" in
        *"message too large"*) ;;
        *) echo "unclear refusal: $out"; return 1 ;;
    esac
    # The node goes on serving.
    expect_eq "2" "$(lsh_ "SELECT count(*) FROM l")"
}

# l_stuck PORT: server-side sockets of the node's port that are half
# closed or hold more than 1 MiB unread.
l_stuck() {
    ss -tanH "( sport = :$1 )" |
        awk '$1 == "CLOSE-WAIT" || ($1 != "LISTEN" && $2 > 1048576)'
}

# Three clients each send the first 12 MB of a 20 MiB request and close.
t_l_gone_mid_request() {
    local leader port i stuck=""
    leader=$(lsh_ .leader) || return 1
    port=${leader##*:}
    for i in 1 2 3; do
        timeout 20 bash -c '
            exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
            printf "\x01\x00\x00\x00\x00\x00\x00\x00" >&3
            printf "\x00\x00\x28\x00\x08\x00\x00\x00" >&3
            head -c 12000000 /dev/zero >&3
            exec 3>&-' _ "$port" || { echo "client $i could not send"; return 1; }
    done
    for _ in $(seq 50); do
        stuck=$(l_stuck "$port")
        [ -z "$stuck" ] && break
        sleep 0.1
    done
    [ -z "$stuck" ] || { echo "sockets left on the node:"; echo "$stuck"; return 1; }
    expect_eq "2" "$(lsh_ "SELECT count(*) FROM l")"
}

# Node 1 restarted with --idle-timeout 1: a client that only says hello
# is closed within about a second (cat sees EOF; 124 if it never comes).
# (Not for the cases above: a request still arriving counts as idle, and
# the shell may take over a second to send 40 MB.)
t_l_idle_timeout() {
    local port=${ADDRS[1]##*:} start
    stop_node 1 TERM
    start_node 1 --idle-timeout 1 || return 1
    start=$SECONDS
    timeout 10 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "\x01\x00\x00\x00\x00\x00\x00\x00" >&3
        cat <&3 >/dev/null' _ "$port" || { echo "not closed (status $?)"; return 1; }
    [ $((SECONDS - start)) -le 5 ] || { echo "closed after $((SECONDS - start)) s"; return 1; }
}

run_limits_cases() {
    m_reset
    check "limits: 3-node cluster of its own" t_l_start || return
    check "limits: 9 MB blob INSERT answered, read back" t_l_9mb
    check "limits: 20 MB blob INSERT answered, read back" t_l_20mb
    check "limits: 134 MB request refused: message too large" t_l_67mb_refused
    check "limits: clients gone mid-request leave no socket" t_l_gone_mid_request
    check "limits: dqlited --idle-timeout closes an idle client" t_l_idle_timeout
    m_reset
}
