/* Group commit through the writer thread: callbacks in order, one sync for
 * many queued batches, "persisted" only after the sync, ordering with
 * truncation and metadata, and errors reported per request. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "helpers.h"
#include "lib/err.h"
#include "memfs.h"
#include "raftio/log.h"
#include "raftio/meta.h"
#include "raftio/writer.h"

#define N_REQS 64

struct fixture {
    uv_loop_t loop;
    struct raftio_fs *fs;
    struct raftio_log log;
    struct raftio_writer w;
    struct raftio_req reqs[N_REQS];
    struct raft_entry entries[N_REQS][4];
    uint8_t storage[N_REQS][4][300];
    int statuses[N_REQS];
    int n_done;
    int closed;
};

static void reqDone(struct raftio_req *req, int status)
{
    struct fixture *f = req->data;
    int i = (int)(req - f->reqs);
    cr_assert_eq(i, f->n_done, "completions out of order");
    f->statuses[i] = status;
    f->n_done++;
}

static void writerClosed(struct raftio_writer *w)
{
    struct fixture *f =
        (struct fixture *)((char *)w - offsetof(struct fixture, w));
    f->closed = 1;
}

static void setup(struct fixture *f)
{
    struct raftio_loaded l;
    cr_assert_eq(uv_loop_init(&f->loop), 0);
    f->fs = memfsCreate();
    cr_assert_eq(raftioLogOpen(&f->log, f->fs, NULL, &l), 0);
    cr_assert_eq(raftioWriterStart(&f->w, &f->loop, &f->log, f->fs), 0);
}

static void teardown(struct fixture *f)
{
    raftioWriterClose(&f->w, writerClosed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    cr_assert(f->closed);
    raftioLogClose(&f->log);
    cr_assert_eq(uv_loop_close(&f->loop), 0);
}

static void submitAppend(struct fixture *f, int i, uint64_t first, size_t n,
                         uint64_t term)
{
    for (size_t k = 0; k < n; k++) {
        f->entries[i][k] = helperEntry(f->storage[i][k], first + k, term);
    }
    f->reqs[i] = (struct raftio_req){.kind = RAFTIO_REQ_APPEND,
                                     .index = first,
                                     .entries = f->entries[i],
                                     .n = n,
                                     .cb = reqDone,
                                     .data = f};
    raftioWriterSubmit(&f->w, &f->reqs[i]);
}

/* Runs the loop until `n` requests have completed. */
static void runUntil(struct fixture *f, int n)
{
    while (f->n_done < n) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

Test(writer, queued_batches_share_syncs_and_complete_in_order)
{
    static struct fixture f;
    setup(&f);
    uint64_t next = 1;
    for (int i = 0; i < N_REQS; i++) {
        submitAppend(&f, i, next, 1 + (size_t)i % 4, 1);
        next += 1 + (uint64_t)i % 4;
    }
    runUntil(&f, N_REQS);
    struct raftio_writer_stats s = raftioWriterStats(&f.w);
    cr_assert_eq(s.entries, next - 1);
    cr_assert_lt(s.syncs, N_REQS, "no grouping: %lu syncs",
                 (unsigned long)s.syncs);
    cr_assert_eq(f.w.persisted_index, next - 1);
    teardown(&f);
    struct raftio_loaded l;
    cr_assert_eq(raftioLogOpen(&f.log, f.fs, NULL, &l), 0);
    cr_assert_eq(l.n_entries, next - 1);
    for (size_t i = 0; i < l.n_entries; i++) {
        cr_assert(helperCheck(&l.entries[i], i + 1, 1));
    }
    raftioLoadedFree(&l);
    raftioLogClose(&f.log);
    memfsDestroy(f.fs);
}

Test(writer, truncate_and_meta_are_ordered_with_appends)
{
    static struct fixture f;
    setup(&f);
    submitAppend(&f, 0, 1, 4, 1);
    submitAppend(&f, 1, 5, 4, 1);
    f.reqs[2] = (struct raftio_req){
        .kind = RAFTIO_REQ_TRUNCATE, .index = 6, .cb = reqDone, .data = &f};
    raftioWriterSubmit(&f.w, &f.reqs[2]);
    f.reqs[3] = (struct raftio_req){.kind = RAFTIO_REQ_META,
                                    .index = 2,
                                    .vote = 3,
                                    .cb = reqDone,
                                    .data = &f};
    raftioWriterSubmit(&f.w, &f.reqs[3]);
    submitAppend(&f, 4, 6, 2, 2);
    runUntil(&f, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(f.statuses[i], 0);
    }
    teardown(&f);
    struct raftio_loaded l;
    uint64_t term, vote;
    cr_assert_eq(raftioMetaLoad(f.fs, &term, &vote), 0);
    cr_assert_eq(term, 2);
    cr_assert_eq(vote, 3);
    cr_assert_eq(raftioLogOpen(&f.log, f.fs, NULL, &l), 0);
    cr_assert_eq(l.n_entries, 7);
    for (uint64_t i = 1; i <= 7; i++) {
        cr_assert(helperCheck(&l.entries[i - 1], i, i < 6 ? 1 : 2));
    }
    raftioLoadedFree(&l);
    raftioLogClose(&f.log);
    memfsDestroy(f.fs);
}

Test(writer, disk_full_fails_the_group_then_appends_succeed_again)
{
    static struct fixture f;
    setup(&f);
    submitAppend(&f, 0, 1, 4, 1);
    runUntil(&f, 1);
    memfsSetSpace(f.fs, 1);
    submitAppend(&f, 1, 5, 4, 1);
    submitAppend(&f, 2, 9, 4, 1);
    runUntil(&f, 3);
    cr_assert_eq(f.statuses[1], ERR_NOSPACE);
    cr_assert(f.statuses[2] == ERR_CANCELED || f.statuses[2] == ERR_NOSPACE);
    cr_assert_eq(f.w.persisted_index, 4);
    memfsSetSpace(f.fs, 0);
    submitAppend(&f, 3, 5, 4, 1);
    runUntil(&f, 4);
    cr_assert_eq(f.statuses[3], 0);
    cr_assert_eq(f.w.persisted_index, 8);
    teardown(&f);
    memfsDestroy(f.fs);
}

/* Runs the loop until the writer waits for space (or 5 s pass). */
static bool waitForWait(struct fixture *f)
{
    for (int i = 0; i < 500; i++) {
        if (raftioWriterStats(&f->w).waiting_for_space) {
            return true;
        }
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(10 * 1000);
    }
    return false;
}

Test(writer, with_retries_a_full_disk_delays_appends_until_space_returns)
{
    static struct fixture f;
    setup(&f);
    raftioWriterRetryNoSpace(&f.w, 5);
    submitAppend(&f, 0, 1, 4, 1);
    runUntil(&f, 1);
    memfsSetSpace(f.fs, 1);
    submitAppend(&f, 1, 5, 4, 1);
    submitAppend(&f, 2, 9, 4, 1);
    cr_assert(waitForWait(&f));
    cr_assert(waitForWait(&f)); /* still waiting, nothing completed */
    cr_assert_eq(f.n_done, 1);
    cr_assert_eq(f.w.persisted_index, 4);
    memfsSetSpace(f.fs, 0);
    runUntil(&f, 3);
    cr_assert_eq(f.statuses[1], 0);
    cr_assert_eq(f.statuses[2], 0);
    cr_assert_eq(f.w.persisted_index, 12);
    cr_assert_geq(raftioWriterStats(&f.w).nospace_retries, 1);
    cr_assert(!raftioWriterStats(&f.w).waiting_for_space);
    teardown(&f);
    struct raftio_loaded l;
    cr_assert_eq(raftioLogOpen(&f.log, f.fs, NULL, &l), 0);
    cr_assert_eq(l.n_entries, 12);
    for (uint64_t i = 1; i <= 12; i++) {
        cr_assert(helperCheck(&l.entries[i - 1], i, 1));
    }
    raftioLoadedFree(&l);
    raftioLogClose(&f.log);
    memfsDestroy(f.fs);
}

/* A small append on an idle writer is synced by the calling thread before
 * Submit returns; its callback still comes later, from the loop, in order
 * with the others. A large one, or one arriving while the thread works,
 * takes the thread. */
Test(writer, small_appends_on_an_idle_writer_are_synced_inline)
{
    static struct fixture f;
    setup(&f);
    raftioWriterInlineMax(&f.w, 4 * 300);
    submitAppend(&f, 0, 1, 4, 1);
    cr_assert_eq(raftioWriterStats(&f.w).inline_syncs, 1);
    cr_assert_eq(raftioWriterStats(&f.w).entries, 4, "durable at once");
    cr_assert_eq(f.n_done, 0, "callback run inside Submit");
    runUntil(&f, 1);
    cr_assert_eq(f.statuses[0], 0);
    cr_assert_eq(f.w.persisted_index, 4);
    raftioWriterInlineMax(&f.w, 1); /* smaller than any entry */
    submitAppend(&f, 1, 5, 4, 1);
    runUntil(&f, 2);
    cr_assert_eq(raftioWriterStats(&f.w).inline_syncs, 1);
    cr_assert_eq(f.w.persisted_index, 8);
    /* disk full: the inline attempt hands the append to the thread, which
     * retries it until space returns */
    raftioWriterInlineMax(&f.w, 4 * 300);
    raftioWriterRetryNoSpace(&f.w, 5);
    memfsSetSpace(f.fs, 1);
    submitAppend(&f, 2, 9, 4, 1);
    cr_assert(waitForWait(&f));
    cr_assert_eq(f.n_done, 2);
    memfsSetSpace(f.fs, 0);
    runUntil(&f, 3);
    cr_assert_eq(f.statuses[2], 0);
    cr_assert_eq(f.w.persisted_index, 12);
    teardown(&f);
    struct raftio_loaded l;
    cr_assert_eq(raftioLogOpen(&f.log, f.fs, NULL, &l), 0);
    cr_assert_eq(l.n_entries, 12);
    for (uint64_t i = 1; i <= 12; i++) {
        cr_assert(helperCheck(&l.entries[i - 1], i, 1));
    }
    raftioLoadedFree(&l);
    raftioLogClose(&f.log);
    memfsDestroy(f.fs);
}

Test(writer, with_retries_a_snapshot_chunk_waits_for_space)
{
    static struct fixture f;
    static uint8_t data[5000];
    uint64_t size = 0;
    setup(&f);
    raftioWriterRetryNoSpace(&f.w, 5);
    memfsSetSpace(f.fs, 1000);
    struct raft_snapshot_write chunk = {7, 2, 0, data, sizeof data, false};
    f.reqs[0] = (struct raftio_req){.kind = RAFTIO_REQ_SNAPSHOT,
                                    .chunk = &chunk,
                                    .cb = reqDone,
                                    .data = &f};
    raftioWriterSubmit(&f.w, &f.reqs[0]);
    cr_assert(waitForWait(&f));
    cr_assert_eq(f.n_done, 0);
    memfsSetSpace(f.fs, 0);
    runUntil(&f, 1);
    cr_assert_eq(f.statuses[0], 0);
    cr_assert_eq(memfsFileSize(f.fs, "snap-00000000000000000007.tmp", &size),
                 0);
    cr_assert_eq(size, sizeof data);
    teardown(&f);
    memfsDestroy(f.fs);
}

Test(writer, closing_while_waiting_for_space_fails_the_waiting_requests)
{
    static struct fixture f;
    setup(&f);
    raftioWriterRetryNoSpace(&f.w, 5);
    memfsSetSpace(f.fs, 1);
    submitAppend(&f, 0, 1, 4, 1);
    cr_assert(waitForWait(&f));
    teardown(&f); /* completes the waiting request, then closes */
    cr_assert_eq(f.n_done, 1);
    cr_assert_eq(f.statuses[0], ERR_NOSPACE);
    memfsDestroy(f.fs);
}

static void batchDone(struct raftio_batch *b, int status)
{
    int *out = b->data;
    out[0] = status;
    out[1]++;
}

Test(writer, a_ready_batch_is_persisted_in_contract_order)
{
    static struct fixture f;
    static struct raftio_batch b;
    setup(&f);
    submitAppend(&f, 0, 1, 4, 1);
    runUntil(&f, 1);
    uint8_t storage[2][300];
    struct raft_entry entries[2] = {helperEntry(storage[0], 3, 2),
                                    helperEntry(storage[1], 4, 2)};
    struct raft_ready rd = {.truncate_from = 3,
                            .entries = entries,
                            .entries_index = 3,
                            .n_entries = 2,
                            .has_hard_state = true,
                            .hard_state = {2, 7}};
    int result[2] = {-1, 0};
    b.data = result;
    cr_assert(raftioWriterPersistReady(&f.w, &rd, &b, batchDone));
    while (result[1] == 0) {
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    cr_assert_eq(result[0], 0);
    cr_assert_eq(result[1], 1);
    struct raft_ready empty = {0};
    cr_assert(!raftioWriterPersistReady(&f.w, &empty, &b, batchDone));
    teardown(&f);
    struct raftio_loaded l;
    uint64_t term, vote;
    cr_assert_eq(raftioMetaLoad(f.fs, &term, &vote), 0);
    cr_assert_eq(term, 2);
    cr_assert_eq(vote, 7);
    cr_assert_eq(raftioLogOpen(&f.log, f.fs, NULL, &l), 0);
    cr_assert_eq(l.n_entries, 4);
    cr_assert(helperCheck(&l.entries[1], 2, 1));
    cr_assert(helperCheck(&l.entries[2], 3, 2));
    raftioLoadedFree(&l);
    raftioLogClose(&f.log);
    memfsDestroy(f.fs);
}
