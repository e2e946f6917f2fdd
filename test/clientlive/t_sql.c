/*
 * The client-live tests of SQL on a connection: connect and its refusals,
 * exec with results and parameters (positional and named), prepared
 * statements (NumInput, rebinding, reuse), transactions (begin, commit,
 * rollback, SQL-text BEGIN/COMMIT, refused options) and the server's
 * errors with SQLite's codes and messages.
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define DB "live.db"

static struct dqlite_value intValue(int64_t v)
{
    struct dqlite_value value = {.type = DQLITE_CLIENT_INTEGER};
    value.integer = v;
    return value;
}

static struct dqlite_value textValue(const char *s)
{
    struct dqlite_value value = {.type = DQLITE_CLIENT_TEXT};
    value.text.data = s;
    value.text.len = strlen(s);
    return value;
}

static void testConnect(void)
{
    struct dqlite_conn *conn = NULL;
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, "dir/x.db", &conn),
             DQLITE_CLIENT_MISUSE);
    dqlite_conn_close(conn);
    conn = NULL;
    CHECK_RC(conn,
             dqlite_driver_connect(ctx->driver, "file:x.db?mode=memory", &conn),
             DQLITE_CLIENT_MISUSE);
    dqlite_conn_close(conn);
    conn = NULL;
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK(!dqlite_conn_in_tx(conn), "a new connection is in a transaction");
out:
    dqlite_conn_close(conn);
}

static void testExec(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_result res = {0};
    struct dqlite_value params[2];
    int64_t v = 0;
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn, liveExec(conn, "DROP TABLE IF EXISTS ex"), 0);
    CHECK_RC(conn,
             liveExec(conn, "CREATE TABLE ex (id INTEGER PRIMARY KEY, "
                            "k TEXT UNIQUE NOT NULL, n INTEGER)"),
             0);
    params[0] = textValue("a");
    params[1] = intValue(10);
    CHECK_RC(conn,
             dqlite_conn_exec(conn, "INSERT INTO ex (k, n) VALUES (?, ?)",
                              params, 2, &res),
             0);
    CHECK(res.last_insert_id == 1 && res.rows_affected == 1,
          "insert: last id %lld, affected %lld", (long long)res.last_insert_id,
          (long long)res.rows_affected);
    /* Several statements in one call. */
    CHECK_RC(conn,
             liveExec(conn, "INSERT INTO ex (k, n) VALUES ('b', 20); "
                            "INSERT INTO ex (k, n) VALUES ('c', 30)"),
             0);
    params[0] = intValue(5);
    CHECK_RC(conn,
             dqlite_conn_exec(conn, "UPDATE ex SET n = n + ?", params, 1, &res),
             0);
    CHECK(res.rows_affected == 3, "update: affected %lld",
          (long long)res.rows_affected);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT sum(n) FROM ex", &v), 0);
    CHECK(v == 75, "sum %lld (want 75)", (long long)v);
    /* NULL result pointer is accepted. */
    CHECK_RC(
        conn,
        dqlite_conn_exec(conn, "DELETE FROM ex WHERE k = 'c'", NULL, 0, NULL),
        0);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT count(*) FROM ex", &v), 0);
    CHECK(v == 2, "count %lld after delete", (long long)v);
out:
    dqlite_conn_close(conn);
}

/* ?NNN, :name, @name and $name bind by position. */
static void testNamedParams(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_rows *rows = NULL;
    struct dqlite_value params[3] = {intValue(1), intValue(20), textValue("x")};
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(
        conn,
        dqlite_conn_query(conn, "SELECT :a + @b, $c || ?3", params, 3, &rows),
        0);
    CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    CHECK(dqlite_rows_int64(rows, 0) == 21, "got %lld",
          (long long)dqlite_rows_int64(rows, 0));
    CHECK(dqlite_rows_text(rows, 1) != NULL &&
              strcmp(dqlite_rows_text(rows, 1), "xx") == 0,
          "got %s", dqlite_rows_text(rows, 1));
    CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
out:
    dqlite_rows_close(rows);
    dqlite_conn_close(conn);
}

static void stmtInsert(struct dqlite_stmt *st, struct dqlite_conn *conn)
{
    struct dqlite_value params[2];
    struct dqlite_result res = {0};
    int64_t i;
    for (i = 1; i <= 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%lld", (long long)i);
        params[0] = textValue(k);
        params[1] = intValue(i * 100);
        CHECK_RC(conn, dqlite_stmt_exec(st, params, 2, &res), 0);
        CHECK(res.rows_affected == 1 && res.last_insert_id == i,
              "row %lld: last id %lld, affected %lld", (long long)i,
              (long long)res.last_insert_id, (long long)res.rows_affected);
    }
out:
    return;
}

static void stmtSelect(struct dqlite_stmt *st, struct dqlite_conn *conn)
{
    struct dqlite_rows *rows = NULL;
    struct dqlite_value p;
    int64_t i;
    for (i = 5; i >= 1; i--) { /* rebinding changes the answer */
        char k[8];
        snprintf(k, sizeof k, "k%lld", (long long)i);
        p = textValue(k);
        CHECK_RC(conn, dqlite_stmt_query(st, &p, 1, &rows), 0);
        CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
        CHECK(dqlite_rows_int64(rows, 0) == i * 100, "%s: %lld", k,
              (long long)dqlite_rows_int64(rows, 0));
        CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
        CHECK_RC(conn, dqlite_rows_close(rows), 0);
        rows = NULL;
    }
out:
    dqlite_rows_close(rows);
}

static void testStmt(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_stmt *ins = NULL;
    struct dqlite_stmt *sel = NULL;
    struct dqlite_stmt *wide = NULL;
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn, liveExec(conn, "DROP TABLE IF EXISTS st"), 0);
    CHECK_RC(conn, liveExec(conn, "CREATE TABLE st (k TEXT, v INTEGER)"), 0);
    CHECK_RC(conn,
             dqlite_conn_prepare(conn, "INSERT INTO st VALUES (?, ?)", &ins),
             0);
    CHECK(dqlite_stmt_num_input(ins) == 2, "insert NumInput %u",
          dqlite_stmt_num_input(ins));
    CHECK_RC(conn,
             dqlite_conn_prepare(conn, "SELECT v FROM st WHERE k = :k", &sel),
             0);
    CHECK(dqlite_stmt_num_input(sel) == 1, "select NumInput %u",
          dqlite_stmt_num_input(sel));
    CHECK_RC(conn, dqlite_conn_prepare(conn, "SELECT ?7, ?2", &wide), 0);
    CHECK(dqlite_stmt_num_input(wide) == 7, "?7 NumInput %u",
          dqlite_stmt_num_input(wide));
    stmtInsert(ins, conn);
    CHECK(ctx->reason[0] == '\0', "inserts");
    stmtSelect(sel, conn);
    CHECK(ctx->reason[0] == '\0', "selects");
    CHECK(dqlite_stmt_close(wide) == 0, "close: %s", dqlite_conn_errmsg(conn));
    wide = NULL;
out:
    dqlite_stmt_close(wide);
    dqlite_stmt_close(sel);
    dqlite_stmt_close(ins);
    dqlite_conn_close(conn);
}

void liveSqlTests(void)
{
    liveRun("conn.connect", testConnect);
    liveRun("conn.exec", testExec);
    liveRun("conn.named-params", testNamedParams);
    liveRun("stmt.prepare-rebind", testStmt);
    liveTxTests();
    liveErrorTests();
}
