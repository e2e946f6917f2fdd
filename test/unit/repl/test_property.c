/*
 * Property test: random SQL workloads run on a leader; the frames each
 * commit captures go through the command codec into a follower. After every
 * transaction both nodes give identical query results and identical page
 * bytes, and transactions that roll back, fail or are aborted (replication
 * failed) leave no trace.
 *
 * 20 seeds; REPL_PROP_TXNS (default 10000) transactions in total, split
 * evenly; REPL_PROP_SEED offsets the seeds. A failure names its seed and
 * transaction number.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lib/err.h"

#define N_SEEDS 20

struct rng {
    uint64_t s;
};

static uint64_t rngNext(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static unsigned rngBelow(struct rng *r, unsigned n)
{
    return (unsigned)(rngNext(r) % n);
}

struct prop {
    struct rng rng;
    struct node l;
    struct node f;
    struct cluster c;
    sqlite3 *w[2];   /* leader writers, one per database */
    sqlite3 *reader; /* leader reader that sometimes holds a snapshot */
    sqlite3 *fr[2];  /* follower readers */
    bool reading;
    unsigned seed;
    unsigned txn;
    unsigned n_tables;
    unsigned stats[5]; /* committed, empty, aborted, ckpt, snapshots */
};

static const char *const dbs[2] = {"a.db", "b.db"};

/* ------------------------------------------------------------ checks */

/* Hash of every row of every table, in a fixed order. */
static uint64_t contentHash(sqlite3 *conn)
{
    uint64_t h = 1469598103934665603ull;
    sqlite3_stmt *tables;
    const char *list = "SELECT name FROM sqlite_schema WHERE type='table' "
                       "ORDER BY name";
    cr_assert_eq(sqlite3_prepare_v2(conn, list, -1, &tables, NULL), SQLITE_OK,
                 "%s", sqlite3_errmsg(conn));
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid",
                                    sqlite3_column_text(tables, 0));
        sqlite3_stmt *rows;
        cr_assert_eq(sqlite3_prepare_v2(conn, sql, -1, &rows, NULL), SQLITE_OK);
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(rows); i++) {
                const uint8_t *p = sqlite3_column_blob(rows, i);
                int n = sqlite3_column_bytes(rows, i);
                h = (h ^ (uint64_t)sqlite3_column_type(rows, i)) *
                    1099511628211ull;
                for (int k = 0; k < n; k++) {
                    h = (h ^ p[k]) * 1099511628211ull;
                }
            }
        }
        sqlite3_finalize(rows);
        sqlite3_free(sql);
    }
    sqlite3_finalize(tables);
    return h;
}

static void checkSame(struct prop *p, int d)
{
    cr_assert(hSameImage(p->l.vfs, p->f.vfs, dbs[d]),
              "seed %u txn %u: page bytes differ", p->seed, p->txn);
    cr_assert_eq(contentHash(p->w[d]), contentHash(p->fr[d]),
                 "seed %u txn %u: query results differ", p->seed, p->txn);
}

/* ------------------------------------------------------------ workload */

static void randomInsert(struct prop *p, sqlite3 *w)
{
    unsigned r = rngBelow(&p->rng, 1000);
    unsigned blob = r < 5 ? 1000000 : r < 60 ? 20000 : rngBelow(&p->rng, 300);
    unsigned table = rngBelow(&p->rng, p->n_tables);
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO t%u(k, v, at, b) VALUES(abs(random()) %% 500, "
             "random(), datetime('now'), randomblob(%u))",
             table, blob);
    sqlite3_exec(w, sql, NULL, NULL, NULL); /* may violate UNIQUE(k) */
}

static void randomStatement(struct prop *p, sqlite3 *w)
{
    char sql[256];
    unsigned table = rngBelow(&p->rng, p->n_tables);
    unsigned x = rngBelow(&p->rng, 7);
    switch (rngBelow(&p->rng, 6)) {
    case 0:
    case 1:
        randomInsert(p, w);
        return;
    case 2:
        snprintf(sql, sizeof sql,
                 "UPDATE t%u SET v = random(), b = randomblob(abs(random()) "
                 "%% 200) WHERE k %% 7 = %u",
                 table, x);
        break;
    case 3:
        snprintf(sql, sizeof sql, "DELETE FROM t%u WHERE k %% 7 = %u", table,
                 x);
        break;
    case 4:
        snprintf(sql, sizeof sql, "DELETE FROM t%u WHERE length(b) > 10000",
                 table);
        break;
    default:
        snprintf(sql, sizeof sql, "UPDATE t%u SET k = k + 1 WHERE k %% 7 = %u",
                 table, x);
    }
    sqlite3_exec(w, sql, NULL, NULL, NULL); /* k + 1 may violate UNIQUE */
}

static void createTable(struct prop *p, sqlite3 *w, unsigned i)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS t%u(k INTEGER UNIQUE, v, at, b)", i);
    hExecOk(w, sql);
    (void)p;
}

static void schemaChange(struct prop *p, sqlite3 *w)
{
    char sql[160];
    unsigned table = rngBelow(&p->rng, p->n_tables);
    switch (rngBelow(&p->rng, 3)) {
    case 0:
        snprintf(sql, sizeof sql, "CREATE INDEX IF NOT EXISTS i%u ON t%u(v)",
                 table, table);
        break;
    case 1:
        snprintf(sql, sizeof sql, "DROP INDEX IF EXISTS i%u", table);
        break;
    default:
        snprintf(sql, sizeof sql, "ALTER TABLE t%u ADD COLUMN c%u DEFAULT %u",
                 table, p->txn, p->txn);
        if (rngBelow(&p->rng, 4) != 0) {
            snprintf(sql, sizeof sql,
                     "DROP TABLE IF EXISTS x%u; "
                     "CREATE TABLE x%u(a)",
                     p->txn % 3, p->txn % 3);
        }
    }
    sqlite3_exec(w, sql, NULL, NULL, NULL);
}

/* One transaction; returns whether it should have committed. */
static bool runTxn(struct prop *p, sqlite3 *w)
{
    unsigned kind = rngBelow(&p->rng, 100);
    if (kind < 40) {
        randomStatement(p, w); /* autocommit */
        return true;
    }
    if (kind < 43) {
        return sqlite3_exec(w, "VACUUM", NULL, NULL, NULL) == SQLITE_OK;
    }
    hExecOk(w, "BEGIN");
    unsigned n = 1 + rngBelow(&p->rng, 5);
    for (unsigned i = 0; i < n; i++) {
        if (rngBelow(&p->rng, 10) == 0) {
            schemaChange(p, w);
        } else {
            randomStatement(p, w);
        }
    }
    if (kind < 55) {
        hExecOk(w, "ROLLBACK");
        return false;
    }
    hExecOk(w, "COMMIT");
    return true;
}

/* ------------------------------------------------------------ driver */

static void toggleReader(struct prop *p)
{
    if (rngBelow(&p->rng, 20) != 0) {
        return;
    }
    if (p->reading) {
        hExecOk(p->reader, "COMMIT");
    } else {
        hExecOk(p->reader, "BEGIN");
        hInt(p->reader, "SELECT count(*) FROM t0");
    }
    p->reading = !p->reading;
}

static void maybeCheckpoint(struct prop *p, int d)
{
    struct buf cmd;
    bool due;
    bufInit(&cmd);
    cr_assert_eq(replLeaderCheckpoint(&p->l.repl, dbs[d], &cmd, &due), 0);
    if (due) {
        clusterApply(&p->c, &cmd);
        p->stats[3]++;
    }
    bufFree(&cmd);
}

/* The follower installs the leader's snapshot (as raft's InstallSnapshot
 * does) with its readers' connections open but idle, then goes on. */
static void installSnapshot(struct prop *p)
{
    struct repl_snapshot s;
    struct buf enc;
    bufInit(&enc);
    cr_assert_eq(replSnapshotTake(&p->l.repl, &s), 0);
    cr_assert_eq(replSnapshotEncode(&s, &enc), 0);
    replSnapshotRelease(&s);
    cr_assert_eq(replSnapshotRestore(&p->f.repl, enc.data, enc.len), 0);
    cr_assert_eq(p->f.repl.applied_index, p->c.index);
    bufFree(&enc);
    p->stats[4]++;
}

static void step(struct prop *p)
{
    if (rngBelow(&p->rng, 150) == 0) {
        installSnapshot(p);
    }
    int d = (int)rngBelow(&p->rng, 2);
    toggleReader(p);
    runTxn(p, p->w[d]);
    struct buf cmd;
    bool has;
    bufInit(&cmd);
    cr_assert_eq(replLeaderPoll(p->l.vfs, dbs[d], &cmd, &has), 0);
    if (!has) {
        p->stats[1]++;
    } else if (rngBelow(&p->rng, 20) == 0) {
        cr_assert_eq(replLeaderAbort(p->l.vfs, dbs[d]), 0);
        p->stats[2]++;
    } else {
        clusterApply(&p->c, &cmd);
        p->stats[0]++;
    }
    bufFree(&cmd);
    maybeCheckpoint(p, d);
    checkSame(p, d);
}

static void propSetup(struct prop *p, unsigned seed)
{
    static const uint32_t sizes[] = {512, 1024, 4096, 8192, 65536};
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->rng.s = 0x9e3779b97f4a7c15ull * (seed + 1);
    nodeInit(&p->l, "L");
    nodeInit(&p->f, "F");
    p->l.repl.checkpoint_frames = 50 + rngBelow(&p->rng, 400);
    p->c = (struct cluster){&p->l, &p->f, 0};
    clusterOpen(&p->c, dbs[0], sizes[seed % 5]);
    clusterOpen(&p->c, dbs[1], 4096);
    p->n_tables = 3;
    for (int d = 0; d < 2; d++) {
        p->w[d] = hOpen(p->l.vfs, dbs[d]);
        for (unsigned i = 0; i < p->n_tables; i++) {
            createTable(p, p->w[d], i);
            cr_assert(clusterReplicate(&p->c, dbs[d]));
        }
        p->fr[d] = hOpen(p->f.vfs, dbs[d]);
    }
    p->reader = hOpen(p->l.vfs, dbs[0]);
}

static void propTeardown(struct prop *p)
{
    if (p->reading) {
        hExecOk(p->reader, "COMMIT");
    }
    sqlite3_close(p->reader);
    for (int d = 0; d < 2; d++) {
        sqlite3_close(p->w[d]);
        sqlite3_close(p->fr[d]);
    }
    nodeClose(&p->l);
    nodeClose(&p->f);
}

/* The follower's snapshot restored on a third node equals it, byte for
 * byte, re-encoded. */
static void checkSnapshot(struct prop *p)
{
    struct repl_snapshot s;
    struct buf enc;
    bufInit(&enc);
    cr_assert_eq(replSnapshotTake(&p->f.repl, &s), 0);
    cr_assert_eq(replSnapshotEncode(&s, &enc), 0);
    replSnapshotRelease(&s);
    struct node n;
    nodeInit(&n, "N");
    cr_assert_eq(replSnapshotRestore(&n.repl, enc.data, enc.len), 0);
    cr_assert_eq(n.repl.applied_index, p->f.repl.applied_index);
    for (int d = 0; d < 2; d++) {
        cr_assert(hSameImage(p->l.vfs, n.vfs, dbs[d]));
    }
    struct buf enc2;
    bufInit(&enc2);
    cr_assert_eq(replSnapshotTake(&n.repl, &s), 0);
    cr_assert_eq(replSnapshotEncode(&s, &enc2), 0);
    replSnapshotRelease(&s);
    cr_assert(enc.len == enc2.len && memcmp(enc.data, enc2.data, enc.len) == 0);
    nodeClose(&n);
    bufFree(&enc);
    bufFree(&enc2);
}

static unsigned envUnsigned(const char *name, unsigned dflt)
{
    const char *s = getenv(name);
    return s != NULL && *s != '\0' ? (unsigned)strtoul(s, NULL, 10) : dflt;
}

static void runSeed(unsigned i)
{
    sqlite3_initialize();
    unsigned total = envUnsigned("REPL_PROP_TXNS", 10000);
    unsigned seed = envUnsigned("REPL_PROP_SEED", 0) + i;
    struct prop *p = calloc(1, sizeof *p);
    propSetup(p, seed);
    for (p->txn = 0; p->txn < total / N_SEEDS; p->txn++) {
        step(p);
    }
    checkSnapshot(p);
    cr_log_info("seed %u: %u txns: %u committed, %u empty/rolled back, "
                "%u aborted, %u checkpoints, %u snapshots installed",
                seed, p->txn, p->stats[0], p->stats[1], p->stats[2],
                p->stats[3], p->stats[4]);
    cr_assert_gt(p->stats[0], 0);
    propTeardown(p);
    free(p);
}

#define SEED_TEST(i)         \
    Test(property, seed_##i) \
    {                        \
        runSeed(i);          \
    }

SEED_TEST(0)
SEED_TEST(1)
SEED_TEST(2)
SEED_TEST(3)
SEED_TEST(4)
SEED_TEST(5)
SEED_TEST(6)
SEED_TEST(7)
SEED_TEST(8)
SEED_TEST(9)
SEED_TEST(10)
SEED_TEST(11)
SEED_TEST(12)
SEED_TEST(13)
SEED_TEST(14)
SEED_TEST(15)
SEED_TEST(16)
SEED_TEST(17)
SEED_TEST(18)
SEED_TEST(19)
