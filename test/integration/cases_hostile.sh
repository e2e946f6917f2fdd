# shellcheck shell=bash
# A hostile client against a real 3-node cluster (issue 15, findings 2, 3,
# 6, 7 and 9; docs/sql-policy.md): each attack fails at its statement with
# a message naming the SQL policy, and afterwards every node is up, the
# leader is the same, and ordinary SQL works. Sourced by run.sh; a cluster
# of its own (nodes 1-3, fresh directories). Names the dqlite shell itself
# refuses are also sent through go-dqlite's shell (REFERENCE_SHELL), which
# passes them to the node as they are.

HDB=hostile
hsh_() { sh_ "$HDB" "$@"; }
H_LEADER=""

# h_alive: every node of the cluster runs, and the leader is the one the
# cases started with.
h_alive() {
    local id l
    for id in 1 2 3; do
        kill -0 "${PIDS[$id]}" 2>/dev/null ||
            { echo "node $id is gone:"; tail -5 "$TMP/node$id.log"; return 1; }
    done
    l=$(hsh_ .leader) || return 1
    expect_eq "$H_LEADER" "$l" || { echo "(the leader changed)"; return 1; }
    expect_eq 1 "$(hsh_ "SELECT 1")"
}

# h_refused SQL WHAT: SQL fails, and the shell says the policy refused WHAT.
h_refused() {
    local out
    if out=$(hsh_ "$1" 2>&1); then
        echo "accepted: $1 -> $out"
        return 1
    fi
    case $out in
        *"refused by the SQL policy"*"$2"* | *"$2"*"refused by the SQL policy"*) ;;
        *) echo "$1: unexpected failure: $out"; return 1 ;;
    esac
}

# h_elections: how many role changes the nodes have logged so far.
h_elections() {
    cat "$TMP"/node[123].log | grep -c "node: state"
}

t_h_start() {
    start_node 1 || return 1
    start_node 2 --join "${ADDRS[1]}" || return 1
    start_node 3 --join "${ADDRS[1]}" || return 1
    hsh_ "CREATE TABLE t (n INT)" || return 1
    H_LEADER=$(hsh_ .leader) || return 1
    [ -n "$H_LEADER" ]
}

# Finding 2. The bound-parameter form (which crashed the leader) needs a
# client that binds: unit-server policy::fts3_tokenizer_with_a_bound_pointer
# covers it; here the forms the shell can send.
t_h_fts3_tokenizer() {
    h_refused "SELECT fts3_tokenizer('simple')" fts3_tokenizer || return 1
    h_refused "SELECT fts3_tokenizer('x', x'4141414141414141')" \
        fts3_tokenizer || return 1
    hsh_ "CREATE VIRTUAL TABLE f USING fts3(x, tokenize=x)" 2>/dev/null &&
        { echo "a table with an unregistered tokenizer was created"; return 1; }
    h_alive
}

# Finding 3: names that are SQLite URIs or in-memory databases.
t_h_uri_names() {
    local name out enc
    enc=$(printf '%s' "$TMP/escape.db" | sed 's|/|%2f|g')
    for name in "file:$enc?vfs=unix" ":memory:" "file::memory:?cache=shared"; do
        out=$(sh_ "$name" "CREATE TABLE x (n INT)" 2>&1) &&
            { echo "the shell accepted $name"; return 1; }
        case $out in *"invalid database name"*) ;;
            *) echo "$name: $out"; return 1 ;; esac
        if [ -x "$REFERENCE_SHELL" ]; then
            out=$(timeout 30 "$REFERENCE_SHELL" -s "$(servers)" "$name" \
                "CREATE TABLE x (n INT)" 2>&1) &&
                { echo "the node accepted $name"; return 1; }
            case $out in *"invalid database name"*) ;;
                *) echo "$name (go-dqlite's shell): $out"; return 1 ;; esac
        fi
    done
    [ ! -e "$TMP/escape.db" ] || { echo "a file escaped: $TMP/escape.db"; return 1; }
    h_alive
}

t_h_attach_vacuum_into() {
    h_refused "ATTACH '$TMP/attached.db' AS a" ATTACH || return 1
    h_refused "ATTACH 'file::memory:?cache=shared' AS m" ATTACH || return 1
    h_refused "VACUUM INTO '$TMP/copy.db'" "VACUUM INTO" || return 1
    for f in attached.db copy.db; do
        [ ! -e "$TMP/$f" ] || { echo "a file escaped: $TMP/$f"; return 1; }
    done
    # VACUUM itself works (and shrinks the file on every node, checked by
    # t_h_replicas_agree) and leaves the database writable.
    hsh_ "CREATE TABLE junk (b BLOB); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL
SELECT x + 1 FROM c WHERE x < 200) INSERT INTO junk SELECT randomblob(5000)
FROM c; DROP TABLE junk" || return 1
    local pages
    pages=$(hsh_ "SELECT * FROM pragma_page_count()") || return 1
    hsh_ "VACUUM" || return 1
    [ "$(hsh_ "SELECT * FROM pragma_page_count()")" -lt "$pages" ] ||
        { echo "VACUUM did not shrink the database ($pages pages)"; return 1; }
    hsh_ "INSERT INTO t VALUES (1)" || return 1
    h_alive
}

# Finding 6: a process-wide heap limit from a client.
t_h_heap_limit() {
    local sql=""
    h_refused "PRAGMA hard_heap_limit=300000" hard_heap_limit || return 1
    h_refused "PRAGMA soft_heap_limit=300000" soft_heap_limit || return 1
    for _ in $(seq 50); do sql+="INSERT INTO t VALUES (length(randomblob(100000)));"; done
    hsh_ "$sql" || { echo "writes failed after the refused pragma"; return 1; }
    expect_eq 51 "$(hsh_ "SELECT count(*) FROM t")" || return 1
    h_alive
}

# Finding 7: UTF-16 on a new database is refused; the database stays usable.
t_h_utf16() {
    local out
    out=$(sh_ u16 "PRAGMA encoding='UTF-16le'; CREATE TABLE e (s TEXT)" 2>&1) &&
        { echo "UTF-16 accepted"; return 1; }
    case $out in *"refused by the SQL policy"*) ;;
        *) echo "$out"; return 1 ;; esac
    sh_ u16 "CREATE TABLE e (s TEXT); INSERT INTO e VALUES ('ok')" || return 1
    expect_eq ok "$(sh_ u16 "SELECT s FROM e")" || return 1
    h_alive
}

# Finding 9: one huge value fails at once instead of holding the loop;
# four at once cause no election.
t_h_huge_values() {
    local before out
    before=$(h_elections)
    out=$(hsh_ "SELECT length(randomblob(1000000000))" 2>&1) &&
        { echo "a 1 GB value was made: $out"; return 1; }
    case $out in *"too big"*) ;; *) echo "$out"; return 1 ;; esac
    local jobs=()
    for _ in 1 2 3 4; do
        hsh_ "SELECT randomblob(300000000)" >/dev/null 2>&1 &
        jobs+=($!)
    done
    wait "${jobs[@]}" # the shells only: the nodes are children too
    sleep 1 # an election timeout's worth for a stalled leader to be noticed
    expect_eq "$before" "$(h_elections)" || { echo "(role changes)"; return 1; }
    h_alive
}

# After it all (VACUUM included), every node's copy of the database is
# whole, has every acknowledged row, and the same number of pages.
t_h_replicas_agree() {
    local id out="" dir first=""
    for id in 1 2 3; do
        dir=$TMP/hdump$id
        mkdir -p "$dir"
        for _ in $(seq 40); do
            (cd "$dir" && hsh_ ".dump ${ADDRS[$id]} $HDB" >/dev/null 2>&1)
            out=$(sqlite3 "$dir/$HDB" "SELECT count(*) FROM t;
                PRAGMA integrity_check; PRAGMA page_count" 2>&1)
            [ "${out%$'\n'*}" = $'51\nok' ] && break
            sleep 0.25
        done
        expect_eq $'51\nok' "${out%$'\n'*}" || { echo "(node $id)"; return 1; }
        [ -n "$first" ] || first=$out
        expect_eq "$first" "$out" || { echo "(node $id's pages)"; return 1; }
    done
}

run_hostile_cases() {
    local id
    m_reset
    check "hostile: 3-node cluster" t_h_start || return
    check "hostile: fts3_tokenizer is refused, the leader stays up" \
        t_h_fts3_tokenizer
    check "hostile: URI and in-memory database names are refused" t_h_uri_names
    check "hostile: ATTACH and VACUUM INTO are refused; VACUUM works" \
        t_h_attach_vacuum_into
    check "hostile: heap limit pragmas are refused" t_h_heap_limit
    check "hostile: UTF-16 encoding is refused" t_h_utf16
    check "hostile: huge values fail at once, no election" t_h_huge_values
    check "hostile: every replica has every row, intact" t_h_replicas_agree
    for id in "${!PIDS[@]}"; do stop_node "$id" TERM; done
}
