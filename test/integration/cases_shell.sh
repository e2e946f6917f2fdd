# shellcheck shell=bash
# The shell as an sqlite3 user types it, and .backup. Sourced by run.sh; a
# one-node cluster of its own (cases_member.sh's m_reset clears the
# previous one).
#
# - The same inputs (test/integration/shell/setup.sql, queries.sql) go
#   through Debian's sqlite3 on a local file and through dqlite on the
#   node; their outputs must be the same bytes: every .mode, .headers,
#   NULLs, blobs, floats, unicode, wide columns, empty results,
#   statements over several lines, ';' in strings, comments and triggers,
#   .tables, .schema, .indexes.
# - .backup while a writer commits one row at a time: the copy opens in
#   sqlite3 with integrity "ok" and holds exactly rows 1..k (a prefix of
#   the commits) with k at least what was acknowledged before; after a
#   VACUUM the copy has the node's page count and content.
# - .backup to a path that cannot be written, to a full file system, to a
#   device: a clear error, exit status 1, nothing left behind, the
#   cluster's data unchanged and writable.

SHDB=shelldb
SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/shell" && pwd)
shsh_() { sh_ "$SHDB" "$@"; }

t_sh_start() {
    m_reset
    start_node 1 || return 1
    shsh_ <"$SH_DIR/setup.sql" || return 1
    sqlite3 "$TMP/ref.db" <"$SH_DIR/setup.sql"
}

t_sh_same_as_sqlite3() {
    local status=0
    sqlite3 "$TMP/ref.db" <"$SH_DIR/queries.sql" >"$TMP/theirs.out" ||
        { echo "sqlite3 failed"; return 1; }
    shsh_ <"$SH_DIR/queries.sql" >"$TMP/ours.out" 2>"$TMP/ours.err" ||
        status=$?
    [ "$status" -eq 0 ] && [ ! -s "$TMP/ours.err" ] ||
        { echo "exit status $status:"; cat "$TMP/ours.err"; return 1; }
    [ "$(wc -l <"$TMP/ours.out")" -gt 100 ] ||
        { echo "too little output:"; cat "$TMP/ours.out"; return 1; }
    diff "$TMP/theirs.out" "$TMP/ours.out" || { echo "(< sqlite3, > dqlite)"; return 1; }
}

# EXPLAIN and EXPLAIN QUERY PLAN (test/integration/shell/explain.sql), in
# every mode: the same bytes as sqlite3's explain layouts.
t_sh_explain_as_sqlite3() {
    sqlite3 "$TMP/ref.db" <"$SH_DIR/explain.sql" >"$TMP/ex_theirs.out" 2>&1 ||
        { echo "sqlite3 failed"; cat "$TMP/ex_theirs.out"; return 1; }
    grep -q '^QUERY PLAN$' "$TMP/ex_theirs.out" &&
        grep -q '^[0-9]* *      [A-Z]' "$TMP/ex_theirs.out" ||
        { echo "sqlite3 printed no plan tree or indented loop"; return 1; }
    shsh_ <"$SH_DIR/explain.sql" >"$TMP/ex_ours.out" 2>&1 ||
        { echo "dqlite failed"; cat "$TMP/ex_ours.out"; return 1; }
    diff "$TMP/ex_theirs.out" "$TMP/ex_ours.out" ||
        { echo "(< sqlite3, > dqlite)"; return 1; }
}

# Statements that return rows whatever their first word, and those that
# sqlite3 formats its own way (EXPLAIN): answered with rows, exit 0.
t_sh_statement_shapes() {
    local q out
    for q in "EXPLAIN SELECT 1" "EXPLAIN QUERY PLAN SELECT * FROM v WHERE i = 1" \
        "PRAGMA user_version" "WITH a AS (SELECT 1) SELECT * FROM a" \
        "VALUES (1)" "INSERT INTO e VALUES (8) RETURNING x"; do
        out=$(shsh_ --mode list "$q;") || { echo "($q)"; return 1; }
        [ -n "$out" ] || { echo "no rows for $q"; return 1; }
    done
    expect_eq "9" "$(shsh_ "PRAGMA user_version = 9; PRAGMA user_version")"
}

t_sh_exit_status() {
    local s1=0 s2=0 s3=0 s4=0 v
    printf 'SELECT 1;\nSELECT * FROM nope;\nSELECT 2;\n' | shsh_ >/dev/null 2>&1 ||
        s1=$?
    shsh_ ".mode nosuchmode" 2>/dev/null || s2=$?
    shsh_ ".nosuchcommand" 2>/dev/null || s3=$?
    timeout 30 "$B/dqlite" -s "$(servers)" "SELECT 1" </dev/null 2>/dev/null ||
        s4=$?
    expect_eq "1 1 1 2" "$s1 $s2 $s3 $s4" || return 1
    v=$("$B/dqlite" --version) || return 1
    case $v in
    "dqlite "*" (dqlite ABI 1.11.0, SQLite 3."*")") ;;
    *) echo "--version printed: $v"; return 1 ;;
    esac
}

# .timer and .mode without an argument, as sqlite3 prints them; .databases
# lists the cluster's databases (the leader's), sorted, one a line.
t_sh_timer_databases_mode() {
    local out
    out=$(printf '.timer on\nSELECT 1;\n.timer off\nSELECT 2;\n' | shsh_) ||
        return 1
    printf '%s\n' "$out" | sed -n 2p |
        grep -Eqx 'Run Time: real [0-9]+\.[0-9]{3} user [0-9]+\.[0-9]{6} sys [0-9]+\.[0-9]{6}' ||
        { echo "timer: $out"; return 1; }
    expect_eq 3 "$(printf '%s\n' "$out" | wc -l)" &&
        expect_eq "$SHDB" "$(shsh_ .databases)" &&
        sh_ zz_other "CREATE TABLE z(x)" &&
        expect_eq "$SHDB"$'\n'"zz_other" "$(shsh_ .databases)" &&
        expect_eq "$SHDB|zz_other" \
            "$(sh_ zz_other --mode list "PRAGMA dqlite_databases" | paste -sd'|')" &&
        expect_eq "current output mode: csv" \
            "$(printf '.mode csv\n.mode\n' | shsh_)"
}

# .read runs a file's statements and commands; .quit stops reading.
t_sh_read_quit() {
    local out status=0
    printf '.mode csv\nSELECT id,\n  t FROM v\n  WHERE id = 1;\n' >"$TMP/r.sql"
    out=$(printf '.read %s\n.quit\nSELECT 99;\n' "$TMP/r.sql" | shsh_) ||
        return 1
    expect_eq "1,plain"$'\r' "$out" || return 1
    out=$(shsh_ ".read $TMP/nosuchfile" 2>&1) || status=$?
    expect_eq 1 "$status" &&
        expect_eq "Error: cannot open \"$TMP/nosuchfile\": No such file or directory" "$out"
}

# sh_writer N: commits rows 1..N of table w, one statement (one commit)
# each, through one shell reading a pipe.
sh_writer() {
    local i
    for i in $(seq "$1"); do
        echo "INSERT INTO w VALUES ($i, randomblob(3000));"
    done | shsh_ >/dev/null 2>"$TMP/writer.err"
}

t_sh_backup_under_writes() {
    local pid before counts
    shsh_ "CREATE TABLE w (n INTEGER PRIMARY KEY, b BLOB)" || return 1
    sh_writer 3000 &
    pid=$!
    for _ in $(seq 100); do
        before=$(shsh_ "SELECT count(*) FROM w") || return 1
        [ "$before" -gt 200 ] && break
        sleep 0.1
    done
    shsh_ ".backup $TMP/backup.db" || { kill "$pid"; return 1; }
    kill -0 "$pid" 2>/dev/null ||
        echo "note: the writer had finished before the backup ended"
    wait "$pid" || { cat "$TMP/writer.err"; return 1; }
    expect_eq ok "$(sqlite3 "$TMP/backup.db" "PRAGMA integrity_check")" ||
        return 1
    expect_eq delete "$(sqlite3 "$TMP/backup.db" "PRAGMA journal_mode")" ||
        return 1
    # A prefix: rows 1..k, k >= what was acknowledged before the backup.
    counts=$(sqlite3 "$TMP/backup.db" \
        "SELECT count(*), coalesce(max(n), 0), count(*) = coalesce(max(n), 0) FROM w")
    echo "backup holds rows 1..${counts%%|*} (>= $before acknowledged before it; 3000 written)"
    [ "${counts##*|}" = 1 ] && [ "${counts%%|*}" -ge "$before" ] ||
        { echo "not a prefix: count|max|ok = $counts"; return 1; }
    expect_eq 8 "$(sqlite3 "$TMP/backup.db" "SELECT count(*) FROM v")"
}

# After deletes and a VACUUM the database shrinks: the copy has the size
# the last commit recorded and the same content as the node.
t_sh_backup_after_vacuum() {
    local q="SELECT count(*), sum(length(b)), sum(n) FROM w"
    shsh_ "DELETE FROM w WHERE n % 3 = 0; VACUUM" || return 1
    shsh_ ".backup '$TMP/vacuumed copy.db'" || return 1
    expect_eq ok "$(sqlite3 "$TMP/vacuumed copy.db" "PRAGMA integrity_check")" &&
        expect_eq "$(shsh_ --mode list "PRAGMA page_count")" \
            "$(sqlite3 "$TMP/vacuumed copy.db" "PRAGMA page_count")" &&
        expect_eq "$(shsh_ --mode list "$q")" \
            "$(sqlite3 "$TMP/vacuumed copy.db" "$q")"
}

# sh_untouched: the cluster still has its data and takes writes.
sh_untouched() {
    expect_eq 2000 "$(shsh_ "SELECT count(*) FROM w")" &&
        shsh_ "INSERT INTO e VALUES (100)" &&
        expect_eq 1 "$(shsh_ "SELECT count(*) FROM e WHERE x = 100")" &&
        shsh_ "DELETE FROM e WHERE x = 100"
}

t_sh_backup_bad_paths() {
    local out status=0
    touch "$TMP/afile"
    out=$(shsh_ ".backup $TMP/afile/x.db" 2>&1) || status=$?
    expect_eq 1 "$status" &&
        expect_eq "Error: backup failed: cannot write $TMP/afile/x.db: Not a directory" "$out" ||
        return 1
    status=0
    out=$(shsh_ ".backup /dev/null" 2>&1) || status=$?
    expect_eq 1 "$status" &&
        expect_eq "Error: backup failed: cannot write /dev/null: not a regular file" "$out" ||
        return 1
    [ -c /dev/null ] || { echo "/dev/null replaced"; return 1; }
    status=0
    out=$(sh_ nosuchdb ".backup $TMP/none.db" 2>&1) || status=$?
    expect_eq 1 "$status" &&
        expect_eq "Error: backup failed: database does not exist" "$out" &&
        [ ! -e "$TMP/none.db" ] && sh_untouched
}

# A backup larger than the file system it goes to (root: a 2 MiB tmpfs).
t_sh_backup_disk_full() {
    local out status=0 left
    out=$(shsh_ ".backup $TMP/small/b.db" 2>&1) || status=$?
    expect_eq 1 "$status" || { echo "$out"; return 1; }
    case $out in
    "Error: backup failed: cannot write $TMP/small/b.db: No space left on device") ;;
    *) echo "unexpected: $out"; return 1 ;;
    esac
    left=$(ls -A "$TMP/small")
    expect_eq "" "$left" && sh_untouched
}

run_shell_cases() {
    check "shell: one node with the test database" t_sh_start || return
    check "shell: same bytes as sqlite3 (every mode, .schema...)" t_sh_same_as_sqlite3
    check "shell: PRAGMA, WITH, EXPLAIN, VALUES, RETURNING answered" t_sh_statement_shapes
    check "shell: EXPLAIN (QUERY PLAN) laid out as sqlite3 does" t_sh_explain_as_sqlite3
    check "shell: exit status on errors, --version" t_sh_exit_status
    check "shell: .read and .quit" t_sh_read_quit
    check "shell: .timer, .databases, .mode" t_sh_timer_databases_mode
    check "shell: .backup under writes: integrity ok, a prefix" t_sh_backup_under_writes
    check "shell: .backup after VACUUM: same pages and content" t_sh_backup_after_vacuum
    check "shell: .backup to a bad path: error, cluster untouched" t_sh_backup_bad_paths
    local name="shell: .backup to a full disk: error, cluster untouched"
    if [ "$(id -u)" != 0 ] || ! mkdir -p "$TMP/small" ||
        ! mount -t tmpfs -o size=2m tmpfs "$TMP/small" 2>/dev/null; then
        skip "$name" "cannot mount a tmpfs here (needs root)"
    else
        check "$name" t_sh_backup_disk_full
        umount "$TMP/small"
    fi
    m_reset
}
