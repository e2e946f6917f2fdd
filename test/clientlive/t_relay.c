/*
 * The client-live tests that put the delaying relay (proxy.c) between the
 * client and a real node: a fast query whose answers are held past the
 * call's timeout (the client sends INTERRUPT, the node acknowledges it
 * with EMPTY after the query's rows, both arrive within the second wait:
 * DQLITE_CLIENT_TIMEOUT and the connection stays), and an answer whose
 * message type is garbled (DQLITE_CLIENT_PROTO, then the next call
 * reconnects).
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define DB "live.db"

struct relayed {
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn;
    struct live_dial dial;
    struct live_log log;
};

static int relayedOpen(struct relayed *r)
{
    const char *addrs[LIVE_NODES];
    struct dqlite_driver_options opts;
    unsigned i;
    memset(r, 0, sizeof *r);
    for (i = 0; i < LIVE_NODES; i++) {
        addrs[i] = ctx->nodes[i].address;
    }
    dqlite_driver_options_init(&opts);
    opts.call_timeout_ms = 15000;
    opts.connect_timeout_ms = 15000;
    opts.dial = liveProxyDial;
    opts.dial_arg = &r->dial;
    opts.log = liveLog;
    opts.log_arg = &r->log;
    if (liveDriver(addrs, LIVE_NODES, &opts, &r->store, &r->driver) != 0) {
        return -1;
    }
    return dqlite_driver_connect(r->driver, DB, &r->conn);
}

/* Closes the connection, then joins the relays it used. */
static void relayedClose(struct relayed *r)
{
    dqlite_conn_close(r->conn);
    liveDriverFree(r->store, r->driver);
    liveProxyJoin();
}

static void testTimeoutAcknowledged(void)
{
    const unsigned timeout_ms = 1000;
    const unsigned hold_ms = timeout_ms * 13 / 10;
    struct relayed r;
    int64_t start_ms;
    int64_t ms;
    int64_t v = 0;
    CHECK(relayedOpen(&r) == 0, "connect: %s", dqlite_conn_errmsg(r.conn));
    CHECK_RC(r.conn, liveQueryInt(r.conn, "SELECT 1", &v), 0);
    memset(&r.log, 0, sizeof r.log);
    r.dial.n_dials = 0;
    dqlite_conn_set_timeout(r.conn, timeout_ms);
    liveProxyHold(hold_ms);
    start_ms = liveNowMs();
    CHECK_RC(r.conn, liveQueryInt(r.conn, "SELECT 2", &v),
             DQLITE_CLIENT_TIMEOUT);
    ms = liveNowMs() - start_ms;
    CHECK(strstr(dqlite_conn_errmsg(r.conn), "interrupted") != NULL &&
              strstr(dqlite_conn_errmsg(r.conn), "connection closed") == NULL,
          "message: %s", dqlite_conn_errmsg(r.conn));
    CHECK(ms >= hold_ms - 10 && ms < 2 * timeout_ms,
          "timed out after %lld ms (timeout %u, answers held %u)",
          (long long)ms, timeout_ms, hold_ms);
    CHECK(r.log.saw_interrupt, "no INTERRUPT logged");
    dqlite_conn_set_timeout(r.conn, 0); /* the driver's again */
    CHECK_RC(r.conn, liveQueryInt(r.conn, "SELECT 8", &v), 0);
    CHECK(v == 8 && r.dial.n_dials == 0,
          "after an acknowledged timeout: %lld, %u dials (want 0)",
          (long long)v, r.dial.n_dials);
out:
    relayedClose(&r);
}

static void testGarbled(void)
{
    struct relayed r;
    int64_t v = 0;
    CHECK(relayedOpen(&r) == 0, "connect: %s", dqlite_conn_errmsg(r.conn));
    r.dial.n_dials = 0;
    liveProxyGarble();
    CHECK_RC(r.conn, liveQueryInt(r.conn, "SELECT 3", &v), DQLITE_CLIENT_PROTO);
    CHECK(r.dial.n_dials == 0, "a garbled answer was retried");
    CHECK_RC(r.conn, liveQueryInt(r.conn, "SELECT 4", &v), 0);
    CHECK(v == 4 && r.dial.n_dials == 1,
          "after a garbled answer: %lld, %u dials (want a new connection)",
          (long long)v, r.dial.n_dials);
out:
    relayedClose(&r);
}

void liveRelayTests(void)
{
    liveRun("timeout.interrupt-acknowledged", testTimeoutAcknowledged);
    liveRun("errors.garbled-answer", testGarbled);
}
