/* Out of memory in the client: the n-th allocation made by the test's
 * thread fails (the fake servers' threads are spared), for every n until a
 * whole conversation runs without a failure. Each call must fail cleanly
 * or succeed, and nothing may leak (checked by SAN=1 runs). */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "tcluster.h"

static _Thread_local bool in_client;
static atomic_long countdown;
static atomic_long refused;

static bool refuse(void)
{
    if (!in_client || atomic_fetch_sub(&countdown, 1) != 0) {
        return false;
    }
    atomic_fetch_add(&refused, 1);
    return true;
}

static void *hookMalloc(size_t n)
{
    return refuse() ? NULL : malloc(n);
}

static void *hookRealloc(void *p, size_t n)
{
    return refuse() ? NULL : realloc(p, n);
}

static const struct lib_alloc_hook hook = {hookMalloc, hookRealloc, free};

static void setup(void)
{
    fakeWatchdog();
    alarm(120);
    libAllocSetHook(&hook);
}

TestSuite(oom, .init = setup);

/* One conversation: connect, exec, query, statement, transaction. */
static void converse(struct dqlite_driver *driver)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_rows *rows;
    struct dqlite_stmt *stmt;
    struct dqlite_value p = {.type = DQLITE_CLIENT_INTEGER, .integer = 1};
    int rv = dqlite_driver_connect(driver, "test", &conn);
    if (conn == NULL) {
        cr_assert_eq(rv, DQLITE_CLIENT_NOMEM);
        return;
    }
    (void)dqlite_conn_exec(conn, "INSERT", &p, 1, NULL);
    if (dqlite_conn_query(conn, "SELECT", NULL, 0, &rows) == 0) {
        while (dqlite_rows_next(rows) == DQLITE_CLIENT_ROW) {
        }
        dqlite_rows_close(rows);
    }
    if (dqlite_conn_prepare(conn, "P", &stmt) == 0) {
        (void)dqlite_stmt_exec(stmt, &p, 1, NULL);
        dqlite_stmt_close(stmt);
    }
    if (dqlite_conn_begin(conn, NULL) == 0) {
        (void)dqlite_conn_rollback(conn);
    }
    dqlite_conn_close(conn);
}

Test(oom, every_allocation_of_a_conversation_may_fail)
{
    struct tcluster *tc = tclusterStart(2, NULL);
    long n;
    tclusterSetLeader(tc, 1); /* a redirect on every connect */
    for (n = 0; n < 1000; n++) {
        atomic_store(&refused, 0);
        atomic_store(&countdown, n);
        in_client = true;
        converse(tc->driver);
        in_client = false;
        if (atomic_load(&refused) == 0) {
            break; /* ran to the end: every allocation was tried */
        }
    }
    cr_assert_lt(n, 1000);
    cr_assert_gt(n, 10);
    tclusterStop(tc);
}

Test(oom, cluster_client_calls)
{
    struct tcluster *tc = tclusterStart(2, NULL);
    long n;
    for (n = 0; n < 1000; n++) {
        struct dqlite_client *cl = NULL;
        struct dqlite_server_info *servers;
        unsigned count;
        uint64_t id;
        char *address;
        atomic_store(&refused, 0);
        atomic_store(&countdown, n);
        in_client = true;
        if (dqlite_client_connect_leader(tc->driver, &cl) == 0) {
            if (dqlite_client_leader(cl, &id, &address) == 0) {
                dqlite_client_free(address);
            }
            if (dqlite_client_cluster(cl, &servers, &count) == 0) {
                dqlite_server_info_free(servers, count);
            }
        }
        dqlite_client_close(cl);
        in_client = false;
        if (atomic_load(&refused) == 0) {
            break;
        }
    }
    cr_assert_lt(n, 1000);
    tclusterStop(tc);
}
