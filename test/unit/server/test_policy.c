/* The SQL policy of a replicated database (docs/sql-policy.md) against a
 * real one-node cluster, as a client sees it: what is refused fails at the
 * statement with SQLITE_AUTH and a message naming what and why; what
 * applications commonly issue still works; database names that would
 * escape the node's VFS are refused at OPEN; SQLite's limits hold, and a
 * value too large for the loop is made on the db thread instead. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/rows.h"
#include "server/node.h"
#include "wire.h"

static struct wire_node node;
static struct wire w;

static void setup(void)
{
    alarm(60); /* a hung test dies instead of stalling the suite */
    wireNodeStart(&node);
    wireOpen(&w, node.address, PROTO_VERSION);
}

static void teardown(void)
{
    wireClose(&w);
    wireNodeStop(&node);
}

TestSuite(policy, .init = setup, .fini = teardown);

#define CODE_AUTH 23
#define CODE_TOOBIG 18
#define CODE_CANTOPEN 14

static void sendSql(uint8_t type, const char *sql, struct proto_value *params,
                    unsigned n)
{
    struct proto_request req;
    protoRequestInit(&req, type);
    req.exec_sql.sql = protoText(sql); /* QUERY_SQL has the same layout */
    if (n > 0) {
        protoParamsSet(&req.exec_sql.params, params, n);
    }
    wireSend(&w, &req);
}

/* The failure message of the last response, as a C string. */
static const char *failMessage(void)
{
    static char msg[512];
    snprintf(msg, sizeof msg, "%.*s", (int)w.resp.failure.message.len,
             w.resp.failure.message.data);
    return msg;
}

/* EXEC_SQL (or QUERY_SQL) `sql` fails SQLITE_AUTH with a message that
 * names the policy and contains `what`. */
static void expectRefused(uint8_t type, const char *sql, const char *what)
{
    sendSql(type, sql, NULL, 0);
    uint64_t code = wireExpectFailure(&w);
    cr_assert_eq(code, CODE_AUTH, "%s: code %llu: %s", sql,
                 (unsigned long long)code, failMessage());
    cr_assert(strstr(failMessage(), "refused by the SQL policy") != NULL,
              "%s: %s", sql, failMessage());
    cr_assert(strstr(failMessage(), what) != NULL, "%s: %s", sql,
              failMessage());
}

static void expectExecOk(const char *sql)
{
    sendSql(PROTO_REQ_EXEC_SQL, sql, NULL, 0);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_RESULT, "%s: %s", sql,
                 w.resp.type == PROTO_RESP_FAILURE ? failMessage() : "");
}

/* The first column of the only row of QUERY_SQL `sql`. */
static struct proto_value queryOne(const char *sql, struct proto_value *params,
                                   unsigned n)
{
    struct proto_rows_iter it;
    struct proto_value row[1];
    sendSql(PROTO_REQ_QUERY_SQL, sql, params, n);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_ROWS, "%s: %s", sql,
                 w.resp.type == PROTO_RESP_FAILURE ? failMessage() : "");
    cr_assert(w.resp.rows.done);
    protoRowsIterInit(&it, &w.resp.rows);
    cr_assert(protoRowsIterNext(&it, row), "%s: no row", sql);
    return row[0];
}

static int64_t queryInt(const char *sql)
{
    struct proto_value v = queryOne(sql, NULL, 0);
    cr_assert_eq(v.type, PROTO_INTEGER, "%s: type %d", sql, v.type);
    return v.integer;
}

/* ------------------------------------------------------------ finding 2 */

/* The crash of issue 15: a pointer smuggled in through a bound blob, then
 * a table using it. The bound form passes SQLite's own FTS3_TOKENIZER
 * switch; the policy refuses the function in every form. */
Test(policy, fts3_tokenizer_with_a_bound_pointer_is_refused)
{
    uint8_t ptr[8] = {0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41};
    struct proto_value v = {.type = PROTO_BLOB};
    v.blob.data = ptr;
    v.blob.len = sizeof ptr;
    wireOpenDb(&w, "test");
    sendSql(PROTO_REQ_QUERY_SQL, "SELECT fts3_tokenizer('x', ?)", &v, 1);
    cr_assert_eq(wireExpectFailure(&w), CODE_AUTH, "%s", failMessage());
    cr_assert(strstr(failMessage(), "fts3_tokenizer") != NULL, "%s",
              failMessage());
    sendSql(PROTO_REQ_EXEC_SQL, "SELECT fts3_tokenizer('x', ?)", &v, 1);
    cr_assert_eq(wireExpectFailure(&w), CODE_AUTH, "%s", failMessage());
    /* Without the registration the table cannot use it. */
    sendSql(PROTO_REQ_EXEC_SQL,
            "CREATE VIRTUAL TABLE f USING fts3(x, tokenize=x)", NULL, 0);
    cr_assert_eq(wireRecv(&w), true);
    cr_assert_eq(w.resp.type, PROTO_RESP_FAILURE);
    cr_assert_eq(queryInt("SELECT 1"), 1, "the node still serves");
}

Test(policy, fts3_tokenizer_reading_a_pointer_is_refused)
{
    wireOpenDb(&w, "test");
    expectRefused(PROTO_REQ_QUERY_SQL, "SELECT fts3_tokenizer('simple')",
                  "fts3_tokenizer");
    expectRefused(PROTO_REQ_QUERY_SQL, "SELECT FTS3_TOKENIZER('porter')",
                  "fts3_tokenizer");
    /* Hidden in a view, it fails where the view is used (SQLite's own
     * rule for direct-only functions comes first there). */
    expectExecOk("CREATE VIEW v AS SELECT fts3_tokenizer('simple') AS p");
    sendSql(PROTO_REQ_QUERY_SQL, "SELECT p FROM v", NULL, 0);
    cr_assert_neq(wireExpectFailure(&w), 0);
    cr_assert(strstr(failMessage(), "fts3_tokenizer") != NULL, "%s",
              failMessage());
}

Test(policy, load_extension_is_refused)
{
    wireOpenDb(&w, "test");
    expectRefused(PROTO_REQ_QUERY_SQL, "SELECT load_extension('/tmp/x.so')",
                  "load_extension");
}

/* Full-text tables themselves keep working, triggers included. */
Test(policy, fts_tables_and_their_triggers_work)
{
    wireOpenDb(&w, "test");
    expectExecOk("CREATE TABLE doc (body TEXT)");
    expectExecOk("CREATE VIRTUAL TABLE f4 USING fts4(body)");
    expectExecOk("CREATE VIRTUAL TABLE f5 USING fts5(body)");
    expectExecOk("CREATE TRIGGER d AFTER INSERT ON doc BEGIN "
                 "INSERT INTO f4 (body) VALUES (new.body); "
                 "INSERT INTO f5 (body) VALUES (new.body); END");
    expectExecOk("INSERT INTO doc VALUES ('replicated hello')");
    cr_assert_eq(queryInt("SELECT count(*) FROM f4 WHERE f4 MATCH 'hello'"), 1);
    cr_assert_eq(queryInt("SELECT count(*) FROM f5 WHERE f5 MATCH 'hello'"), 1);
}

/* ------------------------------------------------------------ finding 3 */

Test(policy, attach_detach_and_vacuum_into_are_refused)
{
    char path[128];
    char sql[256];
    snprintf(path, sizeof path, "%s/../dqlite-policy-%d.db", node.dir,
             (int)getpid());
    wireOpenDb(&w, "test");
    expectExecOk("CREATE TABLE t (n INT); INSERT INTO t VALUES (1)");
    snprintf(sql, sizeof sql, "ATTACH '%s' AS x", path);
    expectRefused(PROTO_REQ_EXEC_SQL, sql, "ATTACH");
    expectRefused(PROTO_REQ_EXEC_SQL, "ATTACH ':memory:' AS m", "ATTACH");
    expectRefused(PROTO_REQ_EXEC_SQL, "ATTACH '' AS m", "ATTACH");
    expectRefused(PROTO_REQ_EXEC_SQL,
                  "ATTACH 'file::memory:?cache=shared' AS m", "ATTACH");
    expectRefused(PROTO_REQ_EXEC_SQL, "DETACH main", "DETACH");
    snprintf(sql, sizeof sql, "VACUUM INTO '%s'", path);
    expectRefused(PROTO_REQ_EXEC_SQL, sql, "VACUUM INTO");
    cr_assert_neq(access(path, F_OK), 0, "no file was written");
    /* The connection goes on. */
    cr_assert_eq(queryInt("SELECT count(*) FROM t"), 1);
}

/* VACUUM (into the database itself) works, and leaves the database
 * writable: it commits without SQLite's commit hook, and its frames used
 * to stay held, the database locked for good. */
Test(policy, vacuum_works_and_leaves_the_database_writable)
{
    wireOpenDb(&w, "test");
    expectExecOk("CREATE TABLE t (b BLOB); WITH RECURSIVE c(x) AS (SELECT 1 "
                 "UNION ALL SELECT x + 1 FROM c WHERE x < 100) INSERT INTO t "
                 "SELECT randomblob(3000) FROM c");
    expectExecOk("DELETE FROM t WHERE rowid % 2 = 0");
    int64_t before = queryInt("SELECT * FROM pragma_page_count()");
    expectExecOk("VACUUM");
    cr_assert_lt(queryInt("SELECT * FROM pragma_page_count()"), before);
    expectExecOk("INSERT INTO t VALUES (x'01')");
    cr_assert_eq(queryInt("SELECT count(*) FROM t"), 51);
    cr_assert_eq(queryInt("SELECT count(*) FROM pragma_integrity_check() "
                          "WHERE integrity_check = 'ok'"),
                 1);
}

static void openExpectRefused(const char *name, const char *what)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_OPEN);
    req.open.name = protoText(name);
    req.open.vfs = protoText("volatile");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), CODE_CANTOPEN, "%s: %s", name,
                 failMessage());
    cr_assert(strstr(failMessage(), "invalid database name") != NULL, "%s: %s",
              name, failMessage());
    cr_assert(strstr(failMessage(), what) != NULL, "%s: %s", name,
              failMessage());
}

Test(policy, uri_and_memory_names_are_refused_at_open)
{
    char name[300];
    char path[128];
    snprintf(path, sizeof path, "/tmp/dqlite-policy-uri-%d.db", (int)getpid());
    snprintf(name, sizeof name,
             "file:%%2ftmp%%2fdqlite-policy-uri-%d.db?vfs=unix", (int)getpid());
    openExpectRefused(name, "no URI");
    cr_assert_neq(access(path, F_OK), 0, "no file was written");
    openExpectRefused(":memory:", ":memory:");
    openExpectRefused("file::memory:?cache=shared", "letters");
    openExpectRefused("a b", "letters");
    openExpectRefused("x-wal", "-wal");
    openExpectRefused("x-journal", "-journal");
    memset(name, 'a', 256);
    name[256] = '\0';
    openExpectRefused(name, "255");
    /* A good name still opens on the same connection. */
    wireOpenDb(&w, "my_app-1.db");
    expectExecOk("CREATE TABLE t (n INT)");
}

/* ------------------------------------------------------------ pragmas */

Test(policy, process_wide_and_file_level_pragmas_are_refused)
{
    static const struct {
        const char *sql;
        const char *what;
    } refused[] = {
        {"PRAGMA hard_heap_limit=300000", "hard_heap_limit"},
        {"PRAGMA soft_heap_limit=1", "soft_heap_limit"},
        {"PRAGMA journal_mode=DELETE", "journal_mode"},
        {"PRAGMA journal_mode=memory", "journal_mode"},
        {"PRAGMA locking_mode=EXCLUSIVE", "locking_mode"},
        {"PRAGMA mmap_size=268435456", "mmap_size"},
        {"PRAGMA temp_store_directory='/tmp'", "temp_store_directory"},
        {"PRAGMA data_store_directory='/tmp'", "data_store_directory"},
        {"PRAGMA writable_schema=ON", "writable_schema"},
        {"PRAGMA wal_autocheckpoint=100", "wal_autocheckpoint"},
        {"PRAGMA wal_checkpoint(TRUNCATE)", "wal_checkpoint"},
        {"PRAGMA page_size=8192", "page_size"},
        {"PRAGMA busy_timeout=1000", "busy_timeout"},
        {"PRAGMA threads=4", "threads"},
        {"PRAGMA schema_version=7", "schema_version"},
        {"PRAGMA main.hard_heap_limit=1", "hard_heap_limit"},
        {"PRAGMA no_such_pragma_here", "no_such_pragma_here"},
    };
    wireOpenDb(&w, "test");
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        expectRefused(PROTO_REQ_EXEC_SQL, refused[i].sql, refused[i].what);
    }
}

/* Finding 6: the process-wide heap limit is not lowered by a client (the
 * node runs in this process, so the limit is visible here). */
Test(policy, heap_limits_stay_as_the_process_set_them)
{
    sqlite3_int64 hard = sqlite3_hard_heap_limit64(-1);
    sqlite3_int64 soft = sqlite3_soft_heap_limit64(-1);
    wireOpenDb(&w, "test");
    sendSql(PROTO_REQ_EXEC_SQL, "PRAGMA hard_heap_limit=300000", NULL, 0);
    cr_assert_eq(wireExpectFailure(&w), CODE_AUTH);
    sendSql(PROTO_REQ_QUERY_SQL, "PRAGMA soft_heap_limit=300000", NULL, 0);
    cr_assert_eq(wireExpectFailure(&w), CODE_AUTH);
    cr_assert_eq(sqlite3_hard_heap_limit64(-1), hard);
    cr_assert_eq(sqlite3_soft_heap_limit64(-1), soft);
    expectExecOk("CREATE TABLE t (b BLOB); INSERT INTO t "
                 "VALUES (randomblob(500000))");
}

/* Finding 7: a UTF-16 database was acknowledged, then unreadable on every
 * node; now it is refused, and the database stays usable. */
Test(policy, utf16_encoding_is_refused_and_the_database_stays_readable)
{
    wireOpenDb(&w, "fresh");
    expectRefused(PROTO_REQ_EXEC_SQL,
                  "PRAGMA encoding='UTF-16le'; CREATE TABLE t (s TEXT)",
                  "encoding");
    expectExecOk("PRAGMA encoding='UTF-8'; CREATE TABLE t (s TEXT); "
                 "INSERT INTO t VALUES ('h\xc3\xa9')");
    struct wire other;
    wireOpen(&other, node.address, PROTO_VERSION);
    wireOpenDb(&other, "fresh");
    wireClose(&other);
    struct proto_value v = queryOne("SELECT s FROM t", NULL, 0);
    cr_assert_eq(v.type, PROTO_TEXT);
    cr_assert_eq(v.text.len, 3);
    cr_assert_eq(memcmp(v.text.data, "h\xc3\xa9", 3), 0);
}

/* What applications commonly issue keeps working. */
Test(policy, common_pragmas_work)
{
    wireOpenDb(&w, "test");
    expectExecOk("PRAGMA foreign_keys=ON");
    cr_assert_eq(queryInt("PRAGMA foreign_keys"), 1);
    expectExecOk("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c "
                 "(p INT REFERENCES p(id))");
    sendSql(PROTO_REQ_EXEC_SQL, "INSERT INTO c VALUES (7)", NULL, 0);
    cr_assert_eq(wireExpectFailure(&w) & 0xff, 19, "foreign keys enforced");
    struct proto_value v = queryOne("PRAGMA journal_mode=WAL", NULL, 0);
    cr_assert_eq(v.type, PROTO_TEXT);
    cr_assert_eq(memcmp(v.text.data, "wal", 3), 0);
    v = queryOne("PRAGMA journal_mode", NULL, 0);
    cr_assert_eq(memcmp(v.text.data, "wal", 3), 0);
    expectExecOk("PRAGMA user_version=42");
    cr_assert_eq(queryInt("PRAGMA user_version"), 42);
    cr_assert_eq(queryInt("SELECT count(*) FROM pragma_table_info('c')"), 1);
    cr_assert_eq(queryInt("PRAGMA page_size"), 4096);
    expectExecOk("PRAGMA page_size=4096");
    expectExecOk("PRAGMA encoding='UTF-8'");
    expectExecOk("PRAGMA synchronous=NORMAL");
    expectExecOk("PRAGMA cache_size=-2000");
    expectExecOk("PRAGMA recursive_triggers=ON");
    expectExecOk("PRAGMA defer_foreign_keys=ON");
    expectExecOk("PRAGMA optimize");
    cr_assert_eq(queryInt("SELECT count(*) FROM pragma_index_list('c')"), 0);
    cr_assert_eq(queryInt("SELECT count(*) FROM pragma_foreign_key_check"), 0);
    v = queryOne("PRAGMA integrity_check", NULL, 0);
    cr_assert_eq(memcmp(v.text.data, "ok", 2), 0);
    cr_assert_eq(queryInt("PRAGMA busy_timeout"), 0);
}

/* ------------------------------------------------------------ limits */

Test(policy, values_past_the_length_limit_fail_at_once)
{
    wireOpenDb(&w, "test");
    sendSql(PROTO_REQ_QUERY_SQL, "SELECT length(randomblob(1000000000))", NULL,
            0);
    cr_assert_eq(wireExpectFailure(&w), CODE_TOOBIG, "%s", failMessage());
    sendSql(PROTO_REQ_QUERY_SQL, "SELECT length(zeroblob(67108865))", NULL, 0);
    cr_assert_eq(wireExpectFailure(&w), CODE_TOOBIG, "%s", failMessage());
    cr_assert_eq(queryInt("SELECT length(zeroblob(67108864))"), 67108864);
}

/* Values larger than the loop's limit (1 MiB) are made, read, bound and
 * written on the db thread, with the same results; an autocommit write
 * tried on the loop first leaves nothing behind. */
Test(policy, large_values_work_through_the_db_thread)
{
    static uint8_t big[3 * 1024 * 1024];
    wireOpenDb(&w, "test");
    cr_assert_eq(queryInt("SELECT length(randomblob(2000000))"), 2000000);
    expectExecOk("CREATE TABLE t (n INT, b BLOB)");
    expectExecOk("INSERT INTO t VALUES (1, randomblob(10)), "
                 "(2, randomblob(2000000))");
    cr_assert_eq(queryInt("SELECT count(*) FROM t"), 2, "inserted once");
    cr_assert_eq(queryInt("SELECT length(b) FROM t WHERE n = 2"), 2000000);
    memset(big, 0xab, sizeof big);
    struct proto_value v = {.type = PROTO_BLOB};
    v.blob.data = big;
    v.blob.len = sizeof big;
    sendSql(PROTO_REQ_EXEC_SQL, "INSERT INTO t VALUES (3, ?)", &v, 1);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_RESULT, "%s", failMessage());
    /* Reading the stored value back also passes the loop's limit. */
    v.type = PROTO_BLOB;
    v.blob.data = big;
    v.blob.len = sizeof big;
    struct proto_value same =
        queryOne("SELECT b = ? FROM t WHERE n = 3", &v, 1);
    cr_assert_eq(same.type, PROTO_INTEGER);
    cr_assert_eq(same.integer, 1, "the value read back is the one written");
    cr_assert_eq(queryInt("SELECT count(*) FROM t"), 3);
}

/* A prepared statement (QUERY by id) bound with a value past the loop's
 * limit runs on the db thread with its bindings. */
Test(policy, large_bound_value_of_a_prepared_query)
{
    static uint8_t big[2 * 1024 * 1024];
    struct proto_request req;
    wireOpenDb(&w, "test");
    protoRequestInit(&req, PROTO_REQ_PREPARE);
    req.prepare.sql = protoText("SELECT length(?)");
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_STMT);
    uint32_t id = (uint32_t)w.resp.stmt.stmt_id;
    struct proto_value v = {.type = PROTO_BLOB};
    v.blob.data = big;
    v.blob.len = sizeof big;
    protoRequestInit(&req, PROTO_REQ_QUERY);
    req.query.stmt_id = id;
    protoParamsSet(&req.query.params, &v, 1);
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_ROWS, "%s",
                 w.resp.type == PROTO_RESP_FAILURE ? failMessage() : "");
    struct proto_rows_iter it;
    struct proto_value row[1];
    protoRowsIterInit(&it, &w.resp.rows);
    cr_assert(protoRowsIterNext(&it, row));
    cr_assert_eq(row[0].integer, (int64_t)sizeof big);
}

static uint64_t nowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Finding 9: one VDBE step making a large value cannot be interrupted by
 * the loop's time budget; it used to hold the loop for as long as it took.
 * Another connection is answered while it runs (well before half the
 * time the statement's own answer takes). */
Test(policy, one_large_step_leaves_the_loop_free)
{
    struct wire other;
    struct proto_request req;
    wireOpenDb(&w, "test");
    wireOpen(&other, node.address, PROTO_VERSION);
    uint64_t sent_ms = nowMs();
    sendSql(PROTO_REQ_QUERY_SQL, "SELECT length(randomblob(60000000))", NULL,
            0);
    usleep(20 * 1000); /* the long request is under way */
    protoRequestInit(&req, PROTO_REQ_LEADER);
    wireSend(&other, &req);
    cr_assert(wireRecv(&other));
    cr_assert_eq(other.resp.type, PROTO_RESP_SERVER);
    uint64_t other_ms = nowMs() - sent_ms;
    wireClose(&other);
    cr_assert(wireRecv(&w));
    uint64_t long_ms = nowMs() - sent_ms;
    cr_assert_eq(w.resp.type, PROTO_RESP_ROWS);
    cr_assert_lt(other_ms * 2, long_ms,
                 "answered after %llu ms, the long request after %llu ms",
                 (unsigned long long)other_ms, (unsigned long long)long_ms);
}
