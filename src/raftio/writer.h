/*
 * Group commit: the thread that makes the raft log durable off the event
 * loop.
 *
 * The loop thread submits requests (append entries, truncate, compact,
 * reset, store term/vote); one dedicated writer thread takes every request
 * queued so far, writes all consecutive appends, makes them durable with a
 * single fdatasync, and hands the requests back to the loop through a
 * uv_async_t. Requests submitted while a sync is in flight wait in the
 * queue and form the next group, so under load one fdatasync covers many
 * batches. Requests complete in submission order; an append's callback with
 * status 0 means "durable up to req->index + req->n - 1", never earlier.
 *
 * A dedicated thread rather than libuv's pool: the pool also runs the
 * custom connect function, which may block for seconds, and the log needs
 * one serial owner anyway.
 *
 * Disk full: by default an append, metadata store or snapshot chunk that
 * fails with ERR_NOSPACE completes with that error. After
 * raftioWriterRetryNoSpace the writer instead keeps the request and tries it
 * again, waiting first_ms, then twice as long each time up to ten times
 * first_ms, until the space returns (the request then completes normally) or
 * the writer is closed (it then completes with ERR_NOSPACE). A failed append
 * group leaves the log as it was before the group (see log.h), so a retry
 * writes the same entries at the same indexes (a refused snapshot chunk is
 * undone the same way, see snapshot.h). Meanwhile later requests wait behind
 * it, and raftioWriterStats().waiting_for_space says so.
 *
 * Small appends on an idle writer (raftioWriterInlineMax): when the thread
 * has nothing queued and runs no round, an append of at most that many
 * payload bytes is written and synced by the loop thread itself, inside
 * Submit, instead of waking the writer thread and being woken back (two
 * thread hand-offs, each a scheduler wait on a busy machine, on the path
 * of every lone commit: issue 17). Its callback still runs later, from the
 * loop, in order. Large appends, and anything that arrives while the thread
 * works, go to the thread (so the loop blocks for one small sync at most,
 * and a burst still shares one fdatasync). An inline append that finds the
 * disk full is handed to the thread, which retries it as below. An inline
 * append that took longer than WRITER_INLINE_SLOW_NS (a disk that stalls)
 * turns inlining off for WRITER_INLINE_BACKOFF_NS, so a slow disk blocks
 * the loop (heartbeats, clients) for one sync at most, then appends go
 * back to the thread.
 *
 * Threading: raftioWriterStart/Submit/Close and every callback run on the
 * loop thread; the log and fs belong to the writer thread between Start and
 * the close callback. Entries of an append are borrowed until its callback.
 */
#ifndef RAFTIO_WRITER_H
#define RAFTIO_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/queue.h"
#include "raft/raft.h"
#include "raftio/log.h"

enum raftio_req_kind {
    RAFTIO_REQ_APPEND = 1,
    RAFTIO_REQ_TRUNCATE, /* delete entries >= index */
    RAFTIO_REQ_COMPACT,  /* delete segments all <= index */
    RAFTIO_REQ_RESET,    /* delete everything */
    RAFTIO_REQ_META,     /* store term = index, vote */
    RAFTIO_REQ_SNAPSHOT  /* write a received snapshot chunk; after the
                            last one the log up to its index is dropped */
};

struct raftio_req;
typedef void (*raftio_req_cb)(struct raftio_req *req, int status);

struct raftio_req {
    enum raftio_req_kind kind;
    uint64_t index; /* APPEND: first index; TRUNCATE/COMPACT; META: term */
    uint64_t vote;  /* META only */
    const struct raft_entry *entries; /* APPEND only, borrowed */
    size_t n;
    const struct raft_snapshot_write *chunk; /* SNAPSHOT only, borrowed */
    raftio_req_cb cb;                        /* loop thread; may be NULL */
    void *data;                              /* for the caller */
    /* private */
    struct queue link;
    int status;
};

/* Buckets of the fdatasync durations (upper bounds in microseconds, for
 * the node's fsync latency histogram; a last bucket counts the rest). */
#define RAFTIO_SYNC_BUCKETS 14
#define RAFTIO_SYNC_BOUNDS_US                                                 \
    {                                                                         \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, \
            500000, 1000000, 5000000                                          \
    }

struct raftio_writer_stats {
    uint64_t syncs;       /* fdatasyncs of append groups */
    uint64_t sync_us_sum; /* their total duration */
    uint64_t sync_us_buckets[RAFTIO_SYNC_BUCKETS + 1]; /* by duration */
    uint64_t appends;         /* append requests completed */
    uint64_t entries;         /* entries made durable */
    uint64_t nospace_retries; /* retries of requests that hit ERR_NOSPACE */
    uint64_t inline_syncs;    /* append syncs the loop thread ran itself */
    bool waiting_for_space;   /* a request is waiting for a retry now */
};

struct raftio_writer {
    struct raftio_log *log; /* borrowed; writer thread's while running */
    struct raftio_fs *fs;   /* borrowed; for metadata */
    uv_loop_t *loop;
    uv_async_t async;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct queue pending; /* submitted, not taken (mu) */
    struct queue done;    /* finished, not reported (mu) */
    bool stopping;        /* mu */
    bool in_round;        /* mu: the log is in use (the thread's round, or an
                             inline append on the loop) */
    size_t inline_max;    /* loop thread: see raftioWriterInlineMax */
    uint64_t inline_off_until_ns;     /* loop thread: a slow inline sync
                                         turned inlining off until then */
    unsigned nospace_retry_ms;        /* mu; 0: ERR_NOSPACE fails */
    struct raftio_writer_stats stats; /* mu */
    uint64_t persisted_index;         /* loop thread: highest durable index */
    void (*close_cb)(struct raftio_writer *w);
};

int raftioWriterStart(struct raftio_writer *w, uv_loop_t *loop,
                      struct raftio_log *log, struct raftio_fs *fs);

/* From now on, a request that hits ERR_NOSPACE is retried (see above),
 * waiting `first_ms` (> 0) before the first retry. */
void raftioWriterRetryNoSpace(struct raftio_writer *w, unsigned first_ms);

/* Appends of at most `bytes` of payload submitted while the writer is idle
 * are written by the calling (loop) thread (see above); 0 (the default):
 * never. */
void raftioWriterInlineMax(struct raftio_writer *w, size_t bytes);

/* Queues `req`; its callback runs later on the loop, never inline. */
void raftioWriterSubmit(struct raftio_writer *w, struct raftio_req *req);

/* Finishes queued requests, stops the thread, then calls close_cb. */
void raftioWriterClose(struct raftio_writer *w,
                       void (*close_cb)(struct raftio_writer *w));

struct raftio_writer_stats raftioWriterStats(struct raftio_writer *w);

/* The durable part of one raft ready batch (raft.h, step 2), submitted as
 * up to four ordered requests: snapshot chunk, truncation, append, hard
 * state. cb runs once, on the loop, after the last of them, with the first
 * error (0: all durable; the caller may send messages_after_persist and
 * raftAdvance). After an error the node must not advance the batch
 * (raftDiscard and restart from disk). The batch struct and `rd` must stay
 * valid until cb. Returns false, without calling cb, when `rd` has nothing
 * to make durable. */
struct raftio_batch {
    struct raftio_req reqs[4];
    unsigned n;
    unsigned done;
    int status;
    void (*cb)(struct raftio_batch *b, int status);
    void *data; /* for the caller */
};

bool raftioWriterPersistReady(struct raftio_writer *w,
                              const struct raft_ready *rd,
                              struct raftio_batch *b,
                              void (*cb)(struct raftio_batch *b, int status));

#endif /* RAFTIO_WRITER_H */
