/* Server stores: the in-memory one and the SQLite file one (go-dqlite's
 * DefaultNodeStore layout), shared and copied. */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake.h"
#include "lib/alloc.h"
#include "tcluster.h"

static char dir[] = "/tmp/dqlite-client-store-XXXXXX";
static char path[128];

static void setup(void)
{
    fakeWatchdog();
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/servers.db", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, memory_set_get_copies)
{
    struct dqlite_server_store *st;
    struct dqlite_server_info in[2] = {{1, "127.0.0.1:9001", DQLITE_VOTER},
                                       {2, "127.0.0.1:9002", DQLITE_SPARE}};
    struct dqlite_server_info *out;
    unsigned n;
    cr_assert_eq(dqlite_server_store_create(&st), 0);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 0);
    dqlite_server_info_free(out, n);
    cr_assert_eq(dqlite_server_store_set(st, in, 2), 0);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out[1].address, "127.0.0.1:9002");
    cr_assert_eq(out[1].id, 2);
    cr_assert_eq(out[1].role, DQLITE_SPARE);
    cr_assert_neq(out[0].address, in[0].address);
    dqlite_server_info_free(out, n);
    dqlite_server_store_close(st);
}

Test(store, memory_add_skips_known_addresses)
{
    struct dqlite_server_store *st;
    struct dqlite_server_info *out;
    unsigned n;
    cr_assert_eq(dqlite_server_store_create(&st), 0);
    cr_assert_eq(dqlite_server_store_add(st, 0, "a:1", DQLITE_VOTER), 0);
    cr_assert_eq(dqlite_server_store_add(st, 7, "b:2", DQLITE_STANDBY), 0);
    cr_assert_eq(dqlite_server_store_add(st, 9, "a:1", DQLITE_SPARE), 0);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(out[0].id, 1);
    cr_assert_eq(out[1].id, 7);
    cr_assert_eq(out[1].role, DQLITE_STANDBY);
    dqlite_server_info_free(out, n);
    dqlite_server_store_close(st);
}

Test(store, rejects_bad_entries)
{
    struct dqlite_server_store *st;
    struct dqlite_server_info bad = {1, "", DQLITE_VOTER};
    cr_assert_eq(dqlite_server_store_create(&st), 0);
    cr_assert_eq(dqlite_server_store_set(st, &bad, 1), DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_server_store_add(st, 1, NULL, 0), DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_server_store_set(NULL, NULL, 0), DQLITE_CLIENT_MISUSE);
    dqlite_server_store_close(st);
    dqlite_server_store_close(NULL);
}

Test(store, file_persists_addresses_like_go_dqlite)
{
    struct dqlite_server_store *st;
    struct dqlite_server_info in[2] = {{5, "10.0.0.1:9001", DQLITE_SPARE},
                                       {6, "10.0.0.2:9001", DQLITE_VOTER}};
    struct dqlite_server_info *out;
    unsigned n;
    cr_assert_eq(dqlite_server_store_open(path, &st), 0);
    cr_assert_eq(dqlite_server_store_set(st, in, 2), 0);
    dqlite_server_store_close(st);

    cr_assert_eq(dqlite_server_store_open(path, &st), 0);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out[0].address, "10.0.0.1:9001");
    cr_assert_eq(out[0].id, 1); /* only addresses are kept, as in Go */
    cr_assert_eq(out[0].role, DQLITE_VOTER);
    dqlite_server_info_free(out, n);
    cr_assert_eq(dqlite_server_store_add(st, 0, "10.0.0.3:9001", 0), 0);
    cr_assert_eq(dqlite_server_store_set(st, in + 1, 1), 0);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out[0].address, "10.0.0.2:9001");
    dqlite_server_info_free(out, n);
    dqlite_server_store_close(st);
}

Test(store, file_uses_the_servers_table)
{
    struct dqlite_server_store *st;
    sqlite3 *db;
    sqlite3_stmt *stmt;
    cr_assert_eq(dqlite_server_store_open(path, &st), 0);
    cr_assert_eq(dqlite_server_store_add(st, 0, "1.2.3.4:5", 0), 0);
    dqlite_server_store_close(st);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT address FROM main.servers", -1,
                                    &stmt, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(stmt, 0), "1.2.3.4:5");
    sqlite3_finalize(stmt);
    /* A file go-dqlite wrote is read back. */
    cr_assert_eq(sqlite3_exec(db,
                              "INSERT INTO servers(address) VALUES "
                              "('6.7.8.9:10')",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    struct dqlite_server_info *out;
    unsigned n;
    cr_assert_eq(dqlite_server_store_open(path, &st), 0);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out[1].address, "6.7.8.9:10");
    dqlite_server_info_free(out, n);
    dqlite_server_store_close(st);
}

Test(store, file_open_fails_on_bad_path)
{
    struct dqlite_server_store *st = NULL;
    cr_assert_eq(dqlite_server_store_open("/nonexistent/dir/x.db", &st),
                 DQLITE_CLIENT_STORE);
}

/* Every allocation of the store's calls may fail: each then reports
 * NOMEM (or succeeds) and leaks nothing (checked under SAN=1). */
Test(store, out_of_memory_unwinds)
{
    struct dqlite_server_info in[2] = {{1, "a:1", 0}, {2, "b:2", 0}};
    for (long i = 0; i < 40; i++) {
        struct dqlite_server_store *st = NULL;
        struct dqlite_server_info *out;
        unsigned n;
        int rv;
        libAllocFailAfter(i, 1);
        rv = dqlite_server_store_open(path, &st);
        if (rv == 0) {
            rv = dqlite_server_store_set(st, in, 2);
            cr_assert(rv == 0 || rv == DQLITE_CLIENT_NOMEM ||
                      rv == DQLITE_CLIENT_STORE);
            rv = dqlite_server_store_add(st, 0, "c:3", 0);
            cr_assert(rv == 0 || rv == DQLITE_CLIENT_NOMEM);
            if (dqlite_server_store_get(st, &out, &n) == 0) {
                dqlite_server_info_free(out, n);
            }
            dqlite_server_store_close(st);
        }
        libAllocFailAfter(-1, 1);
        if (dqlite_server_store_create(&st) == 0) {
            libAllocFailAfter(i, 1);
            rv = dqlite_server_store_set(st, in, 2);
            cr_assert(rv == 0 || rv == DQLITE_CLIENT_NOMEM);
            if (dqlite_server_store_get(st, &out, &n) == 0) {
                dqlite_server_info_free(out, n);
            }
            libAllocFailAfter(-1, 1);
            dqlite_server_store_close(st);
        }
    }
    fakeLeakCheck();
}

/* ------------------------------------------------------ custom stores */

/* A store implemented by the test: a fixed list it hands out, what it was
 * last given, and counts of every call. */
struct mine {
    struct dqlite_server_info list[4];
    unsigned n;
    bool fail_get;
    bool fail_set;
    unsigned gets, sets, releases, closes;
    unsigned set_n;
    char set_addr[4][64];
    uint64_t set_id[4];
    int set_role[4];
};

static int mineGet(void *arg, struct dqlite_server_info **servers, unsigned *n)
{
    struct mine *m = arg;
    m->gets++;
    if (m->fail_get) {
        return -1;
    }
    *servers = m->list;
    *n = m->n;
    return 0;
}

static int mineSet(void *arg, const struct dqlite_server_info *servers,
                   unsigned n)
{
    struct mine *m = arg;
    m->sets++;
    if (m->fail_set) {
        return -1;
    }
    m->set_n = n;
    for (unsigned i = 0; i < n && i < 4; i++) {
        snprintf(m->set_addr[i], sizeof m->set_addr[i], "%s",
                 servers[i].address);
        m->set_id[i] = servers[i].id;
        m->set_role[i] = servers[i].role;
    }
    return 0;
}

static void mineRelease(void *arg, struct dqlite_server_info *servers,
                        unsigned n)
{
    struct mine *m = arg;
    cr_assert_eq(servers, m->list);
    cr_assert_eq(n, m->n);
    m->releases++;
}

static void mineClose(void *arg)
{
    ((struct mine *)arg)->closes++;
}

static const struct dqlite_server_store_methods mine_methods = {
    .get = mineGet, .set = mineSet, .release = mineRelease, .close = mineClose};

Test(store, custom_store_is_called_through_its_methods)
{
    struct mine m = {.list = {{5, "127.0.0.1:9005", DQLITE_STANDBY},
                              {6, "127.0.0.1:9006", DQLITE_VOTER}},
                     .n = 2};
    struct dqlite_server_info in[1] = {{9, "127.0.0.1:9009", DQLITE_SPARE}};
    struct dqlite_server_store *st;
    struct dqlite_server_info *out;
    unsigned n;
    cr_assert_eq(dqlite_server_store_custom(&mine_methods, &m, &st), 0);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_neq(out, m.list); /* a copy the caller owns */
    cr_assert_eq(out[0].id, 5);
    cr_assert_eq(out[0].role, DQLITE_STANDBY);
    cr_assert_str_eq(out[1].address, "127.0.0.1:9006");
    dqlite_server_info_free(out, n);
    cr_assert_eq(m.releases, 1);
    cr_assert_eq(dqlite_server_store_set(st, in, 1), 0);
    cr_assert_eq(m.set_n, 1);
    cr_assert_str_eq(m.set_addr[0], "127.0.0.1:9009");
    cr_assert_eq(m.set_id[0], 9);
    cr_assert_eq(m.set_role[0], DQLITE_SPARE);
    /* add = get, then set of the longer list */
    cr_assert_eq(dqlite_server_store_add(st, 7, "127.0.0.1:9007", DQLITE_VOTER),
                 0);
    cr_assert_eq(m.set_n, 3);
    cr_assert_str_eq(m.set_addr[2], "127.0.0.1:9007");
    cr_assert_eq(m.gets, 2);
    cr_assert_eq(m.releases, 2);
    dqlite_server_store_close(st);
    cr_assert_eq(m.closes, 1);
}

Test(store, custom_store_failures_are_store_errors)
{
    struct mine m = {.list = {{5, NULL, DQLITE_VOTER}}, .n = 1};
    struct dqlite_server_info in[1] = {{9, "127.0.0.1:9009", DQLITE_SPARE}};
    struct dqlite_server_store_methods no_set = {.get = mineGet};
    struct dqlite_server_store *st;
    struct dqlite_server_info *out = NULL;
    unsigned n = 0;
    cr_assert_eq(dqlite_server_store_custom(&no_set, &m, &st),
                 DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_server_store_custom(NULL, &m, &st),
                 DQLITE_CLIENT_MISUSE);
    cr_assert_eq(dqlite_server_store_custom(&mine_methods, &m, &st), 0);
    /* A list with a NULL address is refused, and still released. */
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), DQLITE_CLIENT_STORE);
    cr_assert_eq(m.releases, 1);
    m.list[0].address = "127.0.0.1:1";
    m.fail_get = true;
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), DQLITE_CLIENT_STORE);
    m.fail_set = true;
    cr_assert_eq(dqlite_server_store_set(st, in, 1), DQLITE_CLIENT_STORE);
    dqlite_server_store_close(st);
}

/* The driver reads a custom store to find the leader and writes the
 * leader's CLUSTER answer back through it. */
Test(store, driver_connects_through_a_custom_store)
{
    struct tcluster *tc = tclusterStart(3, NULL);
    struct mine m = {.n = 1};
    struct dqlite_server_store *st;
    struct dqlite_driver *driver;
    struct dqlite_conn *conn;
    m.list[0].id = 1;
    m.list[0].role = DQLITE_VOTER;
    m.list[0].address = (char *)tclusterAddress(tc, 1); /* a follower */
    cr_assert_eq(dqlite_server_store_custom(&mine_methods, &m, &st), 0);
    cr_assert_eq(dqlite_driver_create(st, NULL, &driver), 0);
    cr_assert_eq(dqlite_driver_connect(driver, "test", &conn), 0, "%s",
                 dqlite_conn_errmsg(conn));
    cr_assert_eq(
        dqlite_conn_exec(conn, "CREATE TABLE t (n INT)", NULL, 0, NULL), 0);
    cr_assert_geq(m.gets, 1);
    cr_assert_eq(m.releases, m.gets);
    cr_assert_eq(m.sets, 1);
    cr_assert_eq(m.set_n, 3);
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_str_eq(m.set_addr[i], tclusterAddress(tc, (int)i));
        cr_assert_eq(m.set_id[i], i + 1);
    }
    dqlite_conn_close(conn);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(st);
    tclusterStop(tc);
}

/* ------------------------------------------------- a table of one's own */

static int countRows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt;
    int n = -1;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(db));
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        n = sqlite3_column_int(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return n;
}

Test(store, db_store_uses_the_table_and_column_given)
{
    struct dqlite_server_info in[2] = {{3, "127.0.0.1:9003", DQLITE_VOTER},
                                       {4, "127.0.0.1:9004", DQLITE_SPARE}};
    struct dqlite_server_store *st;
    struct dqlite_server_info *out;
    unsigned n;
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "ATTACH ':memory:' AS aux", NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(
        dqlite_server_store_open_db(db, "aux", "my \"nodes\"", "where", &st),
        0);
    cr_assert_eq(dqlite_server_store_set(st, in, 2), 0);
    cr_assert_eq(countRows(db, "SELECT count(*) FROM aux.\"my \"\"nodes\"\"\" "
                               "WHERE \"where\" LIKE '127.0.0.1:900_'"),
                 2);
    cr_assert_eq(countRows(db, "SELECT count(*) FROM sqlite_master WHERE "
                               "name = 'servers'"),
                 0);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out[1].address, "127.0.0.1:9004");
    cr_assert_eq(out[1].role, DQLITE_VOTER); /* only addresses are kept */
    dqlite_server_info_free(out, n);
    /* Inside the caller's transaction, a write is the caller's to undo. */
    cr_assert_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(dqlite_server_store_set(st, in, 1), 0);
    cr_assert_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(dqlite_server_store_get(st, &out, &n), 0);
    cr_assert_eq(n, 2);
    dqlite_server_info_free(out, n);
    dqlite_server_store_close(st);
    /* The handle was borrowed: still open. */
    cr_assert_eq(countRows(db, "SELECT count(*) FROM aux.\"my \"\"nodes\"\"\""),
                 2);
    cr_assert_eq(dqlite_server_store_open_db(db, "nope", "t", "c", &st),
                 DQLITE_CLIENT_STORE);
    cr_assert_eq(dqlite_server_store_open_db(db, "main", "", "c", &st),
                 DQLITE_CLIENT_MISUSE);
    sqlite3_close(db);
}
