/* direct_read_level (docs/client.md "Reading on one node"): the driver
 * connects to the store's first server itself, leader or not, and sends
 * PRAGMA dqlite_consistency once per connection; a malformed level is
 * refused at creation; the default still finds the leader. */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "tcluster.h"

TestSuite(read_level, .init = fakeWatchdog);

static char pragma_seen[128];

/* Node 0 (a follower here) accepts the pragma and serves reads. */
static bool followerHook(struct fake_conn *fc, struct tnode *node)
{
    if (node->index != 0) {
        return false;
    }
    if (fc->req.type == PROTO_REQ_EXEC_SQL &&
        strncmp(fc->req.exec_sql.sql.data, "PRAGMA dqlite_consistency", 25) ==
            0) {
        snprintf(pragma_seen, sizeof pragma_seen, "%s",
                 fc->req.exec_sql.sql.data);
        fakeSendResult(fc, 0, 0);
        return true;
    }
    if (fc->req.type == PROTO_REQ_QUERY_SQL) {
        tnodeSendIntRows(fc, 0, 3, true);
        return true;
    }
    return false;
}

Test(read_level, connects_to_the_first_server_and_sends_the_pragma)
{
    struct dqlite_driver_options o;
    struct dqlite_conn *conn;
    struct dqlite_rows *rows;
    int n_rows = 0;
    dqlite_driver_options_init(&o);
    o.direct_read_level = "bounded:200";
    struct tcluster *tc = tclusterStart(2, &o);
    tc->hook = followerHook;
    tclusterSetLeader(tc, 1);
    pragma_seen[0] = '\0';
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    cr_assert_str_eq(pragma_seen, "PRAGMA dqlite_consistency = 'bounded:200'");
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_LEADER), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_CLUSTER), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_OPEN), 1);
    cr_assert_eq(dqlite_conn_query(conn, "SELECT n FROM t", NULL, 0, &rows), 0);
    while (dqlite_rows_next(rows) == DQLITE_CLIENT_ROW) {
        n_rows++;
    }
    dqlite_rows_close(rows);
    cr_assert_eq(n_rows, 3);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_EXEC_SQL), 1);
    /* A write answers the node's "not leader"; the leader is never asked. */
    cr_assert_neq(
        dqlite_conn_exec(conn, "INSERT INTO t VALUES (1)", NULL, 0, NULL), 0);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "not leader") != NULL, "%s",
              dqlite_conn_errmsg(conn));
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_OPEN), 0);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

Test(read_level, default_still_finds_the_leader)
{
    struct dqlite_conn *conn;
    struct tcluster *tc = tclusterStart(2, NULL);
    tclusterSetLeader(tc, 1);
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_OPEN), 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_OPEN), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 0);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

Test(read_level, refuses_a_malformed_level)
{
    static const char *const bad[] = {
        "",     "leader", "bounded:", "bounded:x", "bounded:12345678",
        "any;", "Any"};
    struct dqlite_server_store *store;
    struct dqlite_driver *driver = NULL;
    struct dqlite_driver_options o;
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    dqlite_driver_options_init(&o);
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.direct_read_level = bad[i];
        cr_assert_eq(dqlite_driver_create(store, &o, &driver),
                     DQLITE_CLIENT_MISUSE, "%s", bad[i]);
    }
    o.direct_read_level = "linearizable";
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), 0);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

/* follower_read_level: members answer the pragma, OPEN and reads (three
 * rows; the leader's default answer has one); node `refuse` refuses. */
static int refuse = -1;
static bool memberHook(struct fake_conn *fc, struct tnode *node)
{
    struct proto_response r;
    switch (fc->req.type) {
    case PROTO_REQ_EXEC_SQL:
        if (strncmp(fc->req.exec_sql.sql.data, "PRAGMA dqlite_consistency",
                    25) != 0) {
            return false;
        }
        fakeSendResult(fc, 0, 0);
        return true;
    case PROTO_REQ_OPEN:
        protoResponseInit(&r, PROTO_RESP_DB);
        fakeSend(fc, &r);
        return true;
    case PROTO_REQ_QUERY_SQL:
        if (tclusterLeader(node->tc) == node->index) {
            return false;
        }
        if (node->index == refuse) {
            fakeSendFailure(fc, 1, "follower read refused");
        } else {
            tnodeSendIntRows(fc, 0, 3, true);
        }
        return true;
    default:
        return false;
    }
}

/* Rows of one query on conn (-1 on failure). */
static int countRows(struct dqlite_conn *conn, const char *sql)
{
    struct dqlite_rows *rows;
    int n = 0;
    if (dqlite_conn_query(conn, sql, NULL, 0, &rows) != 0) {
        return -1;
    }
    while (dqlite_rows_next(rows) == DQLITE_CLIENT_ROW) {
        n++;
    }
    dqlite_rows_close(rows);
    return n;
}

static struct tcluster *spreadStart(void)
{
    struct dqlite_driver_options o;
    dqlite_driver_options_init(&o);
    o.follower_read_level = "any";
    struct tcluster *tc = tclusterStart(3, &o);
    tc->hook = memberHook;
    return tc;
}

Test(read_level, spreads_reads_round_robin_and_writes_to_the_leader)
{
    struct tcluster *tc = spreadStart();
    struct dqlite_conn *conns[3];
    refuse = -1;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conns[i]), 0);
    }
    /* Round-robin over the store's members (refreshed to three nodes):
     * node 0, the leader, then the two followers. */
    cr_assert_eq(countRows(conns[0], "SELECT n FROM t"), 1);
    cr_assert_eq(countRows(conns[1], "  select n FROM t"), 3);
    cr_assert_eq(countRows(conns[2], "WITH x AS (SELECT 1) SELECT n FROM t"),
                 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tclusterCount(tc, i, PROTO_REQ_QUERY_SQL), 1, "%d", i);
        cr_assert_eq(tclusterCount(tc, i, PROTO_REQ_EXEC_SQL), 1, "%d", i);
    }
    /* The reader is kept: the pragma is not sent again. */
    cr_assert_eq(countRows(conns[1], "SELECT n FROM t"), 3);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 1);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_QUERY_SQL), 2);
    /* Writes, other queries and transactions stay on the leader. */
    cr_assert_eq(
        dqlite_conn_exec(conns[1], "INSERT INTO t VALUES (1)", NULL, 0, NULL),
        0);
    cr_assert_eq(countRows(conns[1], "PRAGMA table_info(t)"), 1);
    cr_assert_eq(dqlite_conn_exec(conns[1], "BEGIN", NULL, 0, NULL), 0);
    cr_assert_eq(countRows(conns[1], "SELECT n FROM t"), 1);
    cr_assert_eq(dqlite_conn_exec(conns[1], "COMMIT", NULL, 0, NULL), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_QUERY_SQL), 2);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 1);
    for (int i = 0; i < 3; i++) {
        dqlite_conn_close(conns[i]);
    }
    tclusterStop(tc);
}

Test(read_level, a_refusing_follower_falls_back_to_the_leader)
{
    struct tcluster *tc = spreadStart();
    struct dqlite_conn *first;
    struct dqlite_conn *conn;
    refuse = 1;
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &first), 0);
    cr_assert_eq(countRows(first, "SELECT n FROM t"), 1); /* node 0 */
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    int leader_reads = tclusterCount(tc, 0, PROTO_REQ_QUERY_SQL);
    /* node 1 refuses: the leader answers, and node 1 is dropped... */
    cr_assert_eq(countRows(conn, "SELECT n FROM t"), 1);
    cr_assert(tclusterCount(tc, 1, PROTO_REQ_QUERY_SQL) >= 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_QUERY_SQL), leader_reads + 1);
    /* ...so the next read goes to the next member, node 2. */
    cr_assert_eq(countRows(conn, "SELECT n FROM t"), 3);
    cr_assert_eq(tclusterCount(tc, 2, PROTO_REQ_QUERY_SQL), 1);
    dqlite_conn_close(conn);
    dqlite_conn_close(first);
    tclusterStop(tc);
}
