/*
 * The client-live tests of go-dqlite's API rows added for issue 16: more
 * than 255 parameters (a schema-1 tuple), a server store the application
 * implements (dqlite_server_store_custom) and one in a table of its
 * choosing (dqlite_server_store_open_db), cancelling a running call from
 * another thread (dqlite_cancel), and, against our library only, a node
 * started in this process on a listening socket it was handed
 * (dqlite_node_set_bind_fd).
 */
#include <dqlite.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "live.h"

#define DB "live.db"
#define MANY 300      /* parameters of one INSERT */
#define STMT_MANY 999 /* parameters of one prepared statement */

/* A query that runs for about a second on one node (a recursive count of
 * 5 M rows: 1.3 s on ours, release build), and VERY_LONG_SQL for about a
 * minute. */
#define LONG_SQL                                                       \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) " \
    "SELECT count(*) FROM (SELECT x FROM c LIMIT 5000000)"
#define VERY_LONG_SQL                                                  \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) " \
    "SELECT count(*) FROM (SELECT x FROM c LIMIT 200000000)"

/* Whether the server stops a running statement when INTERRUPT arrives
 * (issue 16: being done on another branch). Until then our server, like
 * the reference, reads the INTERRUPT once the statement is over, and the
 * test conn.cancel-stops-server would fail (a second connection waits for
 * the cancelled statement: 1046 ms of a 1.3 s one, measured) and leave the
 * node busy for a minute: it is skipped, and says so. */
#define LIVE_SERVER_STOPS_STATEMENTS 0

static void testManyParams(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_stmt *stmt = NULL;
    struct dqlite_rows *rows = NULL;
    struct dqlite_value params[STMT_MANY];
    struct dqlite_result res = {0};
    char sql[16 + MANY * 4 + 64];
    size_t len;
    int64_t sum = 0;
    unsigned i;
    for (i = 0; i < STMT_MANY; i++) {
        params[i].type = DQLITE_CLIENT_INTEGER;
        params[i].integer = i;
    }
    len = (size_t)snprintf(sql, sizeof sql, "INSERT INTO many (n) VALUES ");
    for (i = 0; i < MANY; i++) {
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s(?)",
                                i > 0 ? "," : "");
    }
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn, liveExecSetup(conn, "DROP TABLE IF EXISTS many"), 0);
    CHECK_RC(conn, liveExecSetup(conn, "CREATE TABLE many (n INTEGER)"), 0);
    CHECK_RC(conn, dqlite_conn_exec(conn, sql, params, MANY, &res), 0);
    CHECK(res.rows_affected == MANY, "%lld rows inserted",
          (long long)res.rows_affected);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT sum(n) FROM many", &sum), 0);
    CHECK(sum == MANY * (MANY - 1) / 2, "sum %lld", (long long)sum);
    /* A prepared statement with its largest index at 999, queried. */
    CHECK_RC(conn, dqlite_conn_prepare(conn, "SELECT ?1 + ?999", &stmt), 0);
    CHECK(dqlite_stmt_num_input(stmt) == STMT_MANY, "num input %u",
          dqlite_stmt_num_input(stmt));
    CHECK_RC(conn, dqlite_stmt_query(stmt, params, STMT_MANY, &rows), 0);
    CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    CHECK(dqlite_rows_int64(rows, 0) == STMT_MANY - 1, "?1 + ?999 = %lld",
          (long long)dqlite_rows_int64(rows, 0));
out:
    dqlite_rows_close(rows);
    dqlite_stmt_close(stmt);
    dqlite_conn_close(conn);
}

/* ------------------------------------------------------------ stores */

/* An application's own store: the list in an array it owns. */
struct own_store {
    struct dqlite_server_info list[LIVE_NODES + 1];
    char addrs[LIVE_NODES + 1][LIVE_ADDR_MAX];
    unsigned n;
    unsigned gets, sets, closes;
};

static int ownGet(void *arg, struct dqlite_server_info **servers, unsigned *n)
{
    struct own_store *o = arg;
    o->gets++;
    *servers = o->list;
    *n = o->n;
    return 0;
}

static int ownSet(void *arg, const struct dqlite_server_info *servers,
                  unsigned n)
{
    struct own_store *o = arg;
    unsigned i;
    o->sets++;
    if (n > LIVE_NODES + 1) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        snprintf(o->addrs[i], LIVE_ADDR_MAX, "%s", servers[i].address);
        o->list[i] = servers[i];
        o->list[i].address = o->addrs[i];
    }
    o->n = n;
    return 0;
}

static void ownClose(void *arg)
{
    ((struct own_store *)arg)->closes++;
}

static void testCustomStore(void)
{
    static const struct dqlite_server_store_methods methods = {
        .get = ownGet, .set = ownSet, .close = ownClose};
    struct own_store own = {.n = 1};
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_conn *conn = NULL;
    struct live_node *leader;
    int64_t one = 0;
    unsigned i;
    CHECK(liveLeader(&leader) == 0, "no leader");
    /* A follower only: the driver finds the leader through it. */
    snprintf(own.addrs[0], LIVE_ADDR_MAX, "%s", liveFollower(leader)->address);
    own.list[0].address = own.addrs[0];
    own.list[0].id = 1;
    CHECK(dqlite_server_store_custom(&methods, &own, &store) == 0, "custom");
    CHECK(dqlite_driver_create(store, NULL, &driver) == 0, "driver");
    CHECK_RC(conn, dqlite_driver_connect(driver, DB, &conn), 0);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT 1", &one), 0);
    CHECK(own.gets >= 1 && own.sets == 1, "%u gets, %u sets", own.gets,
          own.sets);
    /* The leader's CLUSTER answer went through set: every member. */
    CHECK(own.n >= LIVE_NODES, "%u servers stored", own.n);
    for (i = 0; i < LIVE_NODES; i++) {
        struct live_node *node = &ctx->nodes[i];
        unsigned j;
        for (j = 0; j < own.n; j++) {
            if (strcmp(own.addrs[j], node->address) == 0) {
                break;
            }
        }
        CHECK(j < own.n && own.list[j].id == node->id,
              "node %s missing from the store or with another id",
              node->address);
    }
out:
    dqlite_conn_close(conn);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
    if (ctx->reason[0] == '\0' && own.closes != 1) {
        liveFail(__FILE__, __LINE__, "closes", "close called %u times",
                 own.closes);
    }
}

static int countAddrs(sqlite3 *db, int *n)
{
    sqlite3_stmt *stmt;
    int rv = sqlite3_prepare_v2(
        db, "SELECT count(DISTINCT addr) FROM app.dqlite_nodes", -1, &stmt,
        NULL);
    if (rv != SQLITE_OK) {
        return rv;
    }
    rv = sqlite3_step(stmt);
    *n = rv == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return rv == SQLITE_ROW ? 0 : rv;
}

static void testDbStore(void)
{
    char path[512];
    char attach[600];
    sqlite3 *db = NULL;
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_conn *conn = NULL;
    int64_t one = 0;
    int n = 0;
    snprintf(path, sizeof path, "%s/app.sqlite", ctx->dir);
    snprintf(attach, sizeof attach, "ATTACH '%s' AS app", path);
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK, "sqlite3_open");
    CHECK(sqlite3_exec(db, attach, NULL, NULL, NULL) == SQLITE_OK, "%s",
          sqlite3_errmsg(db));
    CHECK(dqlite_server_store_open_db(db, "app", "dqlite_nodes", "addr",
                                      &store) == 0,
          "open_db");
    CHECK(dqlite_server_store_add(store, 0, ctx->nodes[0].address,
                                  DQLITE_VOTER) == 0,
          "add");
    CHECK(countAddrs(db, &n) == 0 && n == 1, "%d rows before connecting", n);
    CHECK(dqlite_driver_create(store, NULL, &driver) == 0, "driver");
    CHECK_RC(conn, dqlite_driver_connect(driver, DB, &conn), 0);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT 1", &one), 0);
    /* Refreshed from the leader: the members are in the caller's table. */
    CHECK(countAddrs(db, &n) == 0 && n >= LIVE_NODES, "%d rows after", n);
out:
    dqlite_conn_close(conn);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
    sqlite3_close(db);
}

/* ------------------------------------------------------------ cancel */

struct firer {
    pthread_t thread;
    struct dqlite_cancel *cancel;
    unsigned delay_ms;
    int64_t fired_ms;
};

static void *firerMain(void *arg)
{
    struct firer *f = arg;
    liveSleepMs(f->delay_ms);
    f->fired_ms = liveNowMs();
    dqlite_cancel_fire(f->cancel);
    return NULL;
}

/* Opens a connection on a driver of its own, with a log to see the
 * INTERRUPT. */
static int cancelDriver(struct live_log *log,
                        struct dqlite_server_store **store,
                        struct dqlite_driver **driver)
{
    const char *addrs[LIVE_NODES];
    struct dqlite_driver_options opts;
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        addrs[i] = ctx->nodes[i].address;
    }
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = 15000;
    opts.call_timeout_ms = 60000; /* the drain may wait for the statement */
    opts.log = liveLog;
    opts.log_arg = log;
    return liveDriver(addrs, LIVE_NODES, &opts, store, driver);
}

/* Fires a handle on a connection's running query; `sql` runs on `conn`.
 * Returns the query's code and when it returned, after the fire. */
static int cancelQuery(struct dqlite_conn *conn, struct firer *f,
                       const char *sql, int64_t *late_ms)
{
    struct dqlite_rows *rows = NULL;
    int rv;
    dqlite_conn_set_cancel(conn, f->cancel);
    if (pthread_create(&f->thread, NULL, firerMain, f) != 0) {
        return -1;
    }
    rv = dqlite_conn_query(conn, sql, NULL, 0, &rows);
    *late_ms = liveNowMs();
    pthread_join(f->thread, NULL);
    *late_ms -= f->fired_ms;
    dqlite_rows_close(rows);
    return rv;
}

static void testCancelRunning(void)
{
    static struct live_log log;
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_conn *conn = NULL;
    struct dqlite_conn *other = NULL;
    struct firer f = {.delay_ms = 300};
    int64_t one = 0;
    int64_t late_ms = 0;
    int rv;
    memset(&log, 0, sizeof log);
    CHECK(cancelDriver(&log, &store, &driver) == 0, "driver");
    CHECK(dqlite_cancel_create(&f.cancel) == 0, "cancel");
    CHECK_RC(conn, dqlite_driver_connect_cancel(driver, DB, f.cancel, &conn),
             0);
    rv = cancelQuery(conn, &f, LONG_SQL, &late_ms);
    CHECK(rv == DQLITE_CLIENT_CANCELLED, "query returned %d: %s", rv,
          dqlite_conn_errmsg(conn));
    /* The calling thread is back at once, whatever the server does. */
    CHECK(late_ms < 2000, "returned %lld ms after the fire",
          (long long)late_ms);
    CHECK(log.saw_interrupt, "no INTERRUPT was sent (log: %s)", log.all);
    /* Still fired: a call fails at once. */
    CHECK_RC(conn, liveQueryInt(conn, "SELECT 1", &one),
             DQLITE_CLIENT_CANCELLED);
    dqlite_cancel_reset(f.cancel);
    /* The connection recovers: the answers owed are read, then the call
     * runs on the same connection. */
    CHECK_RC(conn, liveQueryInt(conn, "SELECT 1", &one), 0);
    CHECK(one == 1, "SELECT 1 = %lld", (long long)one);
    /* And the node serves another connection. */
    CHECK_RC(other, dqlite_driver_connect(driver, DB, &other), 0);
    CHECK_RC(other, liveQueryInt(other, "SELECT 2", &one), 0);
out:
    dqlite_conn_close(other);
    dqlite_conn_close(conn);
    dqlite_cancel_destroy(f.cancel);
    liveDriverFree(store, driver);
}

/* After the cancel the server is free at once: a second connection is
 * answered, and the cancelled one recovers, each within 5 s, while the
 * statement would have run for about a minute. */
static void testCancelStopsServer(void)
{
    static struct live_log log;
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_conn *conn = NULL;
    struct dqlite_conn *other = NULL;
    struct firer f = {.delay_ms = 300};
    int64_t one = 0;
    int64_t late_ms = 0;
    int rv;
    memset(&log, 0, sizeof log);
    CHECK(cancelDriver(&log, &store, &driver) == 0, "driver");
    CHECK(dqlite_cancel_create(&f.cancel) == 0, "cancel");
    CHECK_RC(conn, dqlite_driver_connect(driver, DB, &conn), 0);
    CHECK_RC(other, dqlite_driver_connect(driver, DB, &other), 0);
    dqlite_conn_set_timeout(conn, 5000);
    dqlite_conn_set_timeout(other, 5000);
    rv = cancelQuery(conn, &f, VERY_LONG_SQL, &late_ms);
    CHECK(rv == DQLITE_CLIENT_CANCELLED, "query returned %d: %s", rv,
          dqlite_conn_errmsg(conn));
    CHECK_RC(other, liveQueryInt(other, "SELECT 2", &one), 0);
    dqlite_cancel_reset(f.cancel);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT 1", &one), 0);
out:
    dqlite_conn_close(other);
    dqlite_conn_close(conn);
    dqlite_cancel_destroy(f.cancel);
    liveDriverFree(store, driver);
}

/* ------------------------------------------------------------ bind fd */

/* A one-node cluster of our library in this process, on a listening socket
 * made here and handed over: the client reaches it through that socket. */
static void testBindFd(void)
{
    char address[LIVE_ADDR_MAX];
    char dir[600];
    const char *addrs[1] = {address};
    dqlite_node *node = NULL;
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_conn *conn = NULL;
    int64_t n = 0;
    int fd = liveListenSocket(address);
    CHECK(fd >= 0, "listening socket");
    snprintf(dir, sizeof dir, "%s/bindfd", ctx->dir);
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    CHECK(dqlite_node_create(1, address, dir, &node) == 0, "create: %s",
          dqlite_node_errmsg(node));
    CHECK(dqlite_node_set_bind_fd(node, fd) == 0, "bind fd: %s",
          dqlite_node_errmsg(node));
    fd = -1; /* the node's now */
    CHECK(strcmp(dqlite_node_get_bind_address(node), address) == 0,
          "bound to %s, not %s", dqlite_node_get_bind_address(node), address);
    CHECK(dqlite_node_set_bind_address(node, "127.0.0.1:0") == DQLITE_MISUSE,
          "a second bind was accepted");
    CHECK(dqlite_node_start(node) == 0, "start: %s", dqlite_node_errmsg(node));
    CHECK(liveDriver(addrs, 1, NULL, &store, &driver) == 0, "driver");
    CHECK_RC(conn, dqlite_driver_connect(driver, "bindfd.db", &conn), 0);
    CHECK_RC(conn, liveExec(conn, "CREATE TABLE t (n INTEGER)"), 0);
    CHECK_RC(conn, liveExec(conn, "INSERT INTO t VALUES (41), (1)"), 0);
    CHECK_RC(conn, liveQueryInt(conn, "SELECT sum(n) FROM t", &n), 0);
    CHECK(n == 42, "sum %lld", (long long)n);
out:
    dqlite_conn_close(conn);
    liveDriverFree(store, driver);
    if (node != NULL) {
        dqlite_node_stop(node);
        dqlite_node_destroy(node);
    }
    if (fd >= 0) {
        close(fd);
    }
}

static void liveSkip(const char *name, const char *why)
{
    printf("[SKIP] %s::%s: %s\n", ctx->server, name, why);
}

void liveApiTests(void)
{
    /* 1.11.1 ignores the schema byte and would misread a 4-byte count
     * (docs/wire-spec.md §3.3, §11). */
    if (!ctx->reference) {
        liveRun("conn.params-over-255", testManyParams);
    } else {
        liveSkip("conn.params-over-255",
                 "libdqlite 1.11.1 has no schema-1 parameter tuples");
    }
    liveRun("store.custom", testCustomStore);
    liveRun("store.open-db", testDbStore);
    liveRun("conn.cancel-running", testCancelRunning);
    if (!ctx->reference && LIVE_SERVER_STOPS_STATEMENTS) {
        liveRun("conn.cancel-stops-server", testCancelStopsServer);
    } else {
        liveSkip("conn.cancel-stops-server",
                 "this server does not stop a running statement on "
                 "INTERRUPT (LIVE_SERVER_STOPS_STATEMENTS in t_api.c)");
    }
    if (!ctx->reference) {
        liveRun("node.bind-fd", testBindFd);
    }
}
