/*
 * The client-live tests of transactions (begin/commit/rollback through the
 * API and as SQL text, refused options, calls out of order) and of errors:
 * the server's SQLite codes and messages (syntax, unknown table, UNIQUE
 * and NOT NULL constraints, a failed COMMIT) and the client's own
 * refusals (too many parameters, calls while rows are open).
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define DB "live.db"
#define SQLITE_ERROR_CODE 1
#define SQLITE_CONSTRAINT_NOTNULL 1299
#define SQLITE_CONSTRAINT_PRIMARYKEY 1555
#define SQLITE_CONSTRAINT_UNIQUE 2067

static int connectFresh(struct dqlite_conn **conn, const char *table)
{
    char sql[256];
    int rv = dqlite_driver_connect(ctx->driver, DB, conn);
    if (rv == 0) {
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", table);
        rv = liveExec(*conn, sql);
    }
    if (rv == 0) {
        snprintf(sql, sizeof sql,
                 "CREATE TABLE %s (k INTEGER PRIMARY KEY, v TEXT NOT NULL)",
                 table);
        rv = liveExec(*conn, sql);
    }
    return rv;
}

static void testCommitRollback(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_tx_options opts = {.isolation =
                                         DQLITE_CLIENT_ISOLATION_DEFAULT};
    int64_t v = -1;
    CHECK_RC(conn, connectFresh(&conn, "tx"), 0);
    CHECK_RC(conn, dqlite_conn_begin(conn, NULL), 0);
    CHECK(dqlite_conn_in_tx(conn), "not in a transaction after begin");
    CHECK_RC(conn, dqlite_conn_begin(conn, NULL), DQLITE_CLIENT_MISUSE);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO tx VALUES (1, 'one')"), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO tx VALUES (2, 'two')"), 0);
    CHECK_RC(conn, dqlite_conn_commit(conn), 0);
    CHECK(!dqlite_conn_in_tx(conn), "in a transaction after commit");
    CHECK_RC(conn, dqlite_conn_begin(conn, &opts), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO tx VALUES (3, 'three')"), 0);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT count(*) FROM tx", &v), 0);
    CHECK(v == 3, "inside the transaction: %lld rows", (long long)v);
    CHECK_RC(conn, dqlite_conn_rollback(conn), 0);
    CHECK(!dqlite_conn_in_tx(conn), "in a transaction after rollback");
    CHECK_RC(conn, liveQueryInt(conn, "SELECT count(*) FROM tx", &v), 0);
    CHECK(v == 2, "after commit then rollback: %lld rows", (long long)v);
    CHECK_RC(conn, dqlite_conn_commit(conn), DQLITE_CLIENT_MISUSE);
    CHECK_RC(conn, dqlite_conn_rollback(conn), DQLITE_CLIENT_MISUSE);
out:
    dqlite_conn_close(conn);
}

static void testSqlText(void)
{
    struct dqlite_conn *conn = NULL;
    int64_t v = -1;
    CHECK_RC(conn, connectFresh(&conn, "txs"), 0);
    CHECK_RC(conn, liveExec(conn, "  -- comment\n BEGIN"), 0);
    CHECK(dqlite_conn_in_tx(conn), "not in a transaction after BEGIN");
    CHECK_RC(conn, liveExec(conn, "INSERT INTO txs VALUES (1, 'a')"), 0);
    CHECK_RC(conn, liveExec(conn, "COMMIT"), 0);
    CHECK(!dqlite_conn_in_tx(conn), "in a transaction after COMMIT");
    CHECK_RC(conn, liveExec(conn, "BEGIN"), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO txs VALUES (2, 'b')"), 0);
    CHECK_RC(conn, liveExec(conn, "ROLLBACK"), 0);
    CHECK(!dqlite_conn_in_tx(conn), "in a transaction after ROLLBACK");
    CHECK_RC(conn, liveExec(conn, "BEGIN; INSERT INTO txs VALUES (3, 'c')"), 0);
    CHECK_RC(conn, liveExec(conn, "END"), 0);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT sum(k) FROM txs", &v), 0);
    CHECK(v == 4, "sum %lld (want 1 + 3)", (long long)v);
out:
    dqlite_conn_close(conn);
}

static void testTxOptions(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_tx_options ro = {.read_only = true};
    struct dqlite_tx_options iso = {.isolation = 3};
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn, dqlite_conn_begin(conn, &ro), DQLITE_CLIENT_MISUSE);
    CHECK(!dqlite_conn_in_tx(conn), "read-only begin opened a transaction");
    CHECK_RC(conn, dqlite_conn_begin(conn, &iso), DQLITE_CLIENT_MISUSE);
    CHECK(!dqlite_conn_in_tx(conn), "isolation 3 opened a transaction");
out:
    dqlite_conn_close(conn);
}

/* `sql` fails with DQLITE_CLIENT_ERROR, `code` and a message containing
 * `text`. */
static void expectFailure(struct dqlite_conn *conn, const char *sql,
                          uint64_t code, const char *text)
{
    CHECK_RC(conn, liveExec(conn, sql), DQLITE_CLIENT_ERROR);
    CHECK(dqlite_conn_errcode(conn) == code, "%s: code %llu (want %llu): %s",
          sql, (unsigned long long)dqlite_conn_errcode(conn),
          (unsigned long long)code, dqlite_conn_errmsg(conn));
    CHECK(strstr(dqlite_conn_errmsg(conn), text) != NULL,
          "%s: message \"%s\" lacks \"%s\"", sql, dqlite_conn_errmsg(conn),
          text);
out:
    return;
}

static void testServerErrors(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_rows *rows = NULL;
    struct dqlite_stmt *st = NULL;
    CHECK_RC(conn, connectFresh(&conn, "er"), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO er VALUES (1, 'a')"), 0);
    expectFailure(conn, "SELEC 1", SQLITE_ERROR_CODE, "syntax error");
    expectFailure(conn, "INSERT INTO nope VALUES (1)", SQLITE_ERROR_CODE,
                  "no such table: nope");
    expectFailure(conn, "INSERT INTO er VALUES (1, 'b')",
                  SQLITE_CONSTRAINT_PRIMARYKEY,
                  "UNIQUE constraint failed: er.k");
    CHECK_RC(conn, liveExec(conn, "CREATE UNIQUE INDEX er_v ON er (v)"), 0);
    expectFailure(conn, "INSERT INTO er VALUES (5, 'a')",
                  SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: er.v");
    expectFailure(conn, "INSERT INTO er VALUES (2, NULL)",
                  SQLITE_CONSTRAINT_NOTNULL, "NOT NULL constraint failed");
    CHECK(ctx->reason[0] == '\0', "exec errors");
    CHECK_RC(conn,
             dqlite_conn_query(conn, "SELECT * FROM nope", NULL, 0, &rows),
             DQLITE_CLIENT_ERROR);
    CHECK(strstr(dqlite_conn_errmsg(conn), "no such table") != NULL,
          "query message: %s", dqlite_conn_errmsg(conn));
    CHECK_RC(conn, dqlite_conn_prepare(conn, "SELECT FROM", &st),
             DQLITE_CLIENT_ERROR);
    CHECK(dqlite_conn_errcode(conn) == SQLITE_ERROR_CODE, "prepare: code %llu",
          (unsigned long long)dqlite_conn_errcode(conn));
    /* The connection still works after errors. */
    CHECK_RC(conn, liveExec(conn, "INSERT INTO er VALUES (2, 'b')"), 0);
    CHECK(dqlite_conn_errcode(conn) == 0, "errcode kept after success");
out:
    dqlite_conn_close(conn);
}

/* A transaction whose COMMIT fails (deferred foreign key) is over. */
static void testCommitFails(void)
{
    struct dqlite_conn *conn = NULL;
    int64_t v = -1;
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn,
             liveExec(conn, "DROP TABLE IF EXISTS fc; DROP TABLE IF EXISTS fp;"
                            "CREATE TABLE fp (id INTEGER PRIMARY KEY);"
                            "CREATE TABLE fc (p INTEGER REFERENCES fp(id) "
                            "DEFERRABLE INITIALLY DEFERRED)"),
             0);
    CHECK_RC(conn, liveExec(conn, "PRAGMA foreign_keys = ON"), 0);
    CHECK_RC(conn, dqlite_conn_begin(conn, NULL), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO fc VALUES (42)"), 0);
    CHECK_RC(conn, dqlite_conn_commit(conn), DQLITE_CLIENT_ERROR);
    CHECK(strstr(dqlite_conn_errmsg(conn), "FOREIGN KEY") != NULL,
          "commit message: %s", dqlite_conn_errmsg(conn));
    CHECK(!dqlite_conn_in_tx(conn), "in a transaction after a failed commit");
    CHECK_RC(conn, liveQueryInt(conn, "SELECT count(*) FROM fc", &v), 0);
    CHECK(v == 0, "%lld rows kept by a failed commit", (long long)v);
out:
    dqlite_conn_close(conn);
}

/* One more parameter than the wire's 4-byte-count tuple carries. */
#define TOO_MANY_PARAMS 250001

static void testClientRefusals(void)
{
    static struct dqlite_value many[TOO_MANY_PARAMS];
    struct dqlite_conn *conn = NULL;
    struct dqlite_rows *rows = NULL;
    struct dqlite_value bad = {.type = 42};
    unsigned i;
    for (i = 0; i < TOO_MANY_PARAMS; i++) {
        many[i].type = DQLITE_CLIENT_NULL;
    }
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn,
             dqlite_conn_exec(conn, "SELECT ?", many, TOO_MANY_PARAMS, NULL),
             DQLITE_CLIENT_MISUSE);
    CHECK(strstr(dqlite_conn_errmsg(conn), "too many") != NULL, "message: %s",
          dqlite_conn_errmsg(conn));
    CHECK_RC(conn, dqlite_conn_exec(conn, "SELECT ?", &bad, 1, NULL),
             DQLITE_CLIENT_MISUSE);
    CHECK_RC(conn, dqlite_conn_query(conn, "SELECT 1", NULL, 0, &rows), 0);
    CHECK_RC(conn, liveExec(conn, "CREATE TABLE IF NOT EXISTS cr (x)"),
             DQLITE_CLIENT_MISUSE);
    CHECK(strstr(dqlite_conn_errmsg(conn), "result set") != NULL, "message: %s",
          dqlite_conn_errmsg(conn));
    CHECK_RC(conn, dqlite_rows_close(rows), 0);
    rows = NULL;
    CHECK_RC(conn, liveExec(conn, "CREATE TABLE IF NOT EXISTS cr (x)"), 0);
out:
    dqlite_rows_close(rows);
    dqlite_conn_close(conn);
}

void liveTxTests(void)
{
    liveRun("tx.begin-commit-rollback", testCommitRollback);
    liveRun("tx.sql-text", testSqlText);
    liveRun("tx.refused-options", testTxOptions);
    liveRun("tx.failed-commit", testCommitFails);
}

void liveErrorTests(void)
{
    liveRun("errors.server-codes", testServerErrors);
    liveRun("errors.client-refusals", testClientRefusals);
}
