/*
 * The client-live tests of failures, run last because they kill nodes:
 * SIGKILL of the leader between transactions (an idle connection and its
 * prepared statement move to the new leader on their next call) and in the
 * middle of one (DQLITE_CLIENT_TXCUT until rollback, then the retried
 * transaction commits); then SIGKILL of the new leader (quorum lost:
 * DQLITE_CLIENT_NOLEADER within the connect timeout), then of every node
 * (NOLEADER again, quickly, for a store where every dial is refused).
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define DB "live.db"

static struct dqlite_server_store *fo_store;
static struct dqlite_driver *fo_driver;
static struct live_dial fo_dial;

static int foDriver(unsigned connect_timeout_ms)
{
    const char *addrs[LIVE_NODES];
    struct dqlite_driver_options opts;
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        addrs[i] = ctx->nodes[i].address;
    }
    liveDriverFree(fo_store, fo_driver);
    fo_store = NULL;
    fo_driver = NULL;
    memset(&fo_dial, 0, sizeof fo_dial);
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = connect_timeout_ms;
    opts.call_timeout_ms = 15000;
    opts.no_store_refresh = true; /* keep the 3 addresses */
    opts.dial = liveDial;
    opts.dial_arg = &fo_dial;
    return liveDriver(addrs, LIVE_NODES, &opts, &fo_store, &fo_driver);
}

/* The connections and statement that live through the kill. */
struct survivors {
    struct dqlite_conn *idle;
    struct dqlite_stmt *stmt;
    struct dqlite_conn *in_tx;
};

static int survivorsOpen(struct survivors *s)
{
    struct dqlite_value p = {.type = DQLITE_CLIENT_INTEGER};
    int rv = dqlite_driver_connect(fo_driver, DB, &s->idle);
    rv = rv != 0 ? rv
                 : liveExec(s->idle, "DROP TABLE IF EXISTS fo;"
                                     "CREATE TABLE fo (k INTEGER)");
    rv = rv != 0 ? rv
                 : dqlite_conn_prepare(s->idle, "INSERT INTO fo VALUES (?)",
                                       &s->stmt);
    p.integer = 1;
    rv = rv != 0 ? rv : dqlite_stmt_exec(s->stmt, &p, 1, NULL);
    rv = rv != 0 ? rv : dqlite_driver_connect(fo_driver, DB, &s->in_tx);
    rv = rv != 0 ? rv : dqlite_conn_begin(s->in_tx, NULL);
    rv = rv != 0 ? rv : liveExec(s->in_tx, "INSERT INTO fo VALUES (100)");
    return rv;
}

static void survivorsClose(struct survivors *s)
{
    dqlite_stmt_close(s->stmt);
    dqlite_conn_close(s->idle);
    dqlite_conn_close(s->in_tx);
}

static void checkIdleSurvives(struct survivors *s)
{
    struct dqlite_value p = {.type = DQLITE_CLIENT_INTEGER};
    unsigned dials = fo_dial.n_dials;
    p.integer = 2;
    CHECK_RC(s->idle, dqlite_stmt_exec(s->stmt, &p, 1, NULL), 0);
    CHECK(fo_dial.n_dials > dials, "the statement ran without a new dial");
    CHECK_RC(s->idle, liveExec(s->idle, "INSERT INTO fo VALUES (3)"), 0);
out:
    return;
}

static void checkTxCut(struct survivors *s)
{
    struct dqlite_conn *c = s->in_tx;
    CHECK_RC(c, liveExec(c, "INSERT INTO fo VALUES (101)"),
             DQLITE_CLIENT_TXCUT);
    /* Noticed before sending: the node closed the idle connection. */
    CHECK(strstr(dqlite_conn_errmsg(c), "roll back") != NULL &&
              strstr(dqlite_conn_errmsg(c), "closed") != NULL &&
              dqlite_conn_errcode(c) == 0,
          "code %llu: %s", (unsigned long long)dqlite_conn_errcode(c),
          dqlite_conn_errmsg(c));
    CHECK_RC(c, dqlite_conn_commit(c), DQLITE_CLIENT_TXCUT);
    CHECK_RC(c, dqlite_conn_rollback(c), 0);
    CHECK(!dqlite_conn_in_tx(c), "in a transaction after rollback");
    CHECK_RC(c, dqlite_conn_begin(c, NULL), 0);
    CHECK_RC(c, liveExec(c, "INSERT INTO fo VALUES (102)"), 0);
    CHECK_RC(c, dqlite_conn_commit(c), 0);
out:
    return;
}

static void testKillLeader(void)
{
    struct survivors s = {0};
    struct live_node *old = NULL;
    struct live_node *now = NULL;
    struct dqlite_rows *rows = NULL;
    CHECK(foDriver(20000) == 0, "driver");
    CHECK(survivorsOpen(&s) == 0, "setup: %s / %s", dqlite_conn_errmsg(s.idle),
          dqlite_conn_errmsg(s.in_tx));
    CHECK(liveLeader(&old) == 0, "no leader");
    liveKill(old);
    checkIdleSurvives(&s);
    checkTxCut(&s);
    CHECK(ctx->reason[0] == '\0', "after the kill");
    CHECK(liveWaitLeader(old, 15000, &now) == 0, "no new leader");
    CHECK_RC(s.idle,
             dqlite_conn_query(s.idle, "SELECT group_concat(k) FROM fo", NULL,
                               0, &rows),
             0);
    CHECK_RC(s.idle, dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    CHECK(strcmp(dqlite_rows_text(rows, 0), "1,2,3,102") == 0,
          "rows after fail-over: %s (want 1,2,3,102)",
          dqlite_rows_text(rows, 0));
    CHECK_RC(s.idle, dqlite_rows_close(rows), 0);
    rows = NULL;
    /* Prepared before the kill, used after: finalized on the new leader. */
    CHECK_RC(s.idle, dqlite_stmt_close(s.stmt), 0);
    s.stmt = NULL;
out:
    dqlite_rows_close(rows);
    survivorsClose(&s);
}

/* NOLEADER from a fresh connection within `timeout_ms` (+ slack). */
static void expectNoLeader(unsigned timeout_ms)
{
    struct dqlite_conn *conn = NULL;
    int64_t start_ms;
    int64_t ms;
    CHECK(foDriver(timeout_ms) == 0, "driver");
    start_ms = liveNowMs();
    CHECK_RC(conn, dqlite_driver_connect(fo_driver, DB, &conn),
             DQLITE_CLIENT_NOLEADER);
    ms = liveNowMs() - start_ms;
    CHECK(ms >= (int64_t)timeout_ms - 100 && ms < timeout_ms + 4000,
          "NOLEADER after %lld ms (connect timeout %u)", (long long)ms,
          timeout_ms);
out:
    dqlite_conn_close(conn);
}

static void testQuorumLost(void)
{
    struct live_node *leader = NULL;
    CHECK(liveWaitLeader(NULL, 15000, &leader) == 0, "no leader");
    liveKill(leader);
    expectNoLeader(3000);
out:
    return;
}

static void testAllDown(void)
{
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        if (ctx->nodes[i].alive) {
            liveKill(&ctx->nodes[i]);
        }
    }
    expectNoLeader(1000);
}

void liveFailoverTests(void)
{
    liveRun("failover.kill-leader", testKillLeader);
    liveRun("failover.quorum-lost", testQuorumLost);
    liveRun("noleader.all-nodes-down", testAllDown);
    liveDriverFree(fo_store, fo_driver);
    fo_store = NULL;
    fo_driver = NULL;
}
