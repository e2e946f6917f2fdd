/*
 * The node's db thread: runs SQLite work off the event loop.
 *
 * The loop submits jobs; the worker runs each job's `work` in submission
 * order on its own thread, holding the process-wide SQLite lock (SQLite may
 * be in single-thread mode, see docs/server.md), then the loop runs the
 * job's `done` callback. `work` must not touch loop-owned state; `done` runs
 * on the loop and may. The job's memory belongs to the submitter and must
 * stay valid until `done` has run.
 */
#ifndef SERVER_WORKER_H
#define SERVER_WORKER_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/queue.h"

/* Most reader threads of a node. */
#define WORKER_MAX_READERS 8

struct worker_job;
typedef void (*worker_fn)(struct worker_job *job);

struct worker_job {
    worker_fn work; /* worker thread, under the SQLite lock */
    worker_fn done; /* loop thread, after work */
    bool canceled;  /* set when the worker stopped before running `work` */
    sqlite3 *db;    /* a read job's connection (workerEndReads) */
    struct queue link;
};

struct worker {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct queue pending;  /* submitted, not yet run; under mutex */
    struct queue finished; /* run, `done` not called yet; under mutex */
    bool stopping;
    bool running;          /* a job's `work` is executing; under mutex */
    uint64_t started_ms;   /* when it started (monotonic); under mutex */
    uv_async_t async;      /* wakes the loop for finished jobs */
    uv_idle_t here_idle;   /* call the `done` of jobs run here (RunHere) */
    uv_check_t here_check; /* ... whichever comes first */
    /* The reader pool (docs/server.md, "Parallel readers"): 0 threads when
     * SQLite has no mutexes of its own (single-thread mode). */
    pthread_t readers[WORKER_MAX_READERS];
    unsigned n_readers;
    struct queue reads;     /* read jobs not yet started; under mutex */
    unsigned reads_running; /* read jobs being run; under mutex */
    struct queue stepping;  /* read jobs stepping without the SQLite lock */
};

/* Start the thread; the async, idle and check handles are registered on
 * `loop`. */
int workerStart(struct worker *w, uv_loop_t *loop);

/* Loop thread: queue a job. */
void workerSubmit(struct worker *w, struct worker_job *job);

/* Loop thread: queue a read job for the reader pool, or for the db thread
 * when there is no pool. A read job's work must run only read-only
 * statements outside explicit transactions, on a connection no other job
 * uses meanwhile, and call workerReadStepping before it steps: it starts
 * under the SQLite lock, which is released once the statement's read
 * transaction is open (workerReadProgress), so it runs beside the db
 * thread and the other readers. */
void workerSubmitRead(struct worker *w, struct worker_job *job);

/* Whether read jobs run on a pool of their own. */
bool workerHasReaders(const struct worker *w);

/* Job work: the statement about to be stepped is the read job's own; the
 * SQLite lock may be released at the next progress callback. */
void workerReadStepping(void);

/* From a progress handler (any thread): a reader that holds the SQLite
 * lock with its statement stepping releases it; its read transaction has
 * begun (the first check comes a thousand operations in, long after the
 * program's OP_Transaction). A no-op on every other thread. */
void workerReadProgress(void);

/* Db thread, SQLite lock held (no reader can start meanwhile): interrupts
 * every read job stepping without the lock and waits until they are done,
 * so that the caller may reset statements of any connection (a database
 * replaced under its readers: replicaEndReaders). Their queries fail with
 * SQLITE_INTERRUPT. `mark` is called for each one's connection first,
 * under the worker's mutex (so the loop sees what it did once the job's
 * `done` runs). Returns how many there were. */
unsigned workerEndReads(struct worker *w, void (*mark)(sqlite3 *db, void *arg),
                        void *arg);

/* Loop thread: runs `job`'s work here and now, when the db thread is idle
 * (nothing pending or running) and the SQLite lock is free (another node
 * of the process may hold it); `done` is called from a later loop turn, as
 * for a submitted job. Returns false, having run nothing, otherwise. Work
 * run here holds the loop up: only short work whose caller bounds it. */
bool workerRunHere(struct worker *w, struct worker_job *job);

/* Any thread: how long the job the db thread runs now has been running,
 * in milliseconds (0 when idle): a job that runs far past the statement
 * timeout means the node's SQL cannot make progress (docs/server.md,
 * "Runaway statements"). */
uint64_t workerBusyMs(struct worker *w);

/* Loop thread: run every job still pending (and the jobs their `done`
 * callbacks submit) to completion, then join the thread and close the
 * handles. A job submitted after that runs inline on the caller's
 * thread (work under the SQLite lock, then done). The loop must run once more
 * for the close to complete.
 * (`canceled` stays for callers that tear down without a worker.) */
void workerStop(struct worker *w);

/* The process-wide lock around SQLite calls, for code that must call SQLite
 * outside a worker job (start-up, tests). */
void workerSqliteLock(void);
void workerSqliteUnlock(void);

#endif /* SERVER_WORKER_H */
