/* What a failed connect says: a refused connection, a node that is up but
 * knows no leader, and a leader that does not answer OPEN in time (busy)
 * each name their cause, not "timed out". */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "tcluster.h"

TestSuite(messages, .init = fakeWatchdog);

static void assertSays(struct dqlite_conn *conn, const char *want)
{
    const char *msg = dqlite_conn_errmsg(conn);
    cr_assert(strstr(msg, want) != NULL, "wanted \"%s\" in: %s", want, msg);
    cr_assert(strstr(msg, "timed out") == NULL, "%s", msg);
}

Test(messages, refused_connection_says_refused)
{
    struct dqlite_driver_options o;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn;
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = 300;
    o.backoff_factor_ms = 10;
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    /* Port 1 on loopback: nothing listens, the kernel refuses at once. */
    cr_assert_eq(dqlite_server_store_add(store, 1, "127.0.0.1:1", 0), 0);
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), 0);
    cr_assert_eq(dqlite_driver_connect(driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    assertSays(conn, "dial 127.0.0.1:1: Connection refused");
    dqlite_conn_close(conn);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

Test(messages, reachable_node_without_leader_says_so)
{
    struct dqlite_driver_options o;
    struct tcluster *tc;
    struct dqlite_conn *conn;
    char want[128];
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = 300;
    o.backoff_factor_ms = 10;
    tc = tclusterStart(1, &o);
    tclusterSetLeader(tc, -1);
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    snprintf(want, sizeof want, "%s is up but knows no leader",
             tclusterAddress(tc, 0));
    assertSays(conn, want);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

/* The leader takes OPEN and never answers it. */
static bool silentOpen(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    return fc->req.type == PROTO_REQ_OPEN;
}

Test(messages, leader_silent_on_open_is_called_busy)
{
    struct dqlite_driver_options o;
    struct tcluster *tc;
    struct dqlite_conn *conn;
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = 300;
    tc = tclusterStart(1, &o);
    tc->hook = silentOpen;
    cr_assert_neq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    assertSays(conn, "open test: the node is busy");
    dqlite_conn_close(conn);
    tclusterStop(tc);
}
