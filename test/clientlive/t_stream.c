/*
 * The client-live tests of long results and long calls: 100k rows streamed
 * over many batches and checked one by one, a result set closed early
 * (INTERRUPT, the rest discarded), and a query that keeps the node busy far
 * longer than the call's timeout: DQLITE_CLIENT_TIMEOUT after the client
 * sent INTERRUPT and gave up waiting for its acknowledgement, so the
 * connection is dropped and the next call reconnects (the driver's call
 * timeout). The acknowledged INTERRUPT is in t_relay.c.
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define DB "live.db"
#define BIG_ROWS 100000

static void testStream(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_rows *rows = NULL;
    char want[32];
    int64_t n = 0;
    int rc;
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn,
             liveExecSetup(conn,
                           "DROP TABLE IF EXISTS big; CREATE TABLE big (id "
                           "INTEGER PRIMARY KEY, v TEXT);"
                           "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                           "SELECT x + 1 FROM c WHERE x < 100000) "
                           "INSERT INTO big SELECT x, printf('row-%06d', x) "
                           "FROM c"),
             0);
    CHECK_RC(conn,
             dqlite_conn_query(conn, "SELECT id, v FROM big ORDER BY id", NULL,
                               0, &rows),
             0);
    CHECK(dqlite_rows_column_count(rows) == 2 &&
              strcmp(dqlite_rows_column_name(rows, 1), "v") == 0,
          "columns");
    while ((rc = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        n++;
        snprintf(want, sizeof want, "row-%06lld", (long long)n);
        CHECK(dqlite_rows_int64(rows, 0) == n &&
                  strcmp(dqlite_rows_text(rows, 1), want) == 0,
              "row %lld: id %lld, v %s", (long long)n,
              (long long)dqlite_rows_int64(rows, 0), dqlite_rows_text(rows, 1));
    }
    CHECK(rc == DQLITE_CLIENT_DONE, "rows_next returned %d after %lld rows: %s",
          rc, (long long)n, dqlite_conn_errmsg(conn));
    CHECK(n == BIG_ROWS, "%lld rows streamed", (long long)n);
out:
    dqlite_rows_close(rows);
    dqlite_conn_close(conn);
}

static void testEarlyClose(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_rows *rows = NULL;
    int64_t n = 0;
    int i;
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn,
             dqlite_conn_query(conn, "SELECT id, v FROM big ORDER BY id", NULL,
                               0, &rows),
             0);
    for (i = 1; i <= 1000; i++) {
        CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
        CHECK(dqlite_rows_int64(rows, 0) == i, "row %d", i);
    }
    CHECK_RC(conn, dqlite_rows_close(rows), 0);
    rows = NULL;
    CHECK_RC(conn, liveQueryInt(conn, "SELECT count(*) FROM big", &n), 0);
    CHECK(n == BIG_ROWS, "count %lld after an early close", (long long)n);
out:
    dqlite_rows_close(rows);
    dqlite_conn_close(conn);
}

/* A single-row aggregate whose duration grows with n. */
static void slowSql(char *sql, size_t size, int64_t n)
{
    snprintf(sql, size,
             "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
             "WHERE x < %lld) SELECT sum(x) FROM c",
             (long long)n);
}

/* The n for which the slow query takes about `target_ms` here and now:
 * the faster of two probes of 400k, once the server is idle (a query left
 * running by an earlier timeout delays the first SELECT). */
static int calibrate(struct dqlite_conn *conn, unsigned target_ms, int64_t *n)
{
    char sql[256];
    const int64_t probe = 400000;
    int64_t best_ms = INT64_MAX;
    int64_t v;
    int64_t start_ms;
    int i;
    if (liveQueryInt(conn, "SELECT 1", &v) != 0) {
        return -1;
    }
    slowSql(sql, sizeof sql, probe);
    for (i = 0; i < 2; i++) {
        start_ms = liveNowMs();
        if (liveQueryInt(conn, sql, &v) != 0 || v != probe * (probe + 1) / 2) {
            return -1;
        }
        v = liveNowMs() - start_ms;
        best_ms = v < best_ms ? v : best_ms;
    }
    *n = probe * target_ms / (best_ms > 0 ? best_ms : 1);
    *n = *n < probe ? probe : *n > 1000000000 ? 1000000000 : *n;
    return 0;
}

/* A connection of its own driver, with a counting dial and a log. */
struct timed {
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn;
    struct live_dial dial;
    struct live_log log;
};

static int timedOpen(struct timed *t, unsigned call_timeout_ms)
{
    const char *addrs[LIVE_NODES];
    struct dqlite_driver_options opts;
    unsigned i;
    memset(t, 0, sizeof *t);
    for (i = 0; i < LIVE_NODES; i++) {
        addrs[i] = ctx->nodes[i].address;
    }
    dqlite_driver_options_init(&opts);
    opts.call_timeout_ms = call_timeout_ms;
    opts.connect_timeout_ms = 15000;
    opts.dial = liveDial;
    opts.dial_arg = &t->dial;
    opts.log = liveLog;
    opts.log_arg = &t->log;
    if (liveDriver(addrs, LIVE_NODES, &opts, &t->store, &t->driver) != 0) {
        return -1;
    }
    return dqlite_driver_connect(t->driver, DB, &t->conn);
}

static void timedClose(struct timed *t)
{
    dqlite_conn_close(t->conn);
    liveDriverFree(t->store, t->driver);
}

/* Runs the slow query of size `n` with the call timeout `timeout_ms` (0:
 * the driver's), once the server is idle; returns its code and time. */
static int slowQuery(struct timed *t, int64_t n, unsigned timeout_ms,
                     int64_t *elapsed_ms)
{
    char sql[256];
    int64_t v;
    int64_t start_ms;
    int rv;
    dqlite_conn_set_timeout(t->conn, 15000);
    if (liveQueryInt(t->conn, "SELECT 1", &v) != 0) {
        return -1;
    }
    slowSql(sql, sizeof sql, n);
    memset(&t->log, 0, sizeof t->log);
    t->dial.n_dials = 0;
    dqlite_conn_set_timeout(t->conn, timeout_ms);
    start_ms = liveNowMs();
    rv = liveQueryInt(t->conn, sql, &v);
    *elapsed_ms = liveNowMs() - start_ms;
    return rv;
}

/* The driver's call timeout. The reference is still busy when the
 * INTERRUPT's wait ends: the connection is dropped, and the next call
 * reconnects. Ours stops the statement at the INTERRUPT (docs/server.md,
 * "Runaway statements"): the call still times out, but the connection is
 * kept and the next call needs no new dial. */
static void testTimeoutInterrupt(void)
{
    const bool kept = !ctx->reference;
    struct timed t;
    int64_t ms = 0;
    int64_t v = 0;
    int64_t n = 0;
    int rc = -1;
    int attempt;
    CHECK(timedOpen(&t, 150) == 0, "connect: %s", dqlite_conn_errmsg(t.conn));
    dqlite_conn_set_timeout(t.conn, 15000);
    CHECK(calibrate(t.conn, 1500, &n) == 0, "calibration");
    /* A probe slowed by the machine's load makes the query too short to
     * outlast the INTERRUPT's wait: then it is made 3x longer. */
    for (attempt = 0; attempt < 3; attempt++) {
        rc = slowQuery(&t, n, 0, &ms);
        if (rc != 0 &&
            (rc != DQLITE_CLIENT_TIMEOUT || kept ||
             strstr(dqlite_conn_errmsg(t.conn), "connection closed") != NULL)) {
            break;
        }
        n *= 3;
    }
    CHECK(rc == DQLITE_CLIENT_TIMEOUT,
          "slow query returned %d after %lld ms: %s", rc, (long long)ms,
          dqlite_conn_errmsg(t.conn));
    CHECK(ms >= 140 && ms < 1500, "timed out after %lld ms (timeout 150)",
          (long long)ms);
    CHECK(t.log.saw_interrupt, "no INTERRUPT logged (last log: %s)",
          t.log.last);
    CHECK(strstr(dqlite_conn_errmsg(t.conn), "timed out") != NULL &&
              (strstr(dqlite_conn_errmsg(t.conn), "connection closed") !=
               NULL) != kept,
          "message: %s", dqlite_conn_errmsg(t.conn));
    dqlite_conn_set_timeout(t.conn, 15000);
    CHECK_RC(t.conn, liveQueryInt(t.conn, "SELECT 7", &v), 0);
    CHECK(v == 7 && (t.dial.n_dials == 0) == kept,
          "after the timeout: %lld, %u dials", (long long)v, t.dial.n_dials);
out:
    timedClose(&t);
}

void liveStreamTests(void)
{
    liveRun("rows.stream-100k", testStream);
    liveRun("rows.early-close", testEarlyClose);
    liveRun(ctx->reference ? "timeout.interrupt-dropped"
                           : "timeout.interrupt-kept",
            testTimeoutInterrupt);
}
