/* Every request of the wire protocol against a real one-node cluster, in
 * its normal and malformed forms, as a client sees it: response types,
 * codes and messages (protocol.md §5, §7), and that bad input never takes
 * the node or other connections down. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/byte.h"
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

TestSuite(gateway, .init = setup, .fini = teardown);

static void sendSimple(uint8_t type, uint64_t word)
{
    struct proto_request req;
    protoRequestInit(&req, type);
    req.leader.unused = word; /* every one-word body has the same layout */
    wireSend(&w, &req);
}

static void expectText(struct proto_text t, const char *want)
{
    cr_assert_eq(t.len, strlen(want), "got %.*s want %s", (int)t.len, t.data,
                 want);
    cr_assert(memcmp(t.data, want, t.len) == 0);
}

Test(gateway, leader_reports_itself)
{
    sendSimple(PROTO_REQ_LEADER, 0);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_SERVER);
    cr_assert_eq(w.resp.server.id, 1);
    expectText(w.resp.server.address, node.address);
}

Test(gateway, client_gets_welcome)
{
    sendSimple(PROTO_REQ_CLIENT, 0);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_WELCOME);
}

Test(gateway, heartbeat_and_unknown_types_fail_but_keep_the_connection)
{
    sendSimple(PROTO_REQ_HEARTBEAT, 0);
    cr_assert_eq(wireExpectFailure(&w), 1005);
    expectText(w.resp.failure.message, "unrecognized request type");
    uint8_t raw[16] = {1, 0, 0, 0, 42, 0, 0, 0};
    wireSendRaw(&w, raw, sizeof raw);
    cr_assert_eq(wireExpectFailure(&w), 1005);
    sendSimple(PROTO_REQ_LEADER, 0);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_SERVER);
}

Test(gateway, bad_handshake_is_closed_silently)
{
    struct wire other;
    wireOpen(&other, node.address, 7);
    cr_assert(wireClosed(&other));
    wireClose(&other);
}

Test(gateway, empty_body_closes_only_that_connection)
{
    struct wire other;
    wireOpen(&other, node.address, PROTO_VERSION);
    uint8_t raw[8] = {0, 0, 0, 0, PROTO_REQ_LEADER, 0, 0, 0};
    wireSendRaw(&other, raw, sizeof raw);
    cr_assert(wireClosed(&other));
    wireClose(&other);
    sendSimple(PROTO_REQ_LEADER, 0);
    cr_assert(wireRecv(&w), "the node still serves");
}

Test(gateway, text_without_terminator_closes_the_connection)
{
    struct wire other;
    wireOpen(&other, node.address, PROTO_VERSION);
    uint8_t raw[16] = {
        1,   0,   0,   0,  PROTO_REQ_OPEN, 0, 0, 0, 'a', 'b', 'c', 'd',
        'e', 'f', 'g', 'h'};
    wireSendRaw(&other, raw, sizeof raw);
    cr_assert(wireClosed(&other));
    wireClose(&other);
}

Test(gateway, unknown_schema_fails)
{
    uint8_t raw[16] = {1, 0, 0, 0, PROTO_REQ_LEADER, 3, 0, 0};
    wireSendRaw(&w, raw, sizeof raw);
    cr_assert_eq(wireExpectFailure(&w), 1005);
}

Test(gateway, open_twice_fails_with_busy)
{
    wireOpenDb(&w, "test");
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_OPEN);
    req.open.name = protoText("test");
    req.open.vfs = protoText("volatile");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 5);
    expectText(w.resp.failure.message,
               "a database for this connection is already open");
}

Test(gateway, sql_before_open_is_not_found)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText("SELECT 1");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 12);
    expectText(w.resp.failure.message, "no database opened");
}

static uint32_t prepare(const char *sql, uint64_t *n_params)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_PREPARE);
    req.prepare.sql = protoText(sql);
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_STMT, "%s",
                 w.resp.type == 0 ? w.resp.failure.message.data : "");
    if (n_params != NULL) {
        *n_params = w.resp.stmt.n_params;
    }
    return w.resp.stmt.stmt_id;
}

Test(gateway, prepared_statements_lifecycle)
{
    uint64_t n_params;
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (n INT)", NULL, NULL);
    uint32_t id = prepare("INSERT INTO t VALUES (?)", &n_params);
    cr_assert_eq(id, 0, "the first statement id is 0");
    cr_assert_eq(n_params, 1);
    struct proto_value v = {.type = PROTO_INTEGER, .integer = 7};
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_EXEC);
    req.exec.stmt_id = id;
    protoParamsSet(&req.exec.params, &v, 1);
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_RESULT);
    cr_assert_eq(w.resp.result.rows_affected, 1);
    protoRequestInit(&req, PROTO_REQ_FINALIZE);
    req.finalize.stmt_id = id;
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_EMPTY);
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 12);
    expectText(w.resp.failure.message, "no statement with the given id");
}

Test(gateway, prepare_errors)
{
    struct proto_request req;
    wireOpenDb(&w, "test");
    protoRequestInit(&req, PROTO_REQ_PREPARE);
    req.prepare.sql = protoText("  -- nothing\n");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 0);
    expectText(w.resp.failure.message, "empty statement");
    req.prepare.sql = protoText("SELECT * FROM missing");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1);
    expectText(w.resp.failure.message, "no such table: missing");
    req.prepare.sql = protoText("SELECT 1; SELECT 2");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1);
    expectText(w.resp.failure.message, "nonempty statement tail");
}

Test(gateway, exec_errors)
{
    struct proto_request req;
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (n INT UNIQUE)", NULL, NULL);
    wireExecSql(&w, "INSERT INTO t VALUES (1)", NULL, NULL);
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText("INSERT INTO t VALUES (1)");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 2067);
    expectText(w.resp.failure.message, "UNIQUE constraint failed: t.n");
    req.exec_sql.sql = protoText("SELECT 1");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1);
    struct proto_value v[2] = {{.type = PROTO_INTEGER, .integer = 1},
                               {.type = PROTO_INTEGER, .integer = 2}};
    req.exec_sql.sql = protoText("INSERT INTO t VALUES (?)");
    protoParamsSet(&req.exec_sql.params, v, 2);
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 25);
    expectText(w.resp.failure.message, "column index out of range");
}

Test(gateway, exec_sql_runs_every_statement_with_its_parameters)
{
    uint64_t last_id, changes;
    struct proto_value v[3] = {{.type = PROTO_INTEGER, .integer = 10},
                               {.type = PROTO_INTEGER, .integer = 20},
                               {.type = PROTO_INTEGER, .integer = 30}};
    wireOpenDb(&w, "test");
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText("CREATE TABLE t (n INT); INSERT INTO t "
                                 "VALUES (?); INSERT INTO t VALUES (?), (?)");
    protoParamsSet(&req.exec_sql.params, v, 3);
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_RESULT);
    cr_assert_eq(w.resp.result.last_insert_id, 3);
    cr_assert_eq(w.resp.result.rows_affected, 2);
    wireExecSql(&w, "DELETE FROM t WHERE n > 15\n-- trailing comment\n",
                &last_id, &changes);
    cr_assert_eq(changes, 2, "results of the last real statement");
}

/* Reads ROWS batches until DONE; returns the number of rows, checks that
 * every row has one integer column counting from 0. */
static uint64_t readRows(unsigned *batches)
{
    uint64_t n = 0;
    *batches = 0;
    for (;;) {
        cr_assert(wireRecv(&w));
        cr_assert_eq(w.resp.type, PROTO_RESP_ROWS, "type %u", w.resp.type);
        struct proto_rows_iter it;
        struct proto_value row[1];
        protoRowsIterInit(&it, &w.resp.rows);
        while (protoRowsIterNext(&it, row)) {
            cr_assert_eq(row[0].integer, (int64_t)n);
            n++;
        }
        (*batches)++;
        if (w.resp.rows.done) {
            return n;
        }
    }
}

Test(gateway, query_streams_batches)
{
    unsigned batches;
    wireOpenDb(&w, "test");
    wireExecSql(&w,
                "CREATE TABLE t (n INT); WITH RECURSIVE c(x) AS (SELECT 0 "
                "UNION ALL SELECT x + 1 FROM c WHERE x < 49999) INSERT INTO t "
                "SELECT x FROM c",
                NULL, NULL);
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText("SELECT n FROM t ORDER BY n");
    wireSend(&w, &req);
    cr_assert_eq(readRows(&batches), 50000);
    cr_assert_gt(batches, 1, "a large result comes in several batches");
}

Test(gateway, query_types_follow_declared_columns)
{
    wireOpenDb(&w, "test");
    wireExecSql(&w,
                "CREATE TABLE t (d DATETIME, b BOOLEAN, f FLOAT, x BLOB, "
                "e DATETIME); INSERT INTO t VALUES ('2023-05-17 12:34:56', "
                "1, 1.5, x'0102', NULL)",
                NULL, NULL);
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText("SELECT d, b, f, x, e, 5 FROM t");
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_ROWS);
    struct proto_rows_iter it;
    struct proto_value row[6];
    protoRowsIterInit(&it, &w.resp.rows);
    cr_assert(protoRowsIterNext(&it, row));
    cr_assert_eq(row[0].type, PROTO_ISO8601);
    cr_assert_eq(row[1].type, PROTO_BOOLEAN);
    cr_assert(row[1].boolean);
    cr_assert_eq(row[2].type, PROTO_FLOAT);
    cr_assert_eq(row[3].type, PROTO_BLOB);
    cr_assert_eq(row[4].type, PROTO_ISO8601, "NULL datetime is ISO8601 ''");
    cr_assert_eq(row[4].text.len, 0);
    cr_assert_eq(row[5].type, PROTO_INTEGER);
}

Test(gateway, query_errors)
{
    struct proto_request req;
    wireOpenDb(&w, "test");
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText("");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 0);
    req.query_sql.sql = protoText("CREATE TABLE z (n)");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1, "zero columns are refused");
    req.query_sql.sql = protoText("SELECT 1; SELECT 2");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1);
    protoRequestInit(&req, PROTO_REQ_QUERY);
    req.query.stmt_id = 99;
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 12);
}

Test(gateway, interrupt_stops_a_stream)
{
    wireOpenDb(&w, "test");
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText(
        "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < 999999) SELECT x FROM c");
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_ROWS);
    cr_assert(!w.resp.rows.done);
    sendSimple(PROTO_REQ_INTERRUPT, 0);
    unsigned batches = 0;
    do {
        cr_assert(wireRecv(&w));
        batches++;
    } while (w.resp.type == PROTO_RESP_ROWS && !w.resp.rows.done);
    cr_assert_eq(w.resp.type, PROTO_RESP_EMPTY, "INTERRUPT answered");
    cr_assert_lt(batches, 1000, "the stream stopped early");
    sendSimple(PROTO_REQ_INTERRUPT, 0);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_EMPTY, "idle INTERRUPT");
}

Test(gateway, dump_returns_main_file_and_wal)
{
    wireOpenDb(&w, "test.db");
    wireExecSql(&w, "CREATE TABLE test (n INT)", NULL, NULL);
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_DUMP);
    req.dump.name = protoText("test.db");
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_FILES);
    struct proto_files_iter it;
    struct proto_file f;
    protoFilesIterInit(&it, &w.resp.files);
    cr_assert(protoFilesIterNext(&it, &f));
    expectText(f.name, "test.db");
    cr_assert_eq(f.size, 4096);
    cr_assert(protoFilesIterNext(&it, &f));
    expectText(f.name, "test.db-wal");
    cr_assert_eq(f.size, 8272);
    req.dump.name = protoText("missing");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1002);
}

Test(gateway, cluster_describe_weight)
{
    sendSimple(PROTO_REQ_CLUSTER, 1);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_SERVERS);
    cr_assert_eq(w.resp.servers.count, 1);
    sendSimple(PROTO_REQ_CLUSTER, 2);
    cr_assert_eq(wireExpectFailure(&w), 1005);
    sendSimple(PROTO_REQ_WEIGHT, 17);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_EMPTY);
    sendSimple(PROTO_REQ_DESCRIBE, 0);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_METADATA);
    cr_assert_eq(w.resp.metadata.weight, 17);
    sendSimple(PROTO_REQ_DESCRIBE, 1);
    cr_assert_eq(wireExpectFailure(&w), 15);
    expectText(w.resp.failure.message, "bad format version");
    sendSimple(PROTO_REQ_LEADER, 0);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_SERVER, "only the FAILURE was sent");
}

Test(gateway, membership_misuse)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_ADD);
    req.add.id = 1;
    req.add.address = protoText("@elsewhere");
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1);
    expectText(w.resp.failure.message, "server ID already in use");
    req.add.id = 2;
    req.add.address = protoText(node.address);
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1);
    expectText(w.resp.failure.message, "server address already in use");
    sendSimple(PROTO_REQ_REMOVE, 99);
    cr_assert_eq(wireExpectFailure(&w), 1);
    protoRequestInit(&req, PROTO_REQ_ASSIGN);
    req.assign.id = 1;
    req.assign.has_role = true;
    req.assign.role = 7;
    wireSend(&w, &req);
    cr_assert_eq(wireExpectFailure(&w), 1);
    expectText(w.resp.failure.message, "server role is not valid");
}

Test(gateway, writers_queue_instead_of_failing)
{
    struct wire other;
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (n INT)", NULL, NULL);
    wireOpen(&other, node.address, PROTO_VERSION);
    wireOpenDb(&other, "test");
    wireExecSql(&w, "BEGIN", NULL, NULL);
    wireExecSql(&w, "INSERT INTO t VALUES (1)", NULL, NULL);
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText("INSERT INTO t VALUES (2)");
    wireSend(&other, &req); /* waits for the lock */
    usleep(100 * 1000);
    wireExecSql(&w, "COMMIT", NULL, NULL);
    cr_assert(wireRecv(&other));
    cr_assert_eq(other.resp.type, PROTO_RESP_RESULT, "the writer waited");
    wireClose(&other);
}

Test(gateway, queued_writer_times_out_with_busy)
{
    struct wire other;
    node.node->busy_timeout_ms = 200;
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (n INT)", NULL, NULL);
    wireOpen(&other, node.address, PROTO_VERSION);
    wireOpenDb(&other, "test");
    wireExecSql(&w, "BEGIN", NULL, NULL);
    wireExecSql(&w, "INSERT INTO t VALUES (1)", NULL, NULL);
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText("INSERT INTO t VALUES (2)");
    wireSend(&other, &req);
    cr_assert_eq(wireExpectFailure(&other), 5);
    wireClose(&other);
}

Test(gateway, closing_a_connection_rolls_its_transaction_back)
{
    struct wire other;
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (n INT)", NULL, NULL);
    wireOpen(&other, node.address, PROTO_VERSION);
    wireOpenDb(&other, "test");
    wireExecSql(&other, "BEGIN", NULL, NULL);
    wireExecSql(&other, "INSERT INTO t VALUES (1)", NULL, NULL);
    wireClose(&other);
    uint64_t changes;
    wireExecSql(&w, "INSERT INTO t VALUES (2)", NULL, &changes);
    cr_assert_eq(changes, 1, "the lock was released");
}

Test(gateway, oversized_request_gets_a_failure_then_close)
{
    uint8_t raw[8] = {0};
    struct proto_header h = {(uint32_t)(PROTO_REQUEST_BODY_MAX / 8 + 1),
                             PROTO_REQ_EXEC_SQL, 0, 0};
    protoHeaderPut(raw, &h);
    wireSendRaw(&w, raw, sizeof raw);
    cr_assert_eq(wireExpectFailure(&w), 18);
    expectText(w.resp.failure.message, "message too large");
    cr_assert(wireClosed(&w));
}

static bool dirHasSnapshot(const char *path)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '^snap-[0-9]*$'", path);
    return system(cmd) == 0;
}

/* Snapshots are taken as entries are applied, the log is compacted behind
 * them, and a restart rebuilds the databases from snapshot + log. */
Test(gateway, snapshots_and_restart_keep_every_row)
{
    wireClose(&w);
    wireNodeStop(&node);
    cr_assert_not_null(mkdtemp(strcpy(node.dir, "/tmp/dqlite-gw-XXXXXX")));
    cr_assert_eq(dqlite_node_create(1, node.address, node.dir, &node.node), 0);
    cr_assert_eq(dqlite_node_set_snapshot_params(node.node, 4, 4), 0);
    cr_assert_eq(dqlite_node_start(node.node), 0);
    wireOpen(&w, node.address, PROTO_VERSION);
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (n INT)", NULL, NULL);
    for (int i = 0; i < 50; i++) {
        wireExecSql(&w, "INSERT INTO t VALUES (1)", NULL, NULL);
    }
    wireClose(&w);
    cr_assert_eq(dqlite_node_stop(node.node), 0);
    dqlite_node_destroy(node.node);
    cr_assert(dirHasSnapshot(node.dir), "a snapshot was written");
    cr_assert_eq(dqlite_node_create(1, node.address, node.dir, &node.node), 0);
    cr_assert_eq(dqlite_node_start(node.node), 0, "%s",
                 dqlite_node_errmsg(node.node));
    wireOpen(&w, node.address, PROTO_VERSION);
    wireOpenDb(&w, "test");
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText("SELECT count(*) FROM t");
    wireSend(&w, &req);
    cr_assert(wireRecv(&w));
    cr_assert_eq(w.resp.type, PROTO_RESP_ROWS);
    struct proto_rows_iter it;
    struct proto_value row[1];
    protoRowsIterInit(&it, &w.resp.rows);
    cr_assert(protoRowsIterNext(&it, row));
    cr_assert_eq(row[0].integer, 50);
}

static void sendQuerySql(struct wire *c, const char *sql)
{
    struct proto_request req;
    protoRequestInit(&req, PROTO_REQ_QUERY_SQL);
    req.query_sql.sql = protoText(sql);
    wireSend(c, &req);
}

/* The answer in c->resp, of one row of one integer column. */
static int64_t respInt(struct wire *c)
{
    struct proto_rows_iter it;
    struct proto_value row[1];
    cr_assert_eq(c->resp.type, PROTO_RESP_ROWS);
    cr_assert(c->resp.rows.done);
    protoRowsIterInit(&it, &c->resp.rows);
    cr_assert(protoRowsIterNext(&it, row));
    cr_assert_eq(row[0].type, PROTO_INTEGER);
    return row[0].integer;
}

static int64_t recvInt(struct wire *c)
{
    cr_assert(wireRecv(c));
    return respInt(c);
}

static int64_t queryInt(struct wire *c, const char *sql)
{
    sendQuerySql(c, sql);
    return recvInt(c);
}

/* Table t of 5000 rows: its cross join is far past the loop's budget. */
static void fillT(void)
{
    wireExecSql(&w,
                "CREATE TABLE t (n INT); WITH RECURSIVE c(x) AS (SELECT 1 "
                "UNION ALL SELECT x + 1 FROM c WHERE x < 5000) INSERT INTO t "
                "SELECT x FROM c",
                NULL, NULL);
    cr_assert_eq(queryInt(&w, "SELECT count(*) FROM t"), 5000);
}

static uint64_t nowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Another connection is answered while the long request just sent on `w`
 * (at `sent_ms`) runs: its answer comes well before half the time `w`'s
 * answer takes. A loop that ran the whole statement itself would answer
 * it only once the statement was done. Reads `w`'s answer into w.resp. */
static void expectLoopFree(uint64_t sent_ms)
{
    struct wire other;
    struct proto_request req;
    wireOpen(&other, node.address, PROTO_VERSION);
    usleep(20 * 1000); /* the long request is under way */
    protoRequestInit(&req, PROTO_REQ_LEADER);
    wireSend(&other, &req);
    cr_assert(wireRecv(&other));
    cr_assert_eq(other.resp.type, PROTO_RESP_SERVER);
    uint64_t other_ms = nowMs() - sent_ms;
    wireClose(&other);
    cr_assert(wireRecv(&w));
    uint64_t long_ms = nowMs() - sent_ms;
    cr_assert_lt(other_ms * 2, long_ms,
                 "answered after %llu ms, the long request after %llu ms",
                 (unsigned long long)other_ms, (unsigned long long)long_ms);
}

/* Short reads start on the loop thread; one that outgrows the loop's
 * budget goes on from its start on the db thread, and gives the same
 * answer, while the loop keeps serving other connections. */
Test(gateway, long_read_answers_right_and_leaves_the_loop_free)
{
    wireOpenDb(&w, "test");
    fillT();
    /* 25 M rows to count before the only row. */
    uint64_t sent_ms = nowMs();
    sendQuerySql(&w, "SELECT count(*) FROM t a, t b");
    expectLoopFree(sent_ms);
    cr_assert_eq(respInt(&w), 25000000);
}

/* A write in autocommit mode also starts on the loop; past the budget its
 * implicit transaction is rolled back and it runs again, once, on the db
 * thread. */
Test(gateway, long_autocommit_write_runs_once_and_leaves_the_loop_free)
{
    struct proto_request req;
    wireOpenDb(&w, "test");
    fillT();
    wireExecSql(&w, "CREATE TABLE u (n INT)", NULL, NULL);
    protoRequestInit(&req, PROTO_REQ_EXEC_SQL);
    req.exec_sql.sql = protoText("INSERT INTO u SELECT count(*) FROM t a, t b");
    uint64_t sent_ms = nowMs();
    wireSend(&w, &req);
    expectLoopFree(sent_ms);
    cr_assert_eq(w.resp.type, PROTO_RESP_RESULT);
    cr_assert_eq(w.resp.result.rows_affected, 1);
    cr_assert_eq(queryInt(&w, "SELECT count(*) FROM u"), 1,
                 "the interrupted try left nothing behind");
    cr_assert_eq(queryInt(&w, "SELECT n FROM u"), 25000000);
}

/* A query that writes (RETURNING) is never run on the loop: its write is
 * replicated and stays. */
Test(gateway, query_that_writes_keeps_its_write)
{
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)", NULL,
                NULL);
    cr_assert_eq(queryInt(&w, "INSERT INTO t (v) VALUES ('a') RETURNING n"), 1);
    cr_assert_eq(queryInt(&w, "INSERT INTO t (v) VALUES ('b') RETURNING n"), 2);
    cr_assert_eq(queryInt(&w, "SELECT count(*) FROM t"), 2);
}
