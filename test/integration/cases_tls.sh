# shellcheck shell=bash
# TLS on the node port (issue 19, docs/server.md "TLS"): real dqlited
# processes with --tls-cert/--tls-key/--tls-ca, certificates made at test
# time by the openssl CLI in $TMP/tls (nothing committed). The cluster uses
# go-dqlite's convention, one self-signed certificate for every node and
# client (its own CA); clients are Debian's go-dqlite shell (--cert/--key),
# the interop tier's ctl (-cert/-key, go-dqlite's client package) and
# tls_probe.py (Python's ssl over memory BIOs, for what a well-behaved
# client never does). Sourced by run.sh; nodes 1-3, then node 1 alone.

TLSD=$TMP/tls
TLSDB=tlsdb
CTL=$B/test/interop-ctl
PROBE=(python3 "$(dirname "${BASH_SOURCE[0]}")/tls_probe.py")

# tls_args CERT CA: dqlited's TLS options for those files, in TLS_ARGS.
tls_args() { TLS_ARGS=(--tls-cert "$TLSD/$1.crt" --tls-key "$TLSD/$1.key" --tls-ca "$TLSD/$2.crt"); }
# tsh_ CERT-NAME ADDRESSES SQL...: go-dqlite's shell with that certificate.
tsh_() {
    local name=$1 addrs=$2
    shift 2
    timeout 20 "$REFERENCE_SHELL" -s "$addrs" --cert "$TLSD/$name.crt" \
        --key "$TLSD/$name.key" "$TLSDB" "$@"
}

# t_tls_certs: a self-signed cluster certificate (CA:TRUE, DNS:dqlite as
# go-dqlite's SimpleDialTLSConfig wants), a second one for rotation, one of
# another "cluster", and client certificates the cluster certificate signed:
# plain, admin (OU=dqlite-admin) and expired. A client's .crt file holds
# its certificate then the cluster's (go-dqlite's shell takes the file as
# its CA pool too).
t_tls_certs() {
    # IP:127.0.0.1 besides go-dqlite's DNS name: our shell with --ca checks
    # the address it dialled.
    local n name subj days ext="subjectAltName=DNS:dqlite,IP:127.0.0.1"
    mkdir -p "$TLSD" && cd "$TLSD" || return 1
    for n in cluster rotated other; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -nodes -keyout $n.key -out $n.crt -days 30 -subj "/CN=$n" \
            -addext "$ext" 2>/dev/null || return 1
    done
    printf '%s\nbasicConstraints=CA:FALSE\n' "$ext" >leaf.ext
    for n in client:/CN=client:30 admin:/CN=ops/OU=dqlite-admin:30 \
        expired:/CN=old:-1; do
        IFS=: read -r name subj days <<<"$n"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null &&
            openssl x509 -req -in "$name.csr" -CA cluster.crt \
                -CAkey cluster.key -CAcreateserial -out "$name.leaf" \
                -days "$days" -extfile leaf.ext 2>/dev/null &&
            cat "$name.leaf" cluster.crt >"$name.crt" || return 1
    done
    # The other cluster's client, with our CA in its pool so that it gets
    # as far as presenting its certificate.
    cat other.crt cluster.crt >stranger.crt && cp other.key stranger.key
    cd - >/dev/null || return 1
}

# A 3-node cluster over TLS: nodes 2 and 3 are added through go-dqlite's
# client over TLS (the interop tier's ctl; dqlited's own --join goes over
# TLS too, with the node's certificate: test/clientlive/tls.sh forms
# clusters that way), rows written through go-dqlite's shell.
t_tls_cluster() {
    tls_args cluster cluster
    start_node 1 "${TLS_ARGS[@]}" || return 1
    start_node 2 "${TLS_ARGS[@]}" || return 1
    start_node 3 "${TLS_ARGS[@]}" || return 1
    local id ctl=("$CTL" -cert "$TLSD/cluster.crt" -key "$TLSD/cluster.key"
        -cluster "${ADDRS[1]}" -timeout 20s)
    for id in 2 3; do timeout 30 "${ctl[@]}" join $id "${ADDRS[$id]}" || return 1; done
    tsh_ cluster "${ADDRS[1]}" "CREATE TABLE t (x); INSERT INTO t VALUES (42)" || return 1
    expect_eq "$(m_cluster "1:voter 2:voter 3:voter")" \
        "$(tsh_ cluster "${ADDRS[1]}" .cluster | sort)" || return 1
    grep -q "TLS: connected TLSv1.3" "$TMP/node2.log"
}

# The node's own client-protocol checks go over TLS too: node 4 joins, is
# removed while it runs, finds out by asking its peers (membership.c, with
# the node's certificate) and exits 13. In plaintext its questions would be
# refused and it would keep running.
t_tls_removed() {
    start_node 4 "${TLS_ARGS[@]}" || return 1
    local ctl=("$CTL" -cert "$TLSD/cluster.crt" -key "$TLSD/cluster.key"
        -cluster "${ADDRS[1]},${ADDRS[2]}" -timeout 20s)
    timeout 30 "${ctl[@]}" join 4 "${ADDRS[4]}" || return 1
    timeout 30 "${ctl[@]}" remove 4 || return 1
    for _ in $(seq 200); do kill -0 "${PIDS[4]}" 2>/dev/null || break; sleep 0.1; done
    stop_node 4 KILL # reaps it; a KILL only if it still ran
    expect_eq 13 "$STOP_STATUS" || { tail -5 "$TMP/node4.log"; return 1; }
    if grep -q "does not start a TLS handshake" "$TMP"/node[123].log; then
        echo "a node spoke plaintext to a TLS peer"
        return 1
    fi
}

# Rows written through node 1 are read through nodes 2 and 3 once node 1
# has stopped: they came over the TLS peer streams.
t_tls_replicated() {
    stop_node 1 TERM
    expect_eq 42 "$(tsh_ cluster "${ADDRS[2]},${ADDRS[3]}" "SELECT x FROM t")"
}

# fds NODE: descriptors the node holds now.
tls_fds() { find "/proc/${PIDS[$1]}/fd" -mindepth 1 | wc -l; }

# Plaintext to a TLS node: closed without a byte, logged once for the
# address however many come, the node up, no descriptor left behind.
t_tls_plaintext() {
    local before out
    before=$(tls_fds 2)
    for _ in 1 2 3 4 5; do
        out=$(timeout 5 bash -c "exec 3<>/dev/tcp/${ADDRS[2]%:*}/${ADDRS[2]##*:} &&
            printf '\x01\0\0\0\0\0\0\0' >&3 && cat <&3 | wc -c") || return 1
        expect_eq 0 "$out" || return 1
    done
    expect_eq 1 "$(grep -c 'does not start a TLS handshake' "$TMP/node2.log")" || return 1
    # No more descriptors than before: fewer is fine (a peer or client
    # stream of the earlier cases may close meanwhile; seen once: 25 -> 22).
    local after=""
    for _ in $(seq 20); do
        after=$(tls_fds 2)
        [ "$after" -le "$before" ] && break
        sleep 0.1
    done
    [ "$after" -le "$before" ] ||
        { echo "node 2 holds $after descriptors, $before before"; return 1; }
    expect_eq 42 "$(tsh_ cluster "${ADDRS[2]},${ADDRS[3]}" "SELECT x FROM t")"
}

# tls_refused CERT WHY: a client with that certificate gets nothing (the
# connection closes), and node 2 logs the handshake's failure with WHY.
tls_refused() {
    local out
    out=$("${PROBE[@]}" "${ADDRS[2]}" "$TLSD/$1.crt" "$TLSD/$1.key" "$TLSD/cluster.crt" handshake)
    case $out in closed | "handshake failed"*) ;; *) echo "$1: $out"; return 1 ;; esac
    grep "handshake with 127.0.0.1 failed" "$TMP/node2.log" | grep -q "$2" ||
        { echo "no log line with: $2"; tail -3 "$TMP/node2.log"; return 1; }
}

t_tls_bad_certs() {
    expect_eq 1 "$("${PROBE[@]}" "${ADDRS[2]}" "$TLSD/client.crt" "$TLSD/client.key" \
        "$TLSD/cluster.crt" handshake)" || return 1
    tls_refused stranger "unable to get local issuer certificate\|self-signed\|verify failed" || return 1
    tls_refused expired "certificate has expired" || return 1
    # The same refusal again from the same address: not logged again.
    tls_refused expired "certificate has expired" || return 1
    expect_eq 1 "$(grep -c "certificate has expired" "$TMP/node2.log")" || return 1
    case $("${PROBE[@]}" "${ADDRS[2]}" - - "$TLSD/cluster.crt" handshake) in
        closed | "handshake failed"*) ;;
        *) echo "a client without a certificate got in"; return 1 ;;
    esac
    grep -q "peer did not return a certificate" "$TMP/node2.log" || return 1
    kill -0 "${PIDS[2]}"
}

# A node whose key is not its certificate's does not start, and says why.
t_tls_wrong_key() {
    mkdir -p "$TMP/node9"
    "$B/dqlited" --id 1 --address "127.0.0.1:$(free_port)" --dir "$TMP/node9" \
        --tls-cert "$TLSD/cluster.crt" --tls-key "$TLSD/other.key" \
        --tls-ca "$TLSD/cluster.crt" >"$TMP/node9.out" 2>"$TMP/node9.log"
    local rv=$?
    expect_eq 1 "$rv" || return 1
    grep -q "TLS: cannot load the key.*key values mismatch" "$TMP/node9.log"
}

# A handshake that stops after its first bytes is closed at the bound
# (--tls-handshake-timeout 1500 on node 1).
t_tls_stall() {
    local start end
    start=$(date +%s%N)
    timeout 10 bash -c "exec 3<>/dev/tcp/${ADDRS[1]%:*}/${ADDRS[1]##*:} &&
        printf '\x16\x03\x01' >&3 && cat <&3 >/dev/null" || return 1
    end=$(date +%s%N)
    local ms=$(((end - start) / 1000000))
    if [ "$ms" -lt 1400 ] || [ "$ms" -ge 8000 ]; then
        echo "closed after $ms ms"
        return 1
    fi
    grep -q "handshake with 127.0.0.1 not done after 1500 ms" "$TMP/node1.log"
}

# Bytes that are no TLS record after a good handshake: closed, logged.
t_tls_garbage() {
    expect_eq closed "$("${PROBE[@]}" "${ADDRS[1]}" "$TLSD/cluster.crt" \
        "$TLSD/cluster.key" "$TLSD/cluster.crt" garbage)" || return 1
    grep -q "bad record from 127.0.0.1 after the handshake" "$TMP/node1.log" || return 1
    kill -0 "${PIDS[1]}"
}

# TLS inside the connection (conn.c decrypts into its reader): requests
# that came with the handshake's last flight, many in one record and one
# per record, arriving a few bytes at a time, are all answered, in order.
t_tls_pipeline() {
    expect_eq 40 "$("${PROBE[@]}" "${ADDRS[1]}" "$TLSD/cluster.crt" \
        "$TLSD/cluster.key" "$TLSD/cluster.crt" pipeline)"
}

# A request over the size limit, over TLS: refused at its header, its body
# read and dropped, then the connection closed (as in plaintext).
t_tls_toobig() {
    expect_eq "0 message too large
closed" "$("${PROBE[@]}" "${ADDRS[1]}" "$TLSD/cluster.crt" \
        "$TLSD/cluster.key" "$TLSD/cluster.crt" toobig)" || return 1
    kill -0 "${PIDS[1]}"
}

# --tls-admin-auth on (node 1, restarted): a client certificate without the mark
# cannot open a peer stream nor DUMP; an admin one can DUMP but not be a
# peer; the node's own certificate is a peer (no answer: the transport
# took the stream).
t_tls_admin() {
    local probe=("${PROBE[@]}" "${ADDRS[1]}")
    local ca=$TLSD/cluster.crt
    expect_eq "0 a peer stream (CONNECT) needs a node certificate" \
        "$("${probe[@]}" "$TLSD/client.crt" "$TLSD/client.key" "$ca" connect)" || return 1
    expect_eq "0 not authorized: this request needs an admin certificate (OU=dqlite-admin) or a node's" \
        "$("${probe[@]}" "$TLSD/client.crt" "$TLSD/client.key" "$ca" dump)" || return 1
    expect_eq "0 database does not exist" \
        "$("${probe[@]}" "$TLSD/admin.crt" "$TLSD/admin.key" "$ca" dump)" || return 1
    expect_eq "0 a peer stream (CONNECT) needs a node certificate" \
        "$("${probe[@]}" "$TLSD/admin.crt" "$TLSD/admin.key" "$ca" connect)" || return 1
    expect_eq "no answer" \
        "$("${probe[@]}" "$TLSD/cluster.crt" "$TLSD/cluster.key" "$ca" connect)" || return 1
    # --tls-client-auth optional: no certificate, no admin request.
    expect_eq 1 "$("${probe[@]}" - - "$ca" handshake)" || return 1
    expect_eq "0 not authorized: this request needs an admin certificate (OU=dqlite-admin) or a node's" \
        "$("${probe[@]}" - - "$ca" dump)" || return 1
    # Ordinary SQL with the plain client certificate works.
    expect_eq 1 "$(tsh_ client "${ADDRS[1]}" "SELECT 1" 2>&1)"
}

# Our own shell (--cert --key --ca) on the --tls-admin-auth node: with the
# plain client certificate SQL runs but .remove, .dump and .restore are
# refused; with the OU=dqlite-admin one .dump writes the database and
# .restore loads one.
tlsh_() { # CERT-NAME COMMAND
    timeout 20 "$B/dqlite" -s "${ADDRS[1]}" --cert "$TLSD/$1.crt" \
        --key "$TLSD/$1.key" --ca "$TLSD/cluster.crt" "$TLSDB" "$2" 2>&1
}
t_tls_admin_shell() {
    local out no="not authorized: this request needs an admin certificate"
    out=$(tlsh_ client "CREATE TABLE adm (x); INSERT INTO adm VALUES (7)") ||
        { echo "SQL with the client certificate: $out"; return 1; }
    expect_eq 7 "$(tlsh_ client "SELECT x FROM adm")" || return 1
    rm -f "$TMP/adm.db"
    out=$(tlsh_ client ".remove 2") && { echo ".remove with a client certificate: $out"; return 1; }
    case $out in *"$no"*) ;; *) echo ".remove: $out"; return 1 ;; esac
    out=$(tlsh_ client ".dump $TMP/adm.db") && { echo ".dump with a client certificate: $out"; return 1; }
    case $out in *"$no"*) ;; *) echo ".dump: $out"; return 1 ;; esac
    [ ! -s "$TMP/adm.db" ] || { echo "a refused .dump wrote the database"; return 1; }
    out=$(tlsh_ admin ".dump $TMP/adm.db") || { echo ".dump with the admin certificate: $out"; return 1; }
    expect_eq OK "$out" || return 1
    expect_eq 7 "$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT x FROM adm").fetchone()[0])' "$TMP/adm.db")" || return 1
    # .restore (a LOAD) is an admin request too.
    python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE r (x)")
c.execute("INSERT INTO r VALUES (5)"); c.commit()' "$TMP/rs.db" || return 1
    out=$(tlsh_ client ".restore $TMP/rs.db rdb") && { echo ".restore with a client certificate: $out"; return 1; }
    case $out in *"$no"*) ;; *) echo ".restore: $out"; return 1 ;; esac
    out=$(tlsh_ admin ".restore $TMP/rs.db rdb") || { echo ".restore with the admin certificate: $out"; return 1; }
    # The admin's .remove is let through: refused only for the node it names.
    out=$(tlsh_ admin ".remove 2")
    case $out in *"$no"*) echo ".remove with the admin certificate: $out"; return 1 ;; esac
}

# SIGHUP reloads the files: new connections use the new certificate; a
# reload that fails keeps the previous one and says why.
t_tls_rotate() {
    cp "$TLSD/rotated.crt" "$TLSD/live.crt" && cp "$TLSD/rotated.key" "$TLSD/live.key" || return 1
    kill -HUP "${PIDS[1]}"
    for _ in $(seq 50); do grep -q "reloaded" "$TMP/node1.log" && break; sleep 0.1; done
    expect_eq 1 "$(tsh_ rotated "${ADDRS[1]}" "SELECT 1" 2>&1)" || return 1
    # The old certificate no longer verifies the node.
    case $("${PROBE[@]}" "${ADDRS[1]}" "$TLSD/cluster.crt" "$TLSD/cluster.key" \
        "$TLSD/cluster.crt" handshake) in
        "handshake failed"*) ;;
        *) echo "the old certificate still gets in"; return 1 ;;
    esac
    echo "not a key" >"$TLSD/live.key"
    kill -HUP "${PIDS[1]}"
    for _ in $(seq 50); do grep -q "reload failed" "$TMP/node1.log" && break; sleep 0.1; done
    grep -q "TLS: cannot load the key" "$TMP/node1.log" || return 1
    expect_eq 1 "$(tsh_ rotated "${ADDRS[1]}" "SELECT 1" 2>&1)"
}

run_tls_cases() {
    local id
    m_reset
    check "tls: certificates made with openssl" t_tls_certs || return
    check "tls: a 3-node cluster forms over TLS" t_tls_cluster || return
    check "tls: a node removed while running learns it over TLS (exit 13)" t_tls_removed
    check "tls: rows replicate over the TLS peer streams" t_tls_replicated || return
    check "tls: plaintext is refused, logged once per address, nothing held" t_tls_plaintext
    check "tls: another CA's, an expired and no certificate are refused (logged once)" \
        t_tls_bad_certs
    check "tls: a key that is not the certificate's: dqlited exits 1" t_tls_wrong_key
    m_reset
    cp "$TLSD/cluster.crt" "$TLSD/live.crt" && cp "$TLSD/cluster.key" "$TLSD/live.key"
    # shellcheck disable=SC2046
    rm -f "$TMP/node1.log" "$TMP/node1.out"
    tls_args live live
    check "tls: a node with --tls-admin-auth on, client auth optional" \
        start_node 1 "${TLS_ARGS[@]}" --tls-admin-auth on \
        --tls-client-auth optional --tls-handshake-timeout 1500 || return
    check "tls: a handshake stalled half-way is closed at the timeout" t_tls_stall
    check "tls: garbage after a good handshake is closed" t_tls_garbage
    check "tls: pipelined requests, with the Finished and split, answered in order" \
        t_tls_pipeline
    check "tls: a request over the size limit is refused, then the connection closed" \
        t_tls_toobig
    check "tls: admin auth: peer streams and DUMP need the mark" t_tls_admin
    check "tls: admin auth through our shell: SQL yes, .remove/.dump need the mark" \
        t_tls_admin_shell
    check "tls: SIGHUP rotates the certificate; a bad reload keeps it" t_tls_rotate
    m_reset
    check "tls: no sanitizer report in the nodes' logs" t_tls_clean_logs
}

# With SAN=1 a sanitizer's report (a leak at exit included) lands in the
# node's log: none may.
t_tls_clean_logs() {
    ! grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error" "$TMP"/node[1-4].log
}
