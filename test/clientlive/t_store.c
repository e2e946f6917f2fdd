/*
 * The client-live tests of server stores, driver options and leader
 * discovery: in-memory and file stores (and their refresh from the
 * leader's CLUSTER answer), the option defaults, every option with an
 * observable effect (timeouts, retry limit, backoff, dial and log
 * functions, no_store_refresh), and DQLITE_CLIENT_NOLEADER for stores that
 * lead nowhere.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "live.h"

#define DB "live.db"

static bool hasAddress(const struct dqlite_server_info *servers, unsigned n,
                       const char *address, uint64_t *id)
{
    unsigned i;
    for (i = 0; i < n; i++) {
        if (strcmp(servers[i].address, address) == 0) {
            if (id != NULL) {
                *id = servers[i].id;
            }
            return true;
        }
    }
    return false;
}

static void testMemoryStore(void)
{
    struct dqlite_server_store *store = NULL;
    struct dqlite_server_info *got = NULL;
    struct dqlite_server_info set[2] = {
        {.id = 7, .address = "127.0.0.1:1", .role = DQLITE_STANDBY},
        {.id = 8, .address = "127.0.0.1:2", .role = DQLITE_SPARE},
    };
    unsigned n = 0;
    CHECK(dqlite_server_store_create(&store) == 0, "create");
    CHECK(dqlite_server_store_add(store, 3, "127.0.0.1:9", DQLITE_VOTER) == 0,
          "add");
    CHECK(dqlite_server_store_add(store, 4, "127.0.0.1:9", DQLITE_SPARE) == 0,
          "add of a known address");
    CHECK(dqlite_server_store_get(store, &got, &n) == 0, "get");
    CHECK(n == 1 && got[0].id == 3 && got[0].role == DQLITE_VOTER &&
              strcmp(got[0].address, "127.0.0.1:9") == 0,
          "got %u servers, first id %llu", n,
          n > 0 ? (unsigned long long)got[0].id : 0ULL);
    dqlite_server_info_free(got, n);
    got = NULL;
    CHECK(dqlite_server_store_set(store, set, 2) == 0, "set");
    CHECK(dqlite_server_store_get(store, &got, &n) == 0, "get after set");
    CHECK(n == 2 && got[0].id == 7 && got[0].role == DQLITE_STANDBY &&
              got[1].id == 8 && got[1].role == DQLITE_SPARE &&
              strcmp(got[1].address, "127.0.0.1:2") == 0,
          "set then get: %u servers", n);
out:
    dqlite_server_info_free(got, n);
    dqlite_server_store_close(store);
}

static void testFileStore(void)
{
    char path[512];
    struct dqlite_server_store *store = NULL;
    struct dqlite_server_info *got = NULL;
    struct dqlite_server_info set[2] = {
        {.id = 5, .address = "127.0.0.1:5", .role = DQLITE_STANDBY},
        {.id = 6, .address = "127.0.0.1:6", .role = DQLITE_VOTER},
    };
    unsigned n = 0;
    snprintf(path, sizeof path, "%s/servers-a.sqlite", ctx->dir);
    CHECK(dqlite_server_store_open(path, &store) == 0, "open %s", path);
    CHECK(dqlite_server_store_set(store, set, 2) == 0, "set");
    CHECK(dqlite_server_store_add(store, 9, "127.0.0.1:7", DQLITE_SPARE) == 0,
          "add");
    dqlite_server_store_close(store);
    store = NULL;
    CHECK(dqlite_server_store_open(path, &store) == 0, "reopen");
    CHECK(dqlite_server_store_get(store, &got, &n) == 0, "get");
    /* Only addresses are kept: every server reads back as id 1, voter. */
    CHECK(n == 3 && hasAddress(got, n, "127.0.0.1:5", NULL) &&
              hasAddress(got, n, "127.0.0.1:6", NULL) &&
              hasAddress(got, n, "127.0.0.1:7", NULL) && got[0].id == 1 &&
              got[2].id == 1 && got[0].role == DQLITE_VOTER &&
              got[2].role == DQLITE_VOTER,
          "reopened store: %u servers", n);
    dqlite_server_info_free(got, n);
    got = NULL;
    dqlite_server_store_close(store);
    store = NULL;
    snprintf(path, sizeof path, "%s/no-such-dir/servers.sqlite", ctx->dir);
    CHECK(dqlite_server_store_open(path, &store) == DQLITE_CLIENT_STORE,
          "a store in a missing directory: not DQLITE_CLIENT_STORE");
out:
    dqlite_server_info_free(got, n);
    dqlite_server_store_close(store);
}

/* Connects through a store holding one follower's address; `refresh`
 * says whether the driver may rewrite the store. */
static void refreshCase(struct dqlite_server_store *store, bool refresh,
                        bool exact_ids)
{
    struct dqlite_driver_options opts;
    struct dqlite_driver *driver = NULL;
    struct dqlite_conn *conn = NULL;
    struct dqlite_server_info *got = NULL;
    unsigned n = 0;
    unsigned i;
    uint64_t id = 0;
    dqlite_driver_options_init(&opts);
    opts.no_store_refresh = !refresh;
    CHECK(dqlite_driver_create(store, &opts, &driver) == 0, "driver");
    CHECK_RC(conn, dqlite_driver_connect(driver, DB, &conn), 0);
    CHECK(dqlite_server_store_get(store, &got, &n) == 0, "get");
    if (!refresh) {
        CHECK(n == 1, "no_store_refresh: the store has %u servers", n);
        goto out;
    }
    CHECK(n >= LIVE_NODES, "refreshed store: %u servers", n);
    for (i = 0; i < LIVE_NODES; i++) {
        CHECK(hasAddress(got, n, ctx->nodes[i].address, &id),
              "%s missing from the refreshed store", ctx->nodes[i].address);
        CHECK(id == (exact_ids ? ctx->nodes[i].id : 1),
              "%s has id %llu in the store, the cluster says %llu",
              ctx->nodes[i].address, (unsigned long long)id,
              (unsigned long long)ctx->nodes[i].id);
    }
out:
    dqlite_server_info_free(got, n);
    dqlite_conn_close(conn);
    dqlite_driver_destroy(driver);
}

static void testRefreshMemory(void)
{
    struct dqlite_server_store *store = NULL;
    const char *one[1] = {ctx->nodes[2].address};
    CHECK(liveStoreOf(&store, one, 1) == 0, "store");
    refreshCase(store, false, true);
    CHECK(ctx->reason[0] == '\0', "without refresh");
    refreshCase(store, true, true);
out:
    dqlite_server_store_close(store);
}

static void testRefreshFile(void)
{
    char path[512];
    struct dqlite_server_store *store = NULL;
    struct dqlite_server_info *got = NULL;
    unsigned n = 0;
    unsigned i;
    snprintf(path, sizeof path, "%s/servers-b.sqlite", ctx->dir);
    CHECK(dqlite_server_store_open(path, &store) == 0, "open");
    CHECK(dqlite_server_store_add(store, 0, ctx->nodes[1].address,
                                  DQLITE_VOTER) == 0,
          "add");
    refreshCase(store, true, false);
    CHECK(ctx->reason[0] == '\0', "refresh");
    dqlite_server_store_close(store);
    store = NULL;
    CHECK(dqlite_server_store_open(path, &store) == 0, "reopen");
    CHECK(dqlite_server_store_get(store, &got, &n) == 0, "get");
    for (i = 0; i < LIVE_NODES; i++) {
        CHECK(hasAddress(got, n, ctx->nodes[i].address, NULL),
              "%s not written to the file store (%u servers)",
              ctx->nodes[i].address, n);
    }
out:
    dqlite_server_info_free(got, n);
    dqlite_server_store_close(store);
}

static void testOptionDefaults(void)
{
    struct dqlite_driver_options opts;
    memset(&opts, 0xff, sizeof opts);
    dqlite_driver_options_init(&opts);
    CHECK(opts.backoff_factor_ms == DQLITE_CLIENT_DEFAULT_BACKOFF_FACTOR_MS &&
              opts.backoff_cap_ms == DQLITE_CLIENT_DEFAULT_BACKOFF_CAP_MS &&
              opts.connect_timeout_ms ==
                  DQLITE_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS &&
              opts.call_timeout_ms == DQLITE_CLIENT_DEFAULT_CALL_TIMEOUT_MS &&
              opts.dial_timeout_ms == DQLITE_CLIENT_DEFAULT_DIAL_TIMEOUT_MS &&
              opts.attempt_timeout_ms ==
                  DQLITE_CLIENT_DEFAULT_ATTEMPT_TIMEOUT_MS,
          "defaults differ from the header's");
    CHECK(opts.retry_limit == 0 && opts.dial == NULL && opts.log == NULL &&
              !opts.no_store_refresh && opts.log_level == 0,
          "retry_limit %u, dial %p, log %p, no_store_refresh %d",
          opts.retry_limit, (void *)opts.dial, (void *)opts.log,
          (int)opts.no_store_refresh);
out:
    return;
}

/* A driver with NULL options (the defaults) connects and runs SQL. */
static void testDefaultDriver(void)
{
    struct dqlite_server_store *store = NULL;
    struct dqlite_driver *driver = NULL;
    struct dqlite_conn *conn = NULL;
    const char *addrs[1] = {ctx->nodes[0].address};
    int64_t v = 0;
    CHECK(dqlite_driver_create(NULL, NULL, &driver) == DQLITE_CLIENT_MISUSE,
          "a driver without a store");
    CHECK(liveDriver(addrs, 1, NULL, &store, &driver) == 0, "driver");
    CHECK_RC(conn, dqlite_driver_connect(driver, DB, &conn), 0);
    CHECK(strcmp(dqlite_conn_errmsg(conn), "not an error") == 0 &&
              dqlite_conn_errcode(conn) == 0,
          "errmsg after success: %s", dqlite_conn_errmsg(conn));
    CHECK_RC(conn, liveQueryInt(conn, "SELECT 6*7", &v), 0);
    CHECK(v == 42, "SELECT 6*7 gave %lld", (long long)v);
out:
    dqlite_conn_close(conn);
    liveDriverFree(store, driver);
}

void liveStoreTests(void)
{
    liveRun("store.memory", testMemoryStore);
    liveRun("store.file", testFileStore);
    liveRun("store.refresh-from-cluster", testRefreshMemory);
    liveRun("store.file-refresh-from-cluster", testRefreshFile);
    liveRun("options.defaults", testOptionDefaults);
    liveRun("driver.default-options", testDefaultDriver);
    liveDiscoveryTests();
}
