/*
 * Benchmark (not a pass/fail test): the cost of a snapshot of a 100 MB
 * database while a writer keeps committing. Skipped unless REPL_BENCH=1:
 *
 *   make build/release/test/unit-repl
 *   REPL_BENCH=1 build/release/test/unit-repl --verbose \
 *       --filter bench/snapshot_of_a_large_database
 *
 * REPL_BENCH_MB sets the database size (default 100). Reports the pause
 * (time the VFS mutex is held to freeze the state: writers wait at most
 * that long), the writer's worst commit latency while the snapshot is
 * serialized, and the extra memory of the store during the snapshot (peak
 * live bytes through the project allocator above the level before it).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/alloc.h"

static atomic_llong live_bytes;
static atomic_llong peak_bytes;

static void *countMalloc(size_t size)
{
    size_t *p = malloc(size + 16);
    if (p == NULL) {
        return NULL;
    }
    *p = size;
    long long now =
        atomic_fetch_add(&live_bytes, (long long)size) + (long long)size;
    long long peak = atomic_load(&peak_bytes);
    while (now > peak &&
           !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {
    }
    return (char *)p + 16;
}

static void countFree(void *ptr)
{
    if (ptr != NULL) {
        size_t *p = (size_t *)((char *)ptr - 16);
        atomic_fetch_sub(&live_bytes, (long long)*p);
        free(p);
    }
}

static void *countRealloc(void *ptr, size_t size)
{
    void *q = countMalloc(size);
    if (q != NULL && ptr != NULL) {
        size_t old = *(size_t *)((char *)ptr - 16);
        memcpy(q, ptr, old < size ? old : size);
        countFree(ptr);
    }
    return q;
}

static double nowUs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct bench {
    struct vfs *vfs;
    sqlite3 *conn;
    unsigned rows;
    atomic_bool stop;
    unsigned long commits;
    double worst_commit_us;
};

static void commitOne(struct bench *b, const char *sql)
{
    double t0 = nowUs();
    hExecOk(b->conn, sql);
    struct vfs_txn txn;
    cr_assert_eq(vfsPoll(b->vfs, "big.db", &txn), 0);
    cr_assert_eq(vfsApply(b->vfs, "big.db", &txn), 0);
    vfsTxnFree(&txn);
    uint32_t frames;
    vfsWalFrames(b->vfs, "big.db", &frames);
    if (frames >= 1000) {
        vfsCheckpoint(b->vfs, "big.db");
    }
    double dt = nowUs() - t0;
    b->worst_commit_us = dt > b->worst_commit_us ? dt : b->worst_commit_us;
    b->commits++;
}

static void *writer(void *arg)
{
    struct bench *b = arg;
    char sql[160];
    while (!atomic_load(&b->stop)) {
        snprintf(sql, sizeof sql,
                 "UPDATE t SET b = randomblob(3900) WHERE id = %u",
                 (unsigned)rand() % b->rows + 1);
        commitOne(b, sql);
    }
    return NULL;
}

/* A sink that writes to /dev/null at about 200 MB/s (a fast disk). */
static int slowSink(void *arg, const void *data, size_t len)
{
    FILE *f = arg;
    static size_t since;
    fwrite(data, 1, len, f);
    since += len;
    if (since >= 2 << 20) {
        usleep(10000);
        since = 0;
    }
    return 0;
}

Test(bench, snapshot_of_a_large_database)
{
    const char *on = getenv("REPL_BENCH");
    if (on == NULL || *on != '1') {
        cr_skip_test("set REPL_BENCH=1 to run");
    }
    const char *mb_env = getenv("REPL_BENCH_MB");
    unsigned mb = mb_env != NULL ? (unsigned)atoi(mb_env) : 100;
    struct lib_alloc_hook hook = {countMalloc, countRealloc, countFree};
    libAllocSetHook(&hook);
    sqlite3_initialize();
    struct bench b = {0};
    cr_assert_eq(vfsCreate("bench", &b.vfs), 0);
    b.conn = hOpen(b.vfs, "big.db");
    commitOne(&b, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)");
    b.rows = mb * 256; /* ~4 KB per row */
    for (unsigned i = 0; i < b.rows; i += 1000) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                 "FROM c WHERE x < %u) INSERT INTO t(b) SELECT "
                 "randomblob(3900) FROM c",
                 1000);
        commitOne(&b, sql);
    }
    vfsCheckpoint(b.vfs, "big.db");
    uint32_t pages;
    vfsNumPages(b.vfs, "big.db", &pages);
    long long base = atomic_load(&live_bytes);
    b.worst_commit_us = 0;
    b.commits = 0;

    pthread_t t;
    pthread_create(&t, NULL, writer, &b);
    usleep(200000);
    atomic_store(&peak_bytes, atomic_load(&live_bytes));
    double worst_before = b.worst_commit_us;
    double t0 = nowUs();
    struct repl_snapshot s = {0, NULL};
    cr_assert_eq(vfsSnapshotAcquire(b.vfs, NULL, &s.vfs), 0);
    double pause_us = nowUs() - t0;
    unsigned long commits0 = b.commits;
    b.worst_commit_us = 0;
    FILE *null = fopen("/dev/null", "wb");
    double t1 = nowUs();
    cr_assert_eq(replSnapshotWrite(&s, slowSink, null), 0);
    double write_ms = (nowUs() - t1) / 1000;
    fclose(null);
    uint64_t size = replSnapshotSize(&s);
    uint64_t pause_ns = s.vfs->pause_ns;
    replSnapshotRelease(&s);
    long long peak_extra = atomic_load(&peak_bytes) - base;
    atomic_store(&b.stop, true);
    pthread_join(t, NULL);

    cr_log_info("database: %u pages of 4096 (%.1f MB), snapshot %.1f MB", pages,
                pages * 4096.0 / 1e6, (double)size / 1e6);
    cr_log_info("pause (VFS mutex held to freeze the state): %.0f us; "
                "with the wait for the mutex: %.0f us",
                (double)pause_ns / 1000, pause_us);
    cr_log_info("serialized in %.0f ms while the writer committed %lu "
                "transactions (worst commit %.0f us; before: %.0f us)",
                write_ms, b.commits - commits0, b.worst_commit_us,
                worst_before);
    cr_log_info("extra store memory at peak: %.1f MB (%.1f%% of the "
                "database)",
                (double)peak_extra / 1e6,
                100.0 * (double)peak_extra / (pages * 4096.0));
    sqlite3_close(b.conn);
    vfsDestroy(b.vfs);
}
