/* Connecting: leader discovery (direct, redirect, voters first), backoff
 * and giving up, registration and OPEN, store refresh from CLUSTER, and
 * the bytes of the exchange against captured vectors. */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "tcluster.h"

TestSuite(connect, .init = fakeWatchdog);

Test(connect, direct_leader_registers_refreshes_and_opens)
{
    struct tcluster *tc = tclusterStart(3, NULL);
    struct dqlite_conn *conn;
    struct dqlite_server_info *servers;
    unsigned n;
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_LEADER), 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_CLIENT), 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_CLUSTER), 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_OPEN), 1);
    cr_assert_eq(dqlite_server_store_get(tc->store, &servers, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(servers[2].address, tclusterAddress(tc, 2));
    cr_assert_eq(servers[2].id, 3);
    dqlite_server_info_free(servers, n);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

Test(connect, follows_a_redirect_to_the_leader)
{
    struct tcluster *tc = tclusterStart(2, NULL);
    struct dqlite_conn *conn;
    tclusterSetLeader(tc, 1);
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_LEADER), 1);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_CLIENT), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_LEADER), 1);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_CLIENT), 1);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_OPEN), 1);
    cr_assert_eq(
        dqlite_conn_exec(conn, "CREATE TABLE t (n INT)", NULL, 0, NULL), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_EXEC_SQL), 1);
    cr_assert_str_eq(dqlite_conn_errmsg(conn), "not an error");
    cr_assert_eq(dqlite_conn_errcode(conn), 0);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

Test(connect, asks_voters_first)
{
    struct tcluster *tc = tclusterStart(3, NULL);
    struct dqlite_server_info list[2] = {
        {3, (char *)tclusterAddress(tc, 2), DQLITE_SPARE},
        {1, (char *)tclusterAddress(tc, 0), DQLITE_VOTER}};
    struct dqlite_conn *conn;
    cr_assert_eq(dqlite_server_store_set(tc->store, list, 2), 0);
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    cr_assert_eq(tclusterCount(tc, 2, PROTO_REQ_LEADER), 0);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

Test(connect, retries_with_backoff_then_gives_up)
{
    struct dqlite_driver_options o;
    struct tcluster *tc;
    struct dqlite_conn *conn;
    int64_t start;
    int64_t elapsed;
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = 400;
    o.backoff_factor_ms = 10;
    o.backoff_cap_ms = 50;
    tc = tclusterStart(1, &o);
    tclusterSetLeader(tc, -1);
    start = clientNowMs();
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    elapsed = clientNowMs() - start;
    cr_assert(strstr(dqlite_conn_errmsg(conn), "no available") != NULL, "%s",
              dqlite_conn_errmsg(conn));
    cr_assert_geq(tclusterCount(tc, 0, PROTO_REQ_LEADER), 3);
    cr_assert(elapsed >= 350 && elapsed < 5000, "%lld", (long long)elapsed);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

Test(connect, retry_limit_bounds_the_rounds)
{
    struct dqlite_driver_options o;
    struct tcluster *tc;
    struct dqlite_conn *conn;
    dqlite_driver_options_init(&o);
    o.retry_limit = 2;
    o.backoff_factor_ms = 1;
    tc = tclusterStart(1, &o);
    tclusterSetLeader(tc, -1);
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_LEADER), 3);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

Test(connect, unreachable_servers_give_no_leader)
{
    struct dqlite_driver_options o;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn;
    dqlite_driver_options_init(&o);
    o.connect_timeout_ms = 200;
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    cr_assert_eq(dqlite_server_store_add(store, 1, "127.0.0.1:1", 0), 0);
    cr_assert_eq(dqlite_server_store_add(store, 2, "nonsense", 0), 0);
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), 0);
    cr_assert_eq(dqlite_driver_connect(driver, "test", &conn),
                 DQLITE_CLIENT_NOLEADER);
    dqlite_conn_close(conn);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

Test(connect, refuses_bad_database_names)
{
    struct tcluster *tc = tclusterStart(1, NULL);
    struct dqlite_conn *conn;
    cr_assert_eq(dqlite_driver_connect(tc->driver, "dir/test", &conn),
                 DQLITE_CLIENT_MISUSE);
    cr_assert(strstr(dqlite_conn_errmsg(conn), "invalid database name") !=
              NULL);
    cr_assert_eq(dqlite_conn_exec(conn, "SELECT 1", NULL, 0, NULL),
                 DQLITE_CLIENT_MISUSE);
    dqlite_conn_close(conn);
    /* The node's grammar (proto/dbname.h): no URI, no :memory:. */
    static const char *bad[] = {"test?mode=memory",
                                ":memory:", "file:%2ftmp%2fx.db?vfs=unix",
                                "file::memory:?cache=shared", "x-wal"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(dqlite_driver_connect(tc->driver, bad[i], &conn),
                     DQLITE_CLIENT_MISUSE, "%s", bad[i]);
        dqlite_conn_close(conn);
    }
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_LEADER), 0);
    tclusterStop(tc);
}

static int log_lines;
static void countLog(void *arg, int level, const char *message)
{
    (void)arg;
    (void)level;
    cr_assert_not_null(message);
    log_lines++;
}

Test(connect, logs_through_the_log_function)
{
    struct dqlite_driver_options o;
    struct tcluster *tc;
    struct dqlite_conn *conn;
    dqlite_driver_options_init(&o);
    o.log = countLog;
    tc = tclusterStart(2, &o);
    tclusterSetLeader(tc, 1);
    cr_assert_eq(dqlite_driver_connect(tc->driver, "test", &conn), 0);
    cr_assert_gt(log_lines, 0);
    dqlite_conn_close(conn);
    tclusterStop(tc);
}

/* The same exchange as go-dqlite's client.FindLeader + Leader (vector 22):
 * byte for byte, through a custom dial function. */
Test(connect, matches_captured_redirect_vector)
{
    struct fake_replay *r = fakeReplayStart("22-find-leader-redirect.txt");
    struct dqlite_driver_options o;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_client *cl;
    uint64_t id;
    char *address;
    cr_assert_not_null(r, "vectors not found");
    dqlite_driver_options_init(&o);
    o.dial = fakeReplayDial;
    o.dial_arg = r;
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    cr_assert_eq(dqlite_server_store_add(store, 2, "127.0.0.1:29003", 0), 0);
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), 0);
    cr_assert_eq(dqlite_client_connect_leader(driver, &cl), 0, "%s",
                 dqlite_client_errmsg(cl));
    cr_assert_eq(dqlite_client_leader(cl, &id, &address), 0);
    cr_assert_eq(id, 1);
    cr_assert_str_eq(address, "127.0.0.1:29001");
    dqlite_client_free(address);
    dqlite_client_close(cl);
    for (int i = 0; i < 100 && !fakeReplayDone(r); i++) {
        clientSleepMs(10);
    }
    cr_assert_eq(fakeReplayErrors(r), 0);
    cr_assert(fakeReplayDone(r));
    fakeReplayStop(r);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

/* The shell's "SELECT 1" (vector 01): LEADER, CLIENT, OPEN, BEGIN, the
 * query, COMMIT, byte for byte (store refresh off, as go-dqlite 1.11). */
Test(connect, matches_captured_shell_vector)
{
    struct fake_replay *r = fakeReplayStart("01-shell-select.txt");
    struct dqlite_driver_options o;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn;
    struct dqlite_rows *rows;
    cr_assert_not_null(r, "vectors not found");
    dqlite_driver_options_init(&o);
    o.dial = fakeReplayDial;
    o.dial_arg = r;
    o.no_store_refresh = true;
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    cr_assert_eq(dqlite_server_store_add(store, 1, "127.0.0.1:29001", 0), 0);
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), 0);
    cr_assert_eq(dqlite_driver_connect(driver, "demo", &conn), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(dqlite_conn_begin(conn, NULL), 0);
    cr_assert_eq(dqlite_conn_query(conn, "SELECT 1", NULL, 0, &rows), 0);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    cr_assert_eq(dqlite_rows_int64(rows, 0), 1);
    cr_assert_eq(dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
    cr_assert_eq(dqlite_rows_close(rows), 0);
    cr_assert_eq(dqlite_conn_commit(conn), 0, "%s", dqlite_conn_errmsg(conn));
    dqlite_conn_close(conn);
    for (int i = 0; i < 100 && !fakeReplayDone(r); i++) {
        clientSleepMs(10);
    }
    cr_assert_eq(fakeReplayErrors(r), 0);
    fakeReplayStop(r);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

/* A pre-1.0 node: closes connections that send version 1, answers LEADER
 * with the legacy body (address only). */
static void legacyNode(struct fake_conn *fc, void *arg)
{
    struct proto_expect legacy = {.legacy = true, .cluster_format = 1};
    struct proto_response r;
    struct buf out;
    (void)arg;
    if (fakeRecv(fc) != 0 || fc->version != PROTO_VERSION_LEGACY) {
        return;
    }
    bufInit(&out);
    protoResponseInit(&r, PROTO_RESP_SERVER);
    r.server.address = protoText(fc->srv->address);
    cr_assert_eq(protoResponseEncode(&r, &legacy, &out), 0);
    fakeSendRaw(fc, out.data, out.len);
    bufFree(&out);
    while (fakeRecv(fc) == 0) {
        if (fc->req.type == PROTO_REQ_CLIENT) {
            protoResponseInit(&r, PROTO_RESP_WELCOME);
        } else {
            protoResponseInit(&r, PROTO_RESP_DB);
        }
        fakeSend(fc, &r);
    }
}

Test(connect, falls_back_to_the_legacy_handshake)
{
    struct fake_server *srv = fakeStart(legacyNode, NULL);
    struct dqlite_driver_options o;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn;
    dqlite_driver_options_init(&o);
    o.no_store_refresh = true;
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    cr_assert_eq(dqlite_server_store_add(store, 1, srv->address, 0), 0);
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), 0);
    cr_assert_eq(dqlite_driver_connect(driver, "test", &conn), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(fakeConns(srv), 2);
    cr_assert_eq(fakeCount(srv, PROTO_REQ_LEADER), 2);
    cr_assert_eq(fakeCount(srv, PROTO_REQ_OPEN), 1);
    dqlite_conn_close(conn);
    fakeStop(srv);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

Test(connect, refreshes_a_file_store_from_cluster)
{
    char dir[] = "/tmp/dqlite-client-refresh-XXXXXX";
    char path[128];
    struct tcluster *tc = tclusterStart(3, NULL);
    struct dqlite_server_store *file;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn;
    struct dqlite_server_info *servers;
    unsigned n;
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/servers.db", dir);
    cr_assert_eq(dqlite_server_store_open(path, &file), 0);
    cr_assert_eq(dqlite_server_store_add(file, 0, tclusterAddress(tc, 0), 0),
                 0);
    cr_assert_eq(dqlite_driver_create(file, NULL, &driver), 0);
    cr_assert_eq(dqlite_driver_connect(driver, "test", &conn), 0);
    dqlite_conn_close(conn);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(file);
    cr_assert_eq(dqlite_server_store_open(path, &file), 0);
    cr_assert_eq(dqlite_server_store_get(file, &servers, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(servers[1].address, tclusterAddress(tc, 1));
    dqlite_server_info_free(servers, n);
    dqlite_server_store_close(file);
    unlink(path);
    rmdir(dir);
    tclusterStop(tc);
}
