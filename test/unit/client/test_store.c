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
