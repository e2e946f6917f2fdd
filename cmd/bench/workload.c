/*
 * dqlite-bench's workloads. One item ("insert:8/1024": a workload, its
 * client count and value size) runs N client threads, each on its own
 * connection, until the duration or the op budget is spent; each op's
 * latency is recorded. The point-read and scan table (bench_r<bytes>, ids
 * 1..--read-rows) is loaded once, server side, in ~1 MB statements, and the
 * load is reported as its own row. Busy answers are retried after a short
 * random pause and counted: the op's latency includes its retries.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

enum bench_kind { KIND_INSERT, KIND_TX, KIND_READ, KIND_SCAN, KIND_MIX };

struct bench_item {
    char name[32];
    enum bench_kind kind;
    unsigned tx_rows; /* KIND_TX */
    unsigned clients;
    unsigned value_bytes;
    bool long_query; /* "+long": a CPU-bound query runs meanwhile */
};

/* "+long": one more connection runs this CPU-bound query (a few seconds
 * of SQLite's VM, no I/O) over and over while the item's clients run, so
 * their figures show what one long query does to everyone else. */
#define BENCH_LONG_QUERY                                                  \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE " \
    "x < 20000000) SELECT count(*) FROM c"

struct bench_long {
    pthread_t thread;
    const struct bench_options *o;
    struct dqlite_driver *driver;
    atomic_bool stop;
    uint64_t done, failed; /* long queries completed, failed */
    char errmsg[256];
};

struct bench_shared {
    pthread_barrier_t barrier;
    atomic_uint_fast64_t claimed;
    atomic_bool failed_once; /* the first failure is printed */
};

struct bench_client {
    pthread_t thread;
    const struct bench_item *item;
    const struct bench_options *o;
    struct dqlite_driver *driver;
    struct bench_shared *shared;
    struct bench_conn conn;
    struct bench_latencies lat;
    uint64_t ops, rows, busy, errors;
    uint64_t rng;
    uint64_t deadline_ns;
    unsigned char *value; /* value_bytes, refilled before every insert */
    int setup_rv;
};

uint64_t benchNowNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rngNext(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static void busyPause(struct bench_client *c)
{
    struct timespec ts = {0, (long)(100000 + rngNext(&c->rng) % 900000)};
    c->busy++;
    nanosleep(&ts, NULL);
}

static int opInsert(struct bench_client *c)
{
    struct dqlite_value v = {.type = DQLITE_CLIENT_BLOB};
    size_t n = c->item->value_bytes;
    int rv;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t r = rngNext(&c->rng);
        memcpy(c->value + i, &r, 8);
    }
    v.blob.data = c->value;
    v.blob.len = n;
    while ((rv = benchConnExec(&c->conn, STMT_INSERT, &v)) == BENCH_BUSY) {
        busyPause(c);
    }
    c->rows += rv == BENCH_OK;
    return rv;
}

static int opTxOnce(struct bench_client *c)
{
    int rv = benchConnBegin(&c->conn);
    for (unsigned i = 0; rv == BENCH_OK && i < c->item->tx_rows; i++) {
        rv = opInsert(c);
    }
    if (rv == BENCH_OK) {
        rv = benchConnCommit(&c->conn);
    }
    if (rv != BENCH_OK) {
        benchConnRollback(&c->conn);
    }
    return rv;
}

static int opTx(struct bench_client *c)
{
    uint64_t rows = c->rows;
    int rv;
    while ((rv = opTxOnce(c)) == BENCH_BUSY) {
        c->rows = rows;
        busyPause(c);
    }
    return rv;
}

static int opRead(struct bench_client *c)
{
    int64_t id = 1 + (int64_t)(rngNext(&c->rng) % c->o->read_rows);
    return benchConnQuery(&c->conn, STMT_READ, id, &c->rows);
}

static int opOnce(struct bench_client *c)
{
    switch (c->item->kind) {
    case KIND_INSERT:
        return opInsert(c);
    case KIND_TX:
        return opTx(c);
    case KIND_READ:
        return opRead(c);
    case KIND_SCAN:
        return benchConnQuery(&c->conn, STMT_SCAN, c->o->scan_rows, &c->rows);
    default:
        return rngNext(&c->rng) % 10 == 0 ? opInsert(c) : opRead(c);
    }
}

static bool opClaim(struct bench_client *c)
{
    if (c->o->duration_s > 0 && benchNowNs() >= c->deadline_ns) {
        return false;
    }
    return c->o->max_ops == 0 ||
           atomic_fetch_add(&c->shared->claimed, 1) < c->o->max_ops;
}

static void opFailed(struct bench_client *c)
{
    struct timespec ts = {0, 10000000};
    c->errors++;
    if (!atomic_exchange(&c->shared->failed_once, true)) {
        fprintf(stderr, "dqlite-bench: %s: %s\n", c->item->name,
                c->conn.errmsg);
    }
    nanosleep(&ts, NULL);
}

static void *clientMain(void *arg)
{
    struct bench_client *c = arg;
    unsigned failures_in_row = 0;
    c->setup_rv = benchConnOpen(&c->conn, c->driver, c->o);
    if (c->setup_rv == BENCH_OK) {
        c->setup_rv = benchConnPrepare(&c->conn, c->item->value_bytes);
    }
    if (c->setup_rv != BENCH_OK &&
        !atomic_exchange(&c->shared->failed_once, true)) {
        fprintf(stderr, "dqlite-bench: client setup: %s\n", c->conn.errmsg);
    }
    pthread_barrier_wait(&c->shared->barrier);
    c->deadline_ns = benchNowNs() + (uint64_t)(c->o->duration_s * 1e9);
    while (c->setup_rv == BENCH_OK && failures_in_row < 100 && opClaim(c)) {
        uint64_t start_ns = benchNowNs();
        if (opOnce(c) == BENCH_OK) {
            benchLatAdd(&c->lat, benchNowNs() - start_ns);
            c->ops++;
            failures_in_row = 0;
        } else {
            opFailed(c);
            failures_in_row++;
        }
    }
    benchConnClose(&c->conn);
    return NULL;
}

static void *longMain(void *arg)
{
    struct bench_long *l = arg;
    struct bench_conn c;
    int64_t n;
    if (benchConnOpen(&c, l->driver, l->o) != BENCH_OK) {
        snprintf(l->errmsg, sizeof l->errmsg, "%s", c.errmsg);
        l->failed++;
        return NULL;
    }
    while (!atomic_load(&l->stop)) {
        if (benchConnQueryInt(&c, BENCH_LONG_QUERY, &n) == BENCH_OK) {
            l->done++;
        } else {
            snprintf(l->errmsg, sizeof l->errmsg, "%s", c.errmsg);
            l->failed++;
        }
    }
    benchConnClose(&c);
    return NULL;
}

static int itemParse(const char *text, struct bench_item *it)
{
    static const struct {
        const char *name;
        enum bench_kind kind;
        unsigned tx_rows;
    } kinds[] = {{"insert", KIND_INSERT, 0}, {"tx100", KIND_TX, 100},
                 {"tx1000", KIND_TX, 1000},  {"read", KIND_READ, 0},
                 {"scan", KIND_SCAN, 0},     {"mix", KIND_MIX, 0}};
    size_t len = strcspn(text, ":/+");
    it->clients = 1;
    it->value_bytes = 100;
    const char *plus = strchr(text, '+');
    it->long_query = plus != NULL && strcmp(plus, "+long") == 0;
    if (plus != NULL && !it->long_query) {
        return -1;
    }
    if (text[len] == ':') {
        it->clients = (unsigned)strtoul(text + len + 1, NULL, 10);
    }
    const char *slash = strchr(text, '/');
    if (slash != NULL) {
        it->value_bytes = (unsigned)strtoul(slash + 1, NULL, 10);
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strlen(kinds[i].name) == len &&
            !strncmp(text, kinds[i].name, len)) {
            snprintf(it->name, sizeof it->name, "%s%s", kinds[i].name,
                     it->long_query ? "+long" : "");
            it->kind = kinds[i].kind;
            it->tx_rows = kinds[i].tx_rows;
            return it->clients >= 1 && it->clients <= BENCH_MAX_CLIENTS &&
                           it->value_bytes >= 8 && it->value_bytes <= 1 << 20
                       ? 0
                       : -1;
        }
    }
    return -1;
}

/* Fills the read table up to --read-rows rows; reports the load if any. */
static int loadReadTable(const struct bench_options *o, struct bench_conn *c,
                         unsigned value_bytes)
{
    char sql[512];
    int64_t have;
    struct bench_result r = {.clients = 1, .value_bytes = value_bytes};
    unsigned chunk = value_bytes >= 1000 ? 1000 : 5000;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM bench_r%u", value_bytes);
    if (benchConnQueryInt(c, sql, &have) != BENCH_OK) {
        return -1;
    }
    if (have >= (int64_t)o->read_rows) {
        return 0;
    }
    snprintf(r.workload, sizeof r.workload, "load");
    benchSample(o, &r.before);
    uint64_t start_ns = benchNowNs();
    for (int64_t from = have + 1; from <= (int64_t)o->read_rows;
         from += chunk) {
        int64_t to = from + chunk - 1 < (int64_t)o->read_rows
                         ? from + chunk - 1
                         : (int64_t)o->read_rows;
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE s(x) AS (SELECT %lld UNION ALL SELECT x+1 "
                 "FROM s WHERE x < %lld) INSERT INTO bench_r%u(id, v) "
                 "SELECT x, randomblob(%u) FROM s",
                 (long long)from, (long long)to, value_bytes, value_bytes);
        uint64_t t0_ns = benchNowNs();
        if (benchConnExecSql(c, sql) != BENCH_OK) {
            return -1;
        }
        benchLatAdd(&r.lat, benchNowNs() - t0_ns);
        r.ops++;
        r.rows += (uint64_t)(to - from + 1);
    }
    r.seconds = (double)(benchNowNs() - start_ns) / 1e9;
    benchSample(o, &r.after);
    benchReport(o, &r);
    return 0;
}

static int itemSetup(const struct bench_options *o,
                     struct dqlite_driver *driver, const struct bench_item *it)
{
    struct bench_conn c;
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS bench_w (id INTEGER PRIMARY KEY, "
             "v BLOB); CREATE TABLE IF NOT EXISTS bench_r%u "
             "(id INTEGER PRIMARY KEY, v BLOB)",
             it->value_bytes);
    int rv = benchConnOpen(&c, driver, o) == BENCH_OK ? 0 : -1;
    if (rv == 0) {
        rv = benchConnExecSql(&c, sql) == BENCH_OK ? 0 : -1;
    }
    if (rv == 0 && it->kind != KIND_INSERT && it->kind != KIND_TX) {
        rv = loadReadTable(o, &c, it->value_bytes);
    }
    if (rv != 0) {
        fprintf(stderr, "dqlite-bench: setup of %s: %s\n", it->name, c.errmsg);
    }
    benchConnClose(&c);
    return rv;
}

static void itemCollect(struct bench_client *clients, unsigned n,
                        struct bench_result *r)
{
    for (unsigned i = 0; i < n; i++) {
        struct bench_client *c = &clients[i];
        pthread_join(c->thread, NULL);
        r->ops += c->ops;
        r->rows += c->rows;
        r->busy += c->busy;
        r->errors += c->errors;
        benchLatMerge(&r->lat, &c->lat);
        benchLatFree(&c->lat);
        free(c->value);
    }
}

static int itemRun(const struct bench_options *o, struct dqlite_driver *driver,
                   const struct bench_item *it, struct bench_result *r)
{
    struct bench_shared shared = {.claimed = 0, .failed_once = false};
    struct bench_long bg = {.o = o, .driver = driver, .stop = false};
    struct bench_client *clients = calloc(it->clients, sizeof *clients);
    if (clients == NULL) {
        return -1;
    }
    if (it->long_query) {
        struct timespec settle = {0, 300000000}; /* the query is under way */
        pthread_create(&bg.thread, NULL, longMain, &bg);
        nanosleep(&settle, NULL);
    }
    pthread_barrier_init(&shared.barrier, NULL, it->clients + 1);
    for (unsigned i = 0; i < it->clients; i++) {
        struct bench_client *c = &clients[i];
        *c = (struct bench_client){.item = it,
                                   .o = o,
                                   .driver = driver,
                                   .shared = &shared,
                                   .rng = 0x9e3779b97f4a7c15ull * (i + 1) +
                                          benchNowNs()};
        c->value = calloc(1, it->value_bytes);
        pthread_create(&c->thread, NULL, clientMain, c);
    }
    pthread_barrier_wait(&shared.barrier);
    benchSample(o, &r->before);
    uint64_t start_ns = benchNowNs();
    itemCollect(clients, it->clients, r);
    r->seconds = (double)(benchNowNs() - start_ns) / 1e9;
    benchSample(o, &r->after);
    if (it->long_query) {
        atomic_store(&bg.stop, true);
        pthread_join(bg.thread, NULL);
        fprintf(stderr,
                "dqlite-bench: %s: background long queries: %llu done, "
                "%llu failed%s%s\n",
                it->name, (unsigned long long)bg.done,
                (unsigned long long)bg.failed, bg.failed > 0 ? ": " : "",
                bg.failed > 0 ? bg.errmsg : "");
    }
    int rv = clients[0].setup_rv == BENCH_OK ? 0 : -1;
    pthread_barrier_destroy(&shared.barrier);
    free(clients);
    return rv;
}

int benchRunItem(const struct bench_options *o, struct dqlite_driver *driver,
                 const char *text)
{
    struct bench_item it;
    struct bench_result r = {0};
    if (itemParse(text, &it) != 0) {
        fprintf(stderr, "dqlite-bench: bad workload '%s'\n", text);
        return -1;
    }
    if (itemSetup(o, driver, &it) != 0) {
        return -1;
    }
    snprintf(r.workload, sizeof r.workload, "%s", it.name);
    r.clients = it.clients;
    r.value_bytes = it.value_bytes;
    int rv = itemRun(o, driver, &it, &r);
    benchReport(o, &r);
    return rv == 0 && r.ops > 0 ? 0 : -1;
}
