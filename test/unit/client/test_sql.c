/* SQL on a connection: parameters of every type, results, server errors,
 * not-leader retries, transactions cut by a leader change, per-call
 * timeouts with INTERRUPT, prepared statements. */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "proto/params.h"
#include "proto/wire.h"
#include "tcluster.h"

TestSuite(sql, .init = fakeWatchdog);

static struct tcluster *tc;
static struct dqlite_conn *conn;

static void start(int n, tnode_hook hook)
{
    tc = tclusterStart(n, NULL);
    tc->hook = hook;
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
}

static void stop(void)
{
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

/* ------------------------------------------------------------ params */

static bool checkParams(struct fake_conn *fc, struct tnode *node)
{
    struct proto_params_iter it;
    struct proto_value v;
    int ok = 0;
    (void)node;
    if (fc->req.type != PROTO_REQ_EXEC_SQL) {
        return false;
    }
    cr_assert_str_eq(fc->req.exec_sql.sql.data, "INSERT INTO t VALUES (?)");
    protoParamsIterInit(&it, &fc->req.exec_sql.params);
    ok += protoParamsIterNext(&it, &v) && v.type == PROTO_INTEGER &&
          v.integer == -42;
    ok +=
        protoParamsIterNext(&it, &v) && v.type == PROTO_FLOAT && v.real == 3.5;
    ok += protoParamsIterNext(&it, &v) && v.type == PROTO_TEXT &&
          strcmp(v.text.data, "hello") == 0;
    ok += protoParamsIterNext(&it, &v) && v.type == PROTO_BLOB &&
          v.blob.len == 3 && memcmp(v.blob.data, "\1\2\3", 3) == 0;
    ok += protoParamsIterNext(&it, &v) && v.type == PROTO_NULL;
    ok += protoParamsIterNext(&it, &v) && v.type == PROTO_BOOLEAN && v.boolean;
    ok += protoParamsIterNext(&it, &v) && v.type == PROTO_ISO8601 &&
          strcmp(v.text.data, "2023-05-17 12:34:56+00:00") == 0;
    ok += !protoParamsIterNext(&it, &v);
    fakeSendResult(fc, 7, ok == 8 ? 3 : 0);
    return true;
}

Test(sql, exec_sends_every_parameter_type)
{
    struct dqlite_value p[7];
    struct dqlite_result res;
    memset(p, 0, sizeof p);
    p[0].type = DQLITE_CLIENT_INTEGER;
    p[0].integer = -42;
    p[1].type = DQLITE_CLIENT_FLOAT;
    p[1].real = 3.5;
    p[2].type = DQLITE_CLIENT_TEXT;
    p[2].text.data = "hello";
    p[2].text.len = 5;
    p[3].type = DQLITE_CLIENT_BLOB;
    p[3].blob.data = "\1\2\3";
    p[3].blob.len = 3;
    p[4].type = DQLITE_CLIENT_NULL;
    p[5].type = DQLITE_CLIENT_BOOLEAN;
    p[5].boolean = true;
    p[6].type = DQLITE_CLIENT_ISO8601;
    p[6].text.data = "2023-05-17 12:34:56+00:00";
    p[6].text.len = strlen(p[6].text.data);
    start(1, checkParams);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT INTO t VALUES (?)", p, 7, &res),
                 0, "%s", dqlite_conn_errmsg(conn));
    cr_assert_eq(res.last_insert_id, 7);
    cr_assert_eq(res.rows_affected, 3);
    stop();
}

Test(sql, refuses_bad_parameters_without_sending)
{
    unsigned n = PROTO_PARAMS_MAX + 1;
    struct dqlite_value *p = calloc(n, sizeof *p);
    cr_assert_not_null(p);
    for (unsigned i = 0; i < n; i++) {
        p[i].type = DQLITE_CLIENT_NULL;
    }
    start(1, NULL);
    cr_assert_eq(dqlite_conn_exec(conn, "SELECT 1", p, n, NULL),
                 DQLITE_CLIENT_MISUSE);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "too many") != NULL);
    p[0].type = DQLITE_CLIENT_UNIXTIME;
    cr_assert_eq(dqlite_conn_exec(conn, "SELECT 1", p, 1, NULL),
                 DQLITE_CLIENT_MISUSE);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_EXEC_SQL), 0);
    stop();
    free(p);
}

/* Answers an EXEC_SQL or EXEC with changes = the number of parameters when
 * they are 0, 1, 2, ... in order, in a tuple of the schema their count
 * needs (1 above 255), and 0 otherwise. */
static bool checkManyParams(struct fake_conn *fc, struct tnode *node)
{
    const struct proto_params *params;
    struct proto_params_iter it;
    struct proto_value v;
    uint32_t i = 0;
    bool ok;
    (void)node;
    if (fc->req.type == PROTO_REQ_EXEC_SQL) {
        params = &fc->req.exec_sql.params;
    } else if (fc->req.type == PROTO_REQ_EXEC) {
        params = &fc->req.exec.params;
    } else {
        return false;
    }
    ok = fc->req.schema == (params->count > 255 ? 1 : 0);
    protoParamsIterInit(&it, params);
    while (protoParamsIterNext(&it, &v)) {
        ok = ok && v.type == PROTO_INTEGER && v.integer == (int64_t)i;
        i++;
    }
    fakeSendResult(fc, 1, ok && i == params->count ? i : 0);
    return true;
}

Test(sql, more_than_255_parameters_travel_in_a_wide_tuple)
{
    static const unsigned counts[] = {255, 256, 300, 5000};
    struct dqlite_value p[5000];
    struct dqlite_result res;
    struct dqlite_stmt *stmt;
    for (unsigned i = 0; i < 5000; i++) {
        p[i].type = DQLITE_CLIENT_INTEGER;
        p[i].integer = i;
    }
    start(1, checkManyParams);
    for (unsigned k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        res.rows_affected = -1;
        cr_assert_eq(dqlite_conn_exec(conn, "INSERT", p, counts[k], &res), 0,
                     "%u parameters: %s", counts[k], dqlite_conn_errmsg(conn));
        cr_assert_eq(res.rows_affected, counts[k]);
    }
    cr_assert_eq(dqlite_conn_prepare(conn, "INSERT", &stmt), 0);
    cr_assert_eq(dqlite_stmt_exec(stmt, p, 300, &res), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(res.rows_affected, 300);
    cr_assert_eq(dqlite_stmt_close(stmt), 0);
    stop();
}

/* ------------------------------------------------------------ errors */

static bool failUnique(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (fc->req.type != PROTO_REQ_EXEC_SQL) {
        return false;
    }
    fakeSendFailure(fc, 2067, "UNIQUE constraint failed: u.v");
    return true;
}

Test(sql, server_failure_carries_code_and_message)
{
    start(1, failUnique);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_ERROR);
    cr_assert_eq(dqlite_conn_errcode(conn), 2067);
    cr_assert_str_eq(dqlite_conn_errmsg(conn), "UNIQUE constraint failed: u.v");
    /* The connection is still good. */
    struct dqlite_rows *rows;
    cr_assert_eq(dqlite_conn_query(conn, "SELECT 1", NULL, 0, &rows), 0);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    stop();
}

/* The leader steps down when it sees the first EXEC_SQL. */
static bool stepDown(struct fake_conn *fc, struct tnode *node)
{
    if (fc->req.type != PROTO_REQ_EXEC_SQL || node->index != 0 ||
        tclusterLeader(node->tc) != 0) {
        return false;
    }
    tclusterSetLeader(node->tc, 1);
    fakeSendFailure(fc, 10250, "not leader");
    return true;
}

Test(sql, not_leader_outside_a_transaction_is_retried_on_the_new_leader)
{
    struct dqlite_result res;
    start(2, stepDown);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, &res), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 1);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_OPEN), 1);
    stop();
}

static bool loseLeadership(struct fake_conn *fc, struct tnode *node)
{
    if (fc->req.type != PROTO_REQ_EXEC_SQL || node->index != 0 ||
        tclusterLeader(node->tc) != 0) {
        return false;
    }
    tclusterSetLeader(node->tc, 1);
    fakeSendFailure(fc, 10506, "leadership lost");
    return true;
}

Test(sql, leadership_lost_is_reported_then_the_next_call_reconnects)
{
    start(2, loseLeadership);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_NOTLEADER);
    cr_assert_eq(dqlite_conn_errcode(conn), 10506);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 0);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 1);
    cr_assert_str_eq(dqlite_conn_errmsg(conn), "not an error");
    stop();
}

/* ------------------------------------------------------------ tx */

/* Steps down at the first INSERT (inside the transaction). */
static bool stepDownOnInsert(struct fake_conn *fc, struct tnode *node)
{
    if (fc->req.type != PROTO_REQ_EXEC_SQL ||
        strcmp(fc->req.exec_sql.sql.data, "INSERT") != 0 || node->index != 0 ||
        tclusterLeader(node->tc) != 0) {
        return false;
    }
    tclusterSetLeader(node->tc, 1);
    fakeSendFailure(fc, 10250, "not leader");
    return true;
}

Test(sql, transaction_cut_by_a_leader_change_fails_clearly)
{
    start(2, stepDownOnInsert);
    cr_assert_eq(dqlite_conn_begin(conn, NULL), 0);
    cr_assert(dqlite_conn_in_tx(conn));
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_TXCUT);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "transaction cut") != NULL, "%s",
              dqlite_conn_errmsg(conn));
    cr_assert_eq(dqlite_conn_errcode(conn), 10250);
    /* Never reconnected inside the transaction. */
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_TXCUT);
    cr_assert_eq(dqlite_conn_commit(conn), DQLITE_CLIENT_TXCUT);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_CLIENT), 0);
    cr_assert_eq(dqlite_conn_rollback(conn), 0);
    cr_assert(!dqlite_conn_in_tx(conn));
    /* Between transactions: reconnects to the new leader. */
    cr_assert_eq(dqlite_conn_begin(conn, NULL), 0);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0);
    cr_assert_eq(dqlite_conn_commit(conn), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 3);
    stop();
}

Test(sql, transaction_options_and_order)
{
    struct dqlite_tx_options ro = {.read_only = true};
    struct dqlite_tx_options iso = {.isolation = 3};
    start(1, NULL);
    cr_assert_eq(dqlite_conn_begin(conn, &ro), DQLITE_CLIENT_MISUSE);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "read-only") != NULL);
    cr_assert_eq(dqlite_conn_begin(conn, &iso), DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_conn_commit(conn), DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_conn_rollback(conn), DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_conn_begin(conn, NULL), 0);
    cr_assert_eq(dqlite_conn_begin(conn, NULL), DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_conn_rollback(conn), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_EXEC_SQL), 2);
    stop();
}

Test(sql, lost_connection_cuts_the_transaction)
{
    start(2, NULL);
    cr_assert_eq(dqlite_conn_begin(conn, NULL), 0);
    tclusterSetLeader(tc, 1);
    fakeStop(tc->nodes[0].srv); /* the leader dies */
    tc->nodes[0].srv = fakeStart(NULL, NULL);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_TXCUT);
    cr_assert_eq(dqlite_conn_rollback(conn), 0);
    stop();
}

/* ------------------------------------------------------------ timeout */

/* Answers EXEC_SQL only once INTERRUPT arrives (as a server whose
 * statement was interrupted): the FAILURE, then INTERRUPT's EMPTY. */
static bool slowExec(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    if (fc->req.type != PROTO_REQ_EXEC_SQL ||
        strcmp(fc->req.exec_sql.sql.data, "SLOW") != 0) {
        return false;
    }
    if (fakeRecv(fc) != 0 || fc->req.type != PROTO_REQ_INTERRUPT) {
        return true;
    }
    fakeSendFailure(fc, 9, "interrupted");
    fakeSendEmpty(fc);
    return true;
}

Test(sql, timeout_sends_interrupt_and_keeps_the_connection)
{
    int64_t start_ms;
    start(1, slowExec);
    dqlite_conn_set_timeout(conn, 200);
    start_ms = clientNowMs();
    cr_assert_eq(dqlite_conn_exec(conn, "SLOW", NULL, 0, NULL),
                 DQLITE_CLIENT_TIMEOUT);
    cr_assert_geq(clientNowMs() - start_ms, 200);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "timed out") != NULL);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_INTERRUPT), 1);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0);
    cr_assert_eq(fakeConns(tc->nodes[0].srv), 1);
    stop();
}

static bool silent(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    return fc->req.type == PROTO_REQ_EXEC_SQL ||
           fc->req.type == PROTO_REQ_INTERRUPT;
}

Test(sql, timeout_with_a_dead_server_closes_the_connection)
{
    start(1, silent);
    dqlite_conn_set_timeout(conn, 100);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_TIMEOUT);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "connection closed") != NULL);
    stop();
}

/* ------------------------------------------------------------ stmts */

Test(sql, prepared_statement_exec_query_close)
{
    struct dqlite_stmt *stmt;
    struct dqlite_rows *rows;
    struct dqlite_value p[2] = {{.type = DQLITE_CLIENT_INTEGER},
                                {.type = DQLITE_CLIENT_NULL}};
    struct dqlite_result res;
    start(1, NULL);
    cr_assert_eq(dqlite_conn_prepare(conn, "SELECT ?, ?", &stmt), 0);
    cr_assert_eq(dqlite_stmt_num_input(stmt), 2);
    cr_assert_eq(dqlite_stmt_exec(stmt, p, 2, &res), 0);
    cr_assert_eq(res.rows_affected, 1);
    cr_assert_eq(dqlite_stmt_query(stmt, p, 2, &rows), 0);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    cr_assert_eq(dqlite_stmt_close(stmt), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_EXEC), 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_QUERY), 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_FINALIZE), 1);
    stop();
}

Test(sql, statement_is_prepared_again_after_a_leader_change)
{
    struct dqlite_stmt *stmt;
    start(2, stepDown);
    cr_assert_eq(dqlite_conn_prepare(conn, "INSERT ?", &stmt), 0);
    cr_assert_eq(dqlite_conn_exec(conn, "X", NULL, 0, NULL), 0); /* moves */
    cr_assert_eq(dqlite_stmt_exec(stmt, NULL, 0, NULL), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_PREPARE), 1);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC), 1);
    cr_assert_eq(dqlite_stmt_close(stmt), 0);
    stop();
}

Test(sql, idle_connection_to_a_dead_leader_moves_transparently)
{
    start(2, NULL);
    tclusterSetLeader(tc, 1);
    fakeStop(tc->nodes[0].srv); /* the leader dies while we are idle */
    tc->nodes[0].srv = fakeStart(NULL, NULL);
    clientSleepMs(50);
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 1);
    stop();
}

/* ------------------------------------------------------------ threads */

struct worker {
    struct dqlite_driver *driver;
    int failures;
};

static void *workerMain(void *arg)
{
    struct worker *w = arg;
    struct dqlite_conn *c;
    struct dqlite_rows *rows;
    if (dqlite_driver_connect(w->driver, "test", &c) != 0) {
        w->failures++;
    }
    for (int i = 0; i < 50; i++) {
        w->failures += dqlite_conn_exec(c, "INSERT", NULL, 0, NULL) != 0;
        if (dqlite_conn_query(c, "SELECT 1", NULL, 0, &rows) != 0) {
            w->failures++;
            continue;
        }
        w->failures += dqlite_rows_next(rows) != DQLITE_CLIENT_ROW;
        dqlite_rows_close(rows);
    }
    dqlite_conn_close(c);
    return NULL;
}

Test(sql, one_driver_shared_by_threads)
{
    struct worker w[4];
    pthread_t t[4];
    tc = tclusterStart(2, NULL);
    for (int i = 0; i < 4; i++) {
        w[i].driver = tc->driver;
        w[i].failures = 0;
        pthread_create(&t[i], NULL, workerMain, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].failures, 0);
    }
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_EXEC_SQL), 200);
    tclusterStop(tc);
}

Test(sql, transactions_begun_with_sql_text_are_tracked_too)
{
    start(2, stepDownOnInsert);
    cr_assert_eq(
        dqlite_conn_exec(conn, " -- mine\n begin IMMEDIATE", NULL, 0, NULL), 0);
    cr_assert(dqlite_conn_in_tx(conn));
    cr_assert_eq(dqlite_conn_exec(conn, "INSERT", NULL, 0, NULL),
                 DQLITE_CLIENT_TXCUT);
    cr_assert_eq(dqlite_conn_exec(conn, "COMMIT", NULL, 0, NULL),
                 DQLITE_CLIENT_TXCUT);
    cr_assert_eq(
        dqlite_conn_exec(conn, "/* */ ROLLBACK TRANSACTION", NULL, 0, NULL), 0);
    cr_assert(!dqlite_conn_in_tx(conn));
    cr_assert_eq(dqlite_conn_exec(conn, "BEGIN", NULL, 0, NULL), 0);
    cr_assert_eq(dqlite_conn_exec(conn, "ROLLBACK TO sp", NULL, 0, NULL), 0);
    cr_assert(dqlite_conn_in_tx(conn));
    cr_assert_eq(dqlite_conn_exec(conn, "end", NULL, 0, NULL), 0);
    cr_assert(!dqlite_conn_in_tx(conn));
    cr_assert_eq(dqlite_conn_exec(conn, "BEGINNING", NULL, 0, NULL), 0);
    cr_assert(!dqlite_conn_in_tx(conn));
    stop();
}
