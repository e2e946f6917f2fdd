/*
 * The group-commit writer thread (see writer.h). One round: take every
 * pending request, run them in order, where each run of consecutive appends
 * shares one raftioLogSync, then publish them to the loop.
 */
#include "raftio/writer.h"

#include <errno.h>
#include <time.h>

#include "lib/assert.h"
#include "lib/err.h"
#include "raftio/meta.h"
#include "raftio/snapshot.h"

/* Appends of one round that cannot follow the log (an earlier append of
 * the run failed) are refused without touching the disk. */
static int writerAppendOne(struct raftio_writer *w, struct raftio_req *req)
{
    uint64_t first, last;
    raftioLogRange(w->log, &first, &last);
    if (last != 0 && req->index != last + 1) {
        return ERR_CANCELED;
    }
    return raftioLogAppend(w->log, req->index, req->entries, req->n);
}

/* Runs the appends from `q` on that have not succeeded yet (all of them
 * on the first pass); returns the first request after them. */
static uint64_t writerNowUs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Files one fdatasync's duration (UINT64_MAX: none happened). mu held. */
static void writerCountSync(struct raftio_writer_stats *s, uint64_t us)
{
    static const uint64_t bounds[RAFTIO_SYNC_BUCKETS] = RAFTIO_SYNC_BOUNDS_US;
    unsigned i = 0;
    if (us == UINT64_MAX) {
        return;
    }
    while (i < RAFTIO_SYNC_BUCKETS && us > bounds[i]) {
        i++;
    }
    s->sync_us_buckets[i]++;
    s->sync_us_sum += us;
}

static struct queue *writerRunGroup(struct raftio_writer *w, struct queue *head,
                                    struct queue *q, bool retry)
{
    struct queue *start = q;
    uint64_t n_entries = 0;
    for (; q != head; q = q->next) {
        struct raftio_req *req = QUEUE_DATA(q, struct raftio_req, link);
        if (req->kind != RAFTIO_REQ_APPEND) {
            break;
        }
        if (!retry || req->status != 0) {
            req->status = writerAppendOne(w, req);
            n_entries += req->status == 0 ? req->n : 0;
        }
    }
    uint64_t sync_us = writerNowUs();
    int rv = raftioLogSync(w->log);
    sync_us = writerNowUs() - sync_us;
    for (struct queue *p = start; p != q; p = p->next) {
        struct raftio_req *req = QUEUE_DATA(p, struct raftio_req, link);
        if (req->status == 0 && rv != 0) {
            req->status = rv;
        }
    }
    pthread_mutex_lock(&w->mu);
    w->stats.syncs += n_entries > 0 ? 1 : 0;
    writerCountSync(&w->stats, n_entries > 0 ? sync_us : UINT64_MAX);
    w->stats.entries += rv == 0 ? n_entries : 0;
    pthread_mutex_unlock(&w->mu);
    return q;
}

/* Whether a request of [from, to) failed for want of space (a request
 * refused because an earlier one failed counts with it). */
static bool writerNoSpace(struct queue *from, struct queue *to)
{
    for (struct queue *q = from; q != to; q = q->next) {
        struct raftio_req *req = QUEUE_DATA(q, struct raftio_req, link);
        if (req->status == ERR_NOSPACE) {
            return true;
        }
    }
    return false;
}

/* Writer thread: waits `ms` or until the writer stops; false when it
 * stops (or retries are off): the failure then stands. */
static bool writerWaitForSpace(struct raftio_writer *w, unsigned *wait_ms)
{
    struct timespec until;
    bool retry;
    clock_gettime(CLOCK_REALTIME, &until);
    pthread_mutex_lock(&w->mu);
    retry = w->nospace_retry_ms > 0 && !w->stopping;
    if (retry) {
        *wait_ms = *wait_ms == 0 ? w->nospace_retry_ms : *wait_ms * 2;
        if (*wait_ms > 10 * w->nospace_retry_ms) {
            *wait_ms = 10 * w->nospace_retry_ms;
        }
        until.tv_sec += *wait_ms / 1000;
        until.tv_nsec += (long)(*wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        w->stats.waiting_for_space = true;
        w->stats.nospace_retries++;
        while (!w->stopping &&
               pthread_cond_timedwait(&w->cond, &w->mu, &until) != ETIMEDOUT) {
        }
        w->stats.waiting_for_space = false;
        retry = !w->stopping;
    }
    pthread_mutex_unlock(&w->mu);
    return retry;
}

/* Runs the appends from `q` on, again while they fail for want of space
 * and retries are on; returns the first request after them. */
static struct queue *writerRunAppends(struct raftio_writer *w,
                                      struct queue *head, struct queue *q)
{
    unsigned wait_ms = 0;
    struct queue *end = writerRunGroup(w, head, q, false);
    while (writerNoSpace(q, end) && writerWaitForSpace(w, &wait_ms)) {
        for (struct queue *p = q; p != end; p = p->next) {
            struct raftio_req *req = QUEUE_DATA(p, struct raftio_req, link);
            if (req->status == ERR_CANCELED) {
                req->status = ERR_NOSPACE; /* refused behind the failure */
            }
        }
        end = writerRunGroup(w, head, q, true);
    }
    return end;
}

/* A received snapshot chunk; the last one replaces the log up to its
 * index (the whole log when the snapshot reaches past it). */
static int writerSnapshotChunk(struct raftio_writer *w,
                               const struct raft_snapshot_write *chunk)
{
    uint64_t first, last;
    unsigned wait_ms = 0;
    int rv = raftioSnapshotWriteChunk(w->fs, chunk);
    /* A chunk that failed for want of space was undone: write it again. */
    while (rv == ERR_NOSPACE && writerWaitForSpace(w, &wait_ms)) {
        rv = raftioSnapshotWriteChunk(w->fs, chunk);
    }
    if (rv != 0 || !chunk->last) {
        return rv;
    }
    raftioLogRange(w->log, &first, &last);
    return last <= chunk->index ? raftioLogReset(w->log)
                                : raftioLogCompact(w->log, chunk->index);
}

static int writerRunOther(struct raftio_writer *w, struct raftio_req *req)
{
    switch (req->kind) {
    case RAFTIO_REQ_TRUNCATE:
        return raftioLogTruncate(w->log, req->index);
    case RAFTIO_REQ_COMPACT:
        return raftioLogCompact(w->log, req->index);
    case RAFTIO_REQ_RESET:
        return raftioLogReset(w->log);
    case RAFTIO_REQ_META:
        return raftioMetaStore(w->fs, req->index, req->vote);
    case RAFTIO_REQ_SNAPSHOT:
        return writerSnapshotChunk(w, req->chunk);
    default:
        UNREACHABLE();
    }
}

static void writerRunRound(struct raftio_writer *w, struct queue *head)
{
    struct queue *q = head->next;
    while (q != head) {
        struct raftio_req *req = QUEUE_DATA(q, struct raftio_req, link);
        unsigned wait_ms = 0;
        if (req->kind == RAFTIO_REQ_APPEND) {
            q = writerRunAppends(w, head, q);
            continue;
        }
        req->status = writerRunOther(w, req);
        /* A metadata store is replaced whole, so it can be tried again. */
        while (req->kind == RAFTIO_REQ_META && req->status == ERR_NOSPACE &&
               writerWaitForSpace(w, &wait_ms)) {
            req->status = writerRunOther(w, req);
        }
        q = q->next;
    }
}

/* Moves all of `from` to the tail of `to`. */
static void queueMoveAll(struct queue *to, struct queue *from)
{
    while (!queueEmpty(from)) {
        struct queue *q = queueHead(from);
        queueRemove(q);
        queueInsertTail(to, q);
    }
}

static void *writerMain(void *arg)
{
    struct raftio_writer *w = arg;
    struct queue round;
    queueInit(&round);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (queueEmpty(&w->pending) && !w->stopping) {
            pthread_cond_wait(&w->cond, &w->mu);
        }
        if (queueEmpty(&w->pending)) {
            break;
        }
        ASSERT(!w->in_round);
        w->in_round = true;
        queueMoveAll(&round, &w->pending);
        pthread_mutex_unlock(&w->mu);
        writerRunRound(w, &round);
        pthread_mutex_lock(&w->mu);
        w->in_round = false;
        queueMoveAll(&w->done, &round);
        uv_async_send(&w->async);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Loop thread: reports finished requests in order. */
static void writerAsyncCb(uv_async_t *async)
{
    struct raftio_writer *w = async->data;
    struct queue done;
    queueInit(&done);
    pthread_mutex_lock(&w->mu);
    queueMoveAll(&done, &w->done);
    pthread_mutex_unlock(&w->mu);
    while (!queueEmpty(&done)) {
        struct queue *q = queueHead(&done);
        struct raftio_req *req = QUEUE_DATA(q, struct raftio_req, link);
        queueRemove(q);
        if (req->kind == RAFTIO_REQ_APPEND && req->status == 0) {
            w->persisted_index = req->index + req->n - 1;
            pthread_mutex_lock(&w->mu);
            w->stats.appends++;
            pthread_mutex_unlock(&w->mu);
        }
        if (req->cb != NULL) {
            req->cb(req, req->status);
        }
    }
}

int raftioWriterStart(struct raftio_writer *w, uv_loop_t *loop,
                      struct raftio_log *log, struct raftio_fs *fs)
{
    *w = (struct raftio_writer){.log = log, .fs = fs, .loop = loop};
    queueInit(&w->pending);
    queueInit(&w->done);
    int rv = uv_async_init(loop, &w->async, writerAsyncCb);
    if (rv != 0) {
        return ERR_IO;
    }
    w->async.data = w;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writerMain, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mu);
        uv_close((uv_handle_t *)&w->async, NULL);
        return ERR_NOMEM;
    }
    return 0;
}

void raftioWriterRetryNoSpace(struct raftio_writer *w, unsigned first_ms)
{
    PRE(first_ms > 0);
    pthread_mutex_lock(&w->mu);
    w->nospace_retry_ms = first_ms;
    pthread_mutex_unlock(&w->mu);
}

void raftioWriterInlineMax(struct raftio_writer *w, size_t bytes)
{
    w->inline_max = bytes;
}

/* An inline sync slower than this (a stalling disk) sends the appends of
 * the next WRITER_INLINE_BACKOFF_NS to the thread: the loop never blocks
 * behind a slow disk twice in a row. */
#define WRITER_INLINE_SLOW_NS (2ull * 1000 * 1000)
#define WRITER_INLINE_BACKOFF_NS (1000ull * 1000 * 1000)

static uint64_t writerNowNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t writerPayloadBytes(const struct raftio_req *req)
{
    size_t bytes = 0;
    for (size_t i = 0; i < req->n; i++) {
        bytes += req->entries[i].len;
    }
    return bytes;
}

/* Loop thread: runs a small append itself when the writer is idle (see
 * writer.h). False: the request is not taken, queue it. */
static bool writerTryInline(struct raftio_writer *w, struct raftio_req *req)
{
    struct queue one;
    bool idle;
    uint64_t start_ns;
    if (req->kind != RAFTIO_REQ_APPEND || w->inline_max == 0 ||
        writerPayloadBytes(req) > w->inline_max) {
        return false;
    }
    start_ns = writerNowNs();
    if (start_ns < w->inline_off_until_ns) {
        return false;
    }
    pthread_mutex_lock(&w->mu);
    idle = !w->in_round && queueEmpty(&w->pending) && !w->stopping;
    w->in_round = w->in_round || idle;
    pthread_mutex_unlock(&w->mu);
    if (!idle) {
        return false;
    }
    /* Only the loop submits, and it is here: the thread stays idle (it
     * sees nothing pending) and the log is ours until in_round drops. */
    queueInit(&one);
    req->status = 0;
    queueInsertTail(&one, &req->link);
    writerRunGroup(w, &one, one.next, false);
    queueRemove(&req->link);
    if (writerNowNs() - start_ns > WRITER_INLINE_SLOW_NS) {
        w->inline_off_until_ns = writerNowNs() + WRITER_INLINE_BACKOFF_NS;
    }
    pthread_mutex_lock(&w->mu);
    w->in_round = false;
    if (req->status == ERR_NOSPACE) {
        /* the log is as before the append: the thread retries it */
        req->status = 0;
        queueInsertTail(&w->pending, &req->link);
        pthread_mutex_unlock(&w->mu);
        pthread_cond_signal(&w->cond);
        return true;
    }
    w->stats.inline_syncs++;
    queueInsertTail(&w->done, &req->link); /* after any earlier ones */
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
    return true;
}

void raftioWriterSubmit(struct raftio_writer *w, struct raftio_req *req)
{
    PRE(req->kind >= RAFTIO_REQ_APPEND && req->kind <= RAFTIO_REQ_SNAPSHOT);
    PRE(req->kind != RAFTIO_REQ_APPEND || req->n > 0);
    bool wake;
    if (writerTryInline(w, req)) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    PRE(!w->stopping);
    req->status = 0;
    wake = queueEmpty(&w->pending);
    queueInsertTail(&w->pending, &req->link);
    pthread_mutex_unlock(&w->mu);
    /* Signalled after the unlock: a writer woken while we still held the
     * mutex would only block on it again (two switches per commit instead
     * of one). One wake per round: later requests find it awake. */
    if (wake) {
        pthread_cond_signal(&w->cond);
    }
}

static void writerClosed(uv_handle_t *handle)
{
    struct raftio_writer *w = handle->data;
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    if (w->close_cb != NULL) {
        w->close_cb(w);
    }
}

void raftioWriterClose(struct raftio_writer *w,
                       void (*close_cb)(struct raftio_writer *w))
{
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL); /* finishes the round in progress */
    writerAsyncCb(&w->async);
    w->close_cb = close_cb;
    uv_close((uv_handle_t *)&w->async, writerClosed);
}

struct raftio_writer_stats raftioWriterStats(struct raftio_writer *w)
{
    pthread_mutex_lock(&w->mu);
    struct raftio_writer_stats s = w->stats;
    pthread_mutex_unlock(&w->mu);
    return s;
}

static void batchReqDone(struct raftio_req *req, int status)
{
    struct raftio_batch *b = req->data;
    if (b->status == 0) {
        b->status = status;
    }
    b->done++;
    if (b->done == b->n) {
        b->cb(b, b->status);
    }
}

static void batchAdd(struct raftio_batch *b, struct raftio_req req)
{
    ASSERT(b->n < 4);
    req.cb = batchReqDone;
    req.data = b;
    b->reqs[b->n++] = req;
}

bool raftioWriterPersistReady(struct raftio_writer *w,
                              const struct raft_ready *rd,
                              struct raftio_batch *b,
                              void (*cb)(struct raftio_batch *b, int status))
{
    *b = (struct raftio_batch){.cb = cb, .data = b->data};
    if (rd->has_snapshot_chunk) {
        batchAdd(b, (struct raftio_req){.kind = RAFTIO_REQ_SNAPSHOT,
                                        .chunk = &rd->snapshot_chunk});
    }
    if (rd->truncate_from != 0) {
        batchAdd(b, (struct raftio_req){.kind = RAFTIO_REQ_TRUNCATE,
                                        .index = rd->truncate_from});
    }
    if (rd->n_entries > 0) {
        batchAdd(b, (struct raftio_req){.kind = RAFTIO_REQ_APPEND,
                                        .index = rd->entries_index,
                                        .entries = rd->entries,
                                        .n = rd->n_entries});
    }
    if (rd->has_hard_state) {
        batchAdd(b, (struct raftio_req){.kind = RAFTIO_REQ_META,
                                        .index = rd->hard_state.term,
                                        .vote = rd->hard_state.vote});
    }
    for (unsigned i = 0; i < b->n; i++) {
        raftioWriterSubmit(w, &b->reqs[i]);
    }
    return b->n > 0;
}
