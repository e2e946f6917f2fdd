/*
 * The client-live tests of leader changes without failures: a connection
 * that was idle when leadership was transferred moves to the new leader on
 * its next call; one inside a transaction gets DQLITE_CLIENT_TXCUT until it
 * rolls back; and a connection misled to a follower (a dial function that
 * connects every address to that follower, so the follower seems to name
 * itself) gets DQLITE_CLIENT_NOTLEADER with code 10250.
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define DB "live.db"

/* A driver of its own, with a counting dial and a log. */
struct own {
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct live_dial dial;
    struct live_log log;
};

static int ownOpen(struct own *o, const char *const *addrs, unsigned n)
{
    struct dqlite_driver_options opts;
    memset(o, 0, sizeof *o);
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = 15000;
    opts.call_timeout_ms = 15000;
    opts.no_store_refresh = true; /* the store's order decides the dials */
    opts.dial = liveDial;
    opts.dial_arg = &o->dial;
    opts.log = liveLog;
    opts.log_arg = &o->log;
    return liveDriver(addrs, n, &opts, &o->store, &o->driver);
}

static int ownOpenAll(struct own *o)
{
    const char *addrs[LIVE_NODES];
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        addrs[i] = ctx->nodes[i].address;
    }
    return ownOpen(o, addrs, LIVE_NODES);
}

/* Asks the leader to hand over to a follower; waits for the change. */
static int transferAway(struct live_node **old, struct live_node **now)
{
    struct dqlite_client *cl = NULL;
    struct live_node *target;
    int64_t deadline_ms = liveNowMs() + 15000;
    int rv = liveLeader(old);
    if (rv == 0) {
        target = liveFollower(*old);
        rv = dqlite_client_connect_leader(ctx->driver, &cl);
        rv = rv != 0 ? rv : dqlite_client_transfer(cl, target->id);
        dqlite_client_close(cl);
    }
    while (rv == 0 && (liveLeader(now) != 0 || *now == *old)) {
        if (liveNowMs() > deadline_ms) {
            return -1;
        }
        liveSleepMs(100);
    }
    return rv;
}

/* Runs `sql` on a connection that just moved to a new leader. The
 * reference's new leader was seen once answering "no such table" for a
 * table created (and committed) before the TRANSFER: with the reference
 * only, that answer is retried for up to 3 s and reported as a [NOTE]
 * (docs/clientlive.md, reference differences). */
static int staleRetry(struct dqlite_conn *conn, const char *sql)
{
    int rv = liveExec(conn, sql);
    int tries = 0;
    while (ctx->reference && rv == DQLITE_CLIENT_ERROR &&
           strstr(dqlite_conn_errmsg(conn), "no such table") != NULL &&
           tries < 30) {
        if (tries++ == 0) {
            printf("[NOTE] %s::%s: the new leader answered \"%s\" right "
                   "after TRANSFER; retrying\n",
                   ctx->server, ctx->current, dqlite_conn_errmsg(conn));
        }
        liveSleepMs(100);
        rv = liveExec(conn, sql);
    }
    if (tries > 0) {
        printf("[NOTE] %s::%s: %d retries, then %d: %s\n", ctx->server,
               ctx->current, tries, rv, dqlite_conn_errmsg(conn));
    }
    return rv;
}

static void testIdleMoves(void)
{
    struct own o;
    struct dqlite_conn *conn = NULL;
    struct live_node *old = NULL;
    struct live_node *now = NULL;
    unsigned dials;
    int64_t n = 0;
    CHECK(ownOpenAll(&o) == 0, "driver");
    CHECK_RC(conn, dqlite_driver_connect(o.driver, DB, &conn), 0);
    CHECK_RC(conn,
             liveExec(conn, "DROP TABLE IF EXISTS lc; CREATE TABLE lc (k)"), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO lc VALUES (1)"), 0);
    dials = o.dial.n_dials;
    CHECK(transferAway(&old, &now) == 0, "transfer");
    CHECK_RC(conn, staleRetry(conn, "INSERT INTO lc VALUES (2)"), 0);
    CHECK(o.dial.n_dials > dials, "no new dial after the leader changed");
    CHECK_RC(conn, liveQueryInt(conn, "SELECT sum(k) FROM lc", &n), 0);
    CHECK(n == 3, "sum %lld (want 1 + 2)", (long long)n);
out:
    dqlite_conn_close(conn);
    liveDriverFree(o.store, o.driver);
}

static void testTxCutByTransfer(void)
{
    struct own o;
    struct dqlite_conn *conn = NULL;
    struct live_node *old = NULL;
    struct live_node *now = NULL;
    int64_t n = 0;
    CHECK(ownOpenAll(&o) == 0, "driver");
    CHECK_RC(conn, dqlite_driver_connect(o.driver, DB, &conn), 0);
    CHECK_RC(conn,
             liveExec(conn, "DROP TABLE IF EXISTS lt; CREATE TABLE lt (k)"), 0);
    CHECK_RC(conn, dqlite_conn_begin(conn, NULL), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO lt VALUES (1)"), 0);
    CHECK(transferAway(&old, &now) == 0, "transfer");
    CHECK_RC(conn, liveExec(conn, "INSERT INTO lt VALUES (2)"),
             DQLITE_CLIENT_TXCUT);
    /* The old leader refused it: provably not applied. */
    CHECK(dqlite_conn_errcode(conn) == DQLITE_CLIENT_CODE_NOT_LEADER,
          "code %llu: %s", (unsigned long long)dqlite_conn_errcode(conn),
          dqlite_conn_errmsg(conn));
    CHECK(dqlite_conn_in_tx(conn), "a cut transaction is no longer open");
    CHECK_RC(conn, dqlite_conn_commit(conn), DQLITE_CLIENT_TXCUT);
    CHECK_RC(conn, dqlite_conn_rollback(conn), 0);
    CHECK(!dqlite_conn_in_tx(conn), "in a transaction after rollback");
    CHECK_RC(conn, dqlite_conn_begin(conn, NULL), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO lt VALUES (4)"), 0);
    CHECK_RC(conn, dqlite_conn_commit(conn), 0);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT sum(k) FROM lt", &n), 0);
    CHECK(n == 4, "sum %lld (want 4: the cut transaction left nothing)",
          (long long)n);
out:
    dqlite_conn_close(conn);
    liveDriverFree(o.store, o.driver);
}

/* A follower dialled under the leader's address seems to be the leader:
 * the connection registers and opens the database there, and the EXEC is
 * refused as not leader, retried once on a new connection (misled the same
 * way) and reported. */
static void testMisrouted(void)
{
    struct own o = {0};
    struct dqlite_conn *conn = NULL;
    struct live_node *leader = NULL;
    struct live_node *follower;
    const char *addrs[1];
    CHECK(liveLeader(&leader) == 0, "no leader");
    follower = liveFollower(leader);
    addrs[0] = leader->address;
    CHECK(ownOpen(&o, addrs, 1) == 0, "driver");
    snprintf(o.dial.misroute_to, sizeof o.dial.misroute_to, "%s",
             follower->address);
    /* Both servers accept OPEN on a follower and refuse the EXEC. */
    CHECK_RC(conn, dqlite_driver_connect(o.driver, DB, &conn), 0);
    CHECK(o.dial.n_dials == 1, "%u dials to connect", o.dial.n_dials);
    CHECK_RC(conn, liveExec(conn, "CREATE TABLE IF NOT EXISTS mr (k)"),
             DQLITE_CLIENT_NOTLEADER);
    CHECK(dqlite_conn_errcode(conn) == DQLITE_CLIENT_CODE_NOT_LEADER,
          "code %llu: %s", (unsigned long long)dqlite_conn_errcode(conn),
          dqlite_conn_errmsg(conn));
    CHECK(o.dial.n_dials == 2,
          "%u dials: want 2 (the call retried once); log: %s", o.dial.n_dials,
          o.log.all);
out:
    dqlite_conn_close(conn);
    liveDriverFree(o.store, o.driver);
}

void liveLeaderChangeTests(void)
{
    liveRun("leader-change.idle-conn-moves", testIdleMoves);
    liveRun("leader-change.tx-cut", testTxCutByTransfer);
    liveRun("not-leader.misrouted-follower", testMisrouted);
}
