/*
 * The db thread (see worker.h): a FIFO of jobs run under the process-wide
 * SQLite lock, with completions handed back to the loop through an async
 * handle; and short jobs the loop runs itself while the thread is idle,
 * whose completions come back through idle/check handles instead; and
 * the reader pool, which runs read-only queries beside the db thread when
 * SQLite has mutexes of its own (docs/server.md, "Parallel readers").
 */
#include "server/worker.h"

#include <sqlite3.h>
#include <time.h>
#include <unistd.h>

#include "lib/assert.h"
#include "lib/err.h"

static pthread_mutex_t sqlite_lock = PTHREAD_MUTEX_INITIALIZER;

/* A reader thread's hold of the SQLite lock while its job runs. */
enum reader_hold {
    READER_FREE,     /* not holding it (or not a reader thread) */
    READER_HOLDS,    /* holding it: preparing, binding */
    READER_STEPPING, /* holding it, its statement stepping */
};
static _Thread_local enum reader_hold reader_hold = READER_FREE;
/* The reader thread's worker and the job it runs. */
static _Thread_local struct worker *reader_worker = NULL;
static _Thread_local struct worker_job *reader_job = NULL;

static uint64_t workerClockMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void workerSqliteLock(void)
{
    pthread_mutex_lock(&sqlite_lock);
}

void workerSqliteUnlock(void)
{
    pthread_mutex_unlock(&sqlite_lock);
}

/* Worker thread: the next job to run, or NULL once stopping. */
static struct worker_job *workerNext(struct worker *w)
{
    struct worker_job *job = NULL;
    pthread_mutex_lock(&w->mutex);
    w->running = false;
    pthread_cond_broadcast(&w->cond);
    while (queueEmpty(&w->pending) && !w->stopping) {
        pthread_cond_wait(&w->cond, &w->mutex);
    }
    if (!queueEmpty(&w->pending)) {
        struct queue *head = queueHead(&w->pending);
        queueRemove(head);
        job = QUEUE_DATA(head, struct worker_job, link);
        w->running = true;
        w->started_ms = workerClockMs();
    }
    pthread_mutex_unlock(&w->mutex);
    return job;
}

/* Any thread, SQLite lock held: runs the work, releases the lock and
 * queues the job for its `done` on the loop. */
static void workerRunLocked(struct worker *w, struct worker_job *job)
{
    job->work(job);
    workerSqliteUnlock();
    pthread_mutex_lock(&w->mutex);
    queueInsertTail(&w->finished, &job->link);
    pthread_mutex_unlock(&w->mutex);
}

static void *workerMain(void *arg)
{
    struct worker *w = arg;
    struct worker_job *job;
    while ((job = workerNext(w)) != NULL) {
        workerSqliteLock();
        workerRunLocked(w, job);
        uv_async_send(&w->async);
    }
    return NULL;
}

void workerReadStepping(void)
{
    if (reader_hold == READER_HOLDS) {
        reader_hold = READER_STEPPING;
    }
}

void workerReadProgress(void)
{
    if (reader_hold == READER_STEPPING) {
        struct worker *w = reader_worker;
        reader_hold = READER_FREE;
        pthread_mutex_lock(&w->mutex); /* seen by workerEndReads from now */
        queueInsertTail(&w->stepping, &reader_job->link);
        pthread_mutex_unlock(&w->mutex);
        workerSqliteUnlock();
    }
}

/* Reader thread: the next read job, or NULL once stopping. */
static struct worker_job *workerNextRead(struct worker *w)
{
    struct worker_job *job = NULL;
    pthread_mutex_lock(&w->mutex);
    while (queueEmpty(&w->reads) && !w->stopping) {
        pthread_cond_wait(&w->cond, &w->mutex);
    }
    if (!queueEmpty(&w->reads)) {
        struct queue *head = queueHead(&w->reads);
        queueRemove(head);
        job = QUEUE_DATA(head, struct worker_job, link);
        w->reads_running++;
    }
    pthread_mutex_unlock(&w->mutex);
    return job;
}

/* The read transaction of a statement begins under the SQLite lock, so
 * never inside another thread's commit (where SQLite has updated the WAL
 * index but the VFS has not yet held the frames: docs/vfs.md); the rest
 * of its work runs without it. */
static void *workerReaderMain(void *arg)
{
    struct worker *w = arg;
    struct worker_job *job;
    while ((job = workerNextRead(w)) != NULL) {
        workerSqliteLock();
        reader_hold = READER_HOLDS;
        reader_worker = w;
        reader_job = job;
        queueInit(&job->link); /* in w->stepping once it releases the lock */
        job->work(job);
        bool held = reader_hold != READER_FREE;
        if (held) {
            reader_hold = READER_FREE;
            workerSqliteUnlock();
        }
        pthread_mutex_lock(&w->mutex);
        if (!held) {
            queueRemove(&job->link);
        }
        ASSERT(w->reads_running > 0);
        w->reads_running--;
        queueInsertTail(&w->finished, &job->link);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->mutex);
        uv_async_send(&w->async);
    }
    return NULL;
}

/* Whether SQLite has mutexes of its own (multi-thread or serialized
 * mode): a connection opened with SQLITE_OPEN_FULLMUTEX gets a mutex only
 * then. In single-thread mode (go-dqlite sets it) two threads must never
 * be in SQLite at once, and there is no pool. */
static bool workerSqliteThreaded(void)
{
    if (sqlite3_threadsafe() == 0) {
        return false;
    }
    sqlite3 *db = NULL;
    workerSqliteLock();
    int rc = sqlite3_open_v2(":memory:", &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_FULLMUTEX,
                             NULL);
    bool threaded = rc == SQLITE_OK && sqlite3_db_mutex(db) != NULL;
    sqlite3_close(db);
    workerSqliteUnlock();
    return threaded;
}

/* The pool's size: the machine's cores, at least 2. */
static unsigned workerReadersWanted(void)
{
    if (!workerSqliteThreaded()) {
        return 0;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 2) {
        return 2;
    }
    return cores > WORKER_MAX_READERS ? WORKER_MAX_READERS : (unsigned)cores;
}

/* Loop thread: call `done` of every finished job, in order. Returns how
 * many ran. */
static unsigned workerDrain(struct worker *w)
{
    struct queue finished;
    unsigned n = 0;
    queueInit(&finished);
    pthread_mutex_lock(&w->mutex);
    while (!queueEmpty(&w->finished)) {
        struct queue *q = queueHead(&w->finished);
        queueRemove(q);
        queueInsertTail(&finished, q);
    }
    pthread_mutex_unlock(&w->mutex);
    while (!queueEmpty(&finished)) {
        struct queue *q = queueHead(&finished);
        queueRemove(q);
        struct worker_job *job = QUEUE_DATA(q, struct worker_job, link);
        job->done(job);
        n++;
    }
    return n;
}

static void workerOnAsync(uv_async_t *async)
{
    workerDrain(async->data);
}

/* A job run here has its `done` called in this loop iteration if it ran
 * during the poll phase (check), or else before the next poll, which the
 * active idle handle keeps from blocking: no eventfd round trip. */
static void workerDrainHere(struct worker *w)
{
    uv_idle_stop(&w->here_idle);
    uv_check_stop(&w->here_check);
    workerDrain(w);
}

static void workerOnHereIdle(uv_idle_t *idle)
{
    workerDrainHere(idle->data);
}

static void workerOnHereCheck(uv_check_t *check)
{
    workerDrainHere(check->data);
}

static void workerCloseHandles(struct worker *w)
{
    uv_close((uv_handle_t *)&w->async, NULL);
    uv_close((uv_handle_t *)&w->here_idle, NULL);
    uv_close((uv_handle_t *)&w->here_check, NULL);
}

int workerStart(struct worker *w, uv_loop_t *loop)
{
    pthread_mutex_init(&w->mutex, NULL);
    pthread_cond_init(&w->cond, NULL);
    queueInit(&w->pending);
    queueInit(&w->finished);
    queueInit(&w->reads);
    queueInit(&w->stepping);
    w->reads_running = 0;
    w->n_readers = 0;
    w->stopping = false;
    w->running = false;
    w->started_ms = 0;
    int rv = uv_async_init(loop, &w->async, workerOnAsync);
    if (rv != 0) {
        goto err_after_sync;
    }
    w->async.data = w;
    uv_idle_init(loop, &w->here_idle);
    w->here_idle.data = w;
    uv_check_init(loop, &w->here_check);
    w->here_check.data = w;
    if (pthread_create(&w->thread, NULL, workerMain, w) != 0) {
        workerCloseHandles(w);
        goto err_after_sync;
    }
    unsigned wanted = workerReadersWanted();
    while (w->n_readers < wanted &&
           pthread_create(&w->readers[w->n_readers], NULL, workerReaderMain,
                          w) == 0) {
        w->n_readers++; /* fewer threads than wanted still serve */
    }
    return 0;
err_after_sync:
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mutex);
    return ERR_IO;
}

void workerSubmit(struct worker *w, struct worker_job *job)
{
    PRE(job->work != NULL && job->done != NULL);
    job->canceled = false;
    pthread_mutex_lock(&w->mutex);
    if (w->stopping) {
        /* Late work after stop (a connection finishing its close): run it
         * here, on the loop thread, the db thread being gone. */
        pthread_mutex_unlock(&w->mutex);
        workerSqliteLock();
        job->work(job);
        workerSqliteUnlock();
        job->done(job);
        return;
    }
    queueInsertTail(&w->pending, &job->link);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

void workerSubmitRead(struct worker *w, struct worker_job *job)
{
    PRE(job->work != NULL && job->done != NULL);
    pthread_mutex_lock(&w->mutex);
    bool pool = w->n_readers > 0 && !w->stopping;
    if (pool) {
        job->canceled = false;
        queueInsertTail(&w->reads, &job->link);
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->mutex);
    if (!pool) {
        workerSubmit(w, job);
    }
}

unsigned workerEndReads(struct worker *w, void (*mark)(sqlite3 *db, void *arg),
                        void *arg)
{
    unsigned n = 0;
    struct queue *q;
    pthread_mutex_lock(&w->mutex);
    QUEUE_FOREACH(q, &w->stepping)
    {
        struct worker_job *job = QUEUE_DATA(q, struct worker_job, link);
        mark(job->db, arg);
        sqlite3_interrupt(job->db); /* thread-safe; the handle stays open */
        n++;
    }
    while (!queueEmpty(&w->stepping)) {
        pthread_cond_wait(&w->cond, &w->mutex);
    }
    pthread_mutex_unlock(&w->mutex);
    return n;
}

bool workerHasReaders(const struct worker *w)
{
    return w->n_readers > 0;
}

bool workerRunHere(struct worker *w, struct worker_job *job)
{
    PRE(job->work != NULL && job->done != NULL);
    /* Only the loop submits, so an idle worker stays idle meanwhile. */
    pthread_mutex_lock(&w->mutex);
    bool idle = !w->stopping && !w->running && queueEmpty(&w->pending);
    pthread_mutex_unlock(&w->mutex);
    if (!idle || pthread_mutex_trylock(&sqlite_lock) != 0) {
        return false;
    }
    job->canceled = false;
    workerRunLocked(w, job);
    uv_idle_start(&w->here_idle, workerOnHereIdle);
    uv_check_start(&w->here_check, workerOnHereCheck);
    return true;
}

uint64_t workerBusyMs(struct worker *w)
{
    uint64_t busy_ms = 0;
    pthread_mutex_lock(&w->mutex);
    if (w->running) {
        uint64_t now_ms = workerClockMs();
        busy_ms = now_ms > w->started_ms ? now_ms - w->started_ms : 0;
    }
    pthread_mutex_unlock(&w->mutex);
    return busy_ms;
}

/* Loop thread: waits until the worker has nothing pending or running. */
static void workerWaitIdle(struct worker *w)
{
    pthread_mutex_lock(&w->mutex);
    while (!queueEmpty(&w->pending) || w->running || !queueEmpty(&w->reads) ||
           w->reads_running > 0) {
        pthread_cond_wait(&w->cond, &w->mutex);
    }
    pthread_mutex_unlock(&w->mutex);
}

void workerStop(struct worker *w)
{
    /* Jobs submitted by `done` callbacks (closing connections submit
     * their last jobs) run too: drain until nothing new appears. */
    do {
        workerWaitIdle(w);
    } while (workerDrain(w) > 0);
    pthread_mutex_lock(&w->mutex);
    w->stopping = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mutex);
    pthread_join(w->thread, NULL);
    for (unsigned i = 0; i < w->n_readers; i++) {
        pthread_join(w->readers[i], NULL);
    }
    w->n_readers = 0;
    workerCloseHandles(w); /* closing stops the idle and check handles */
    /* The mutex stays usable: a late workerSubmit runs its job inline. */
}
