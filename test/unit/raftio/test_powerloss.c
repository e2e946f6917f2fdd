/* Power-loss crash test: a random workload of appends (group commit),
 * truncations, compactions and metadata updates runs over memfs; the
 * machine "loses power" after every possible number of file-system calls;
 * the image a real disk could hold then (synced state plus a torn piece of
 * the rest) must reload by itself with every acknowledged entry intact,
 * and must accept appends afterwards.
 *
 * RAFTIO_CRASH_SEEDS (default 30, 8 under ASan) seeds, each crashed at every
 * point. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"
#include "lib/err.h"
#include "memfs.h"
#include "raftio/log.h"
#include "raftio/meta.h"

#define MAX_INDEX 4096

/* About 11,000 crash points in release; fewer under the (slower)
 * sanitizers, still well above 1,000. */
#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_SEEDS 8
#else
#define DEFAULT_SEEDS 30
#endif

struct model {
    uint64_t term_of[MAX_INDEX]; /* acknowledged entries (0 = none) */
    uint64_t first, last;        /* acknowledged range (last < first: none) */
    uint64_t max_first;          /* highest first index compaction allows */
    uint64_t term;               /* term of new appends */
    uint64_t meta_term, meta_vote;
    /* the operation cut by the crash */
    enum { OP_NONE, OP_APPEND, OP_TRUNCATE, OP_COMPACT, OP_META } op;
    uint64_t op_a, op_b;
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int doAppend(struct raftio_log *log, struct model *m, uint64_t *seed)
{
    uint8_t storage[8][300];
    struct raft_entry batch[8];
    size_t n = 1 + rnd(seed) % 8;
    uint64_t first = m->last + 1;
    if (first + n >= MAX_INDEX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        batch[i] = helperEntry(storage[i], first + i, m->term);
    }
    m->op = OP_APPEND;
    m->op_a = first;
    m->op_b = first + n - 1;
    /* sometimes two appends share one sync (group commit) */
    size_t split = n > 1 && rnd(seed) % 2 ? n / 2 : n;
    int rv = raftioLogAppend(log, first, batch, split);
    if (rv == 0 && split < n) {
        rv = raftioLogAppend(log, first + split, batch + split, n - split);
    }
    if (rv == 0) {
        rv = raftioLogSync(log);
    }
    if (rv == 0) {
        for (uint64_t i = first; i < first + n; i++) {
            m->term_of[i] = m->term;
        }
        m->last = first + n - 1;
    }
    return rv;
}

static int doTruncate(struct raftio_log *log, struct model *m, uint64_t *seed)
{
    if (m->last < m->first + 2) {
        return 0;
    }
    uint64_t span = m->last - m->first < 20 ? m->last - m->first : 20;
    uint64_t index = m->last - rnd(seed) % span;
    m->op = OP_TRUNCATE;
    m->op_a = index;
    int rv = raftioLogTruncate(log, index);
    if (rv == 0) {
        for (uint64_t i = index; i <= m->last; i++) {
            m->term_of[i] = 0;
        }
        m->last = index - 1;
        m->term++;
    }
    return rv;
}

static int doCompact(struct raftio_log *log, struct model *m, uint64_t *seed)
{
    if (m->last < m->first + 10) {
        return 0;
    }
    uint64_t index = m->first + rnd(seed) % (m->last - m->first - 5);
    m->op = OP_COMPACT;
    m->op_a = index;
    int rv = raftioLogCompact(log, index);
    if (rv == 0 && index + 1 > m->max_first) {
        m->max_first = index + 1;
    }
    return rv;
}

static int doMeta(struct model *m, struct raftio_fs *fs, uint64_t *seed)
{
    m->op = OP_META;
    m->op_a = m->meta_term + 1;
    m->op_b = rnd(seed) % 5;
    int rv = raftioMetaStore(fs, m->op_a, m->op_b);
    if (rv == 0) {
        m->meta_term = m->op_a;
        m->meta_vote = m->op_b;
    }
    return rv;
}

static const struct raftio_log_options opts = {.segment_max_bytes = 1024};

/* Runs the workload until the fs stops; returns the mutations it made. */
static long runWorkload(struct raftio_fs *fs, struct model *m, uint64_t seed)
{
    struct raftio_log log;
    struct raftio_loaded l;
    *m = (struct model){.first = 1, .last = 0, .max_first = 1, .term = 1};
    cr_assert_eq(raftioLogOpen(&log, fs, &opts, &l), 0);
    int rv = 0;
    for (int step = 0; step < 80 && rv == 0; step++) {
        uint64_t k = rnd(&seed) % 10;
        m->op = OP_NONE;
        rv = k < 6   ? doAppend(&log, m, &seed)
             : k < 7 ? doTruncate(&log, m, &seed)
             : k < 8 ? doCompact(&log, m, &seed)
                     : doMeta(m, fs, &seed);
    }
    cr_assert(rv == 0 || memfsStopped(fs), "rv=%d", rv);
    if (rv == 0) {
        m->op = OP_NONE;
    }
    raftioLogClose(&log);
    return memfsMutations(fs);
}

static void checkEntries(const struct model *m, const struct raftio_loaded *l)
{
    uint64_t need_last = m->last;
    if (m->op == OP_TRUNCATE && m->op_a - 1 < need_last) {
        need_last = m->op_a - 1;
    }
    uint64_t max_first = m->max_first;
    if (m->op == OP_COMPACT && m->op_a + 1 > max_first) {
        max_first = m->op_a + 1;
    }
    uint64_t first = l->first_index, last = first + l->n_entries - 1;
    cr_assert(l->n_entries > 0 || need_last < max_first);
    cr_assert(l->n_entries == 0 || first <= max_first, "first %lu > %lu",
              (unsigned long)first, (unsigned long)max_first);
    cr_assert(l->n_entries == 0 || last >= need_last, "lost: last %lu < %lu",
              (unsigned long)last, (unsigned long)need_last);
    for (size_t i = 0; i < l->n_entries; i++) {
        uint64_t idx = first + i;
        uint64_t term = l->entries[i].term;
        int in_flight = m->op == OP_APPEND && idx >= m->op_a &&
                        idx <= m->op_b && term == m->term;
        cr_assert(idx < MAX_INDEX && (term == m->term_of[idx] || in_flight),
                  "entry %lu has term %lu", (unsigned long)idx,
                  (unsigned long)term);
        cr_assert(helperCheck(&l->entries[i], idx, term));
    }
}

static void checkMeta(const struct model *m, struct raftio_fs *fs)
{
    uint64_t term, vote;
    cr_assert_eq(raftioMetaLoad(fs, &term, &vote), 0);
    int old = term == m->meta_term && vote == m->meta_vote;
    int new = m->op == OP_META &&term == m->op_a &&vote == m->op_b;
    cr_assert(old || new, "meta %lu/%lu", (unsigned long)term,
              (unsigned long)vote);
}

/* Reloads the crashed image, checks it, appends after it, checks again. */
static void checkRecovery(const struct model *m, struct raftio_fs *fs)
{
    struct raftio_log log;
    struct raftio_loaded l;
    uint8_t storage[300];
    int rv = raftioLogOpen(&log, fs, &opts, &l);
    cr_assert_eq(rv, 0, "reload failed: %s", errString(rv));
    checkEntries(m, &l);
    checkMeta(m, fs);
    uint64_t next = l.n_entries > 0 ? l.first_index + l.n_entries : 1000;
    size_t before = l.n_entries;
    raftioLoadedFree(&l);
    struct raft_entry e = helperEntry(storage, next, 99);
    cr_assert_eq(raftioLogAppend(&log, next, &e, 1), 0);
    cr_assert_eq(raftioLogSync(&log), 0);
    raftioLogClose(&log);
    cr_assert_eq(raftioLogOpen(&log, fs, &opts, &l), 0);
    cr_assert_eq(l.n_entries, before + 1);
    cr_assert(helperCheck(&l.entries[before], next, 99));
    raftioLoadedFree(&l);
    raftioLogClose(&log);
}

static long crashPoint(uint64_t seed, long stop_after, uint64_t image_seed)
{
    struct model m;
    struct raftio_fs *fs = memfsCreate();
    memfsStopAfter(fs, stop_after);
    long n = runWorkload(fs, &m, seed);
    struct raftio_fs *crashed = memfsCrash(fs, image_seed);
    checkRecovery(&m, crashed);
    memfsDestroy(crashed);
    memfsDestroy(fs);
    return n;
}

Test(powerloss, every_crash_point_reloads_with_acknowledged_entries)
{
    const char *env = getenv("RAFTIO_CRASH_SEEDS");
    int seeds = env != NULL ? atoi(env) : DEFAULT_SEEDS;
    long points = 0;
    for (int s = 1; s <= seeds; s++) {
        long total = crashPoint((uint64_t)s, -1, 1);
        for (long k = 0; k < total; k++) {
            crashPoint((uint64_t)s, k, (uint64_t)(s * 100003 + k));
            points++;
        }
    }
    fprintf(stderr, "[raftio] power-loss crash points checked: %ld\n", points);
    cr_assert_geq(points, 1000);
}
