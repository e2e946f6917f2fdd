/* The db thread: jobs run in order off the loop, completions come back on
 * the loop, and stopping cancels what never ran. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "server/worker.h"

struct counting_job {
    struct worker_job job;
    int seq;
    pthread_t ran_on;
    int *order;
    int *n_done;
};

static void countWork(struct worker_job *job)
{
    struct counting_job *c = (struct counting_job *)job;
    c->ran_on = pthread_self();
}

static void countDone(struct worker_job *job)
{
    struct counting_job *c = (struct counting_job *)job;
    c->order[(*c->n_done)++] = job->canceled ? -1 : c->seq;
}

Test(worker, runs_jobs_in_order_off_the_loop)
{
    uv_loop_t loop;
    struct worker w;
    struct counting_job jobs[50];
    int order[50];
    int n_done = 0;
    uv_loop_init(&loop);
    cr_assert_eq(workerStart(&w, &loop), 0);
    for (int i = 0; i < 50; i++) {
        jobs[i] =
            (struct counting_job){.job = {.work = countWork, .done = countDone},
                                  .seq = i,
                                  .order = order,
                                  .n_done = &n_done};
        workerSubmit(&w, &jobs[i].job);
    }
    while (n_done < 50) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(order[i], i);
        cr_assert(!pthread_equal(jobs[i].ran_on, pthread_self()));
    }
    workerStop(&w);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

static void blockingWork(struct worker_job *job)
{
    (void)job;
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
}

Test(worker, stop_runs_every_pending_job)
{
    uv_loop_t loop;
    struct worker w;
    struct counting_job jobs[10];
    int order[10];
    int n_done = 0;
    uv_loop_init(&loop);
    cr_assert_eq(workerStart(&w, &loop), 0);
    for (int i = 0; i < 10; i++) {
        jobs[i] = (struct counting_job){
            .job = {.work = blockingWork, .done = countDone},
            .seq = i,
            .order = order,
            .n_done = &n_done};
        workerSubmit(&w, &jobs[i].job);
    }
    workerStop(&w);
    cr_assert_eq(n_done, 10, "every job ran and got its done callback");
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(order[i], i);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

static struct counting_job countingJob(worker_fn work, int seq, int *order,
                                       int *n_done)
{
    return (struct counting_job){.job = {.work = work, .done = countDone},
                                 .seq = seq,
                                 .order = order,
                                 .n_done = n_done};
}

/* The loop and worker of the run-here tests. */
static uv_loop_t here_loop;
static struct worker here_w;
static int here_order[4];
static int here_done;

static void hereStart(void)
{
    here_done = 0;
    uv_loop_init(&here_loop);
    cr_assert_eq(workerStart(&here_w, &here_loop), 0);
}

static void hereRunUntil(int n)
{
    while (here_done < n) {
        uv_run(&here_loop, UV_RUN_ONCE);
    }
}

static void hereStop(void)
{
    workerStop(&here_w);
    uv_run(&here_loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&here_loop), 0);
}

/* An idle worker lets the loop run a job itself: the work runs at once on
 * the caller's thread, the done callback from a later loop turn. */
Test(worker, idle_worker_lets_the_loop_run_a_job_here)
{
    struct counting_job job = countingJob(countWork, 7, here_order, &here_done);
    hereStart();
    cr_assert(workerRunHere(&here_w, &job.job));
    cr_assert(pthread_equal(job.ran_on, pthread_self()));
    cr_assert_eq(here_done, 0, "done waits for the loop");
    hereRunUntil(1);
    cr_assert_eq(here_order[0], 7);
    hereStop();
}

static pthread_mutex_t gate_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

/* Runs until the test opens the gate. */
static void gatedWork(struct worker_job *job)
{
    (void)job;
    pthread_mutex_lock(&gate_mutex);
    while (!gate_open) {
        pthread_cond_wait(&gate_cond, &gate_mutex);
    }
    pthread_mutex_unlock(&gate_mutex);
}

static void openGate(void)
{
    pthread_mutex_lock(&gate_mutex);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_mutex);
}

/* A busy worker, or a SQLite lock held elsewhere (another node of the
 * process), keeps the job off the loop: nothing runs. */
Test(worker, busy_worker_or_held_lock_refuses_to_run_here)
{
    struct counting_job slow =
        countingJob(gatedWork, 0, here_order, &here_done);
    struct counting_job here =
        countingJob(countWork, 1, here_order, &here_done);
    hereStart();
    workerSubmit(&here_w, &slow.job);
    cr_assert(!workerRunHere(&here_w, &here.job),
              "a job is pending or running");
    openGate();
    hereRunUntil(1);
    workerSqliteLock();
    cr_assert(!workerRunHere(&here_w, &here.job), "the SQLite lock is taken");
    workerSqliteUnlock();
    cr_assert_eq(here_done, 1, "the refused job never ran");
    cr_assert(workerRunHere(&here_w, &here.job));
    hereRunUntil(2);
    cr_assert_eq(here_order[0], 0);
    cr_assert_eq(here_order[1], 1);
    hereStop();
}

/* The reader pool: a read job that runs for good releases the SQLite lock
 * once its statement steps (others may take it meanwhile), and
 * workerEndReads, called with the lock held, stops it and returns once
 * it is done. */
struct read_job {
    struct worker_job job;
    int rc;
    bool done;
};

static int readProgress(void *arg)
{
    (void)arg;
    workerReadProgress();
    return 0;
}

static void foreverWork(struct worker_job *job)
{
    struct read_job *r = (struct read_job *)job;
    sqlite3_stmt *stmt = NULL;
    cr_assert_eq(sqlite3_prepare_v2(job->db,
                                    "WITH RECURSIVE r(i) AS (SELECT 1 UNION "
                                    "ALL SELECT i + 1 FROM r) SELECT "
                                    "count(*) FROM r",
                                    -1, &stmt, NULL),
                 SQLITE_OK);
    sqlite3_progress_handler(job->db, 1000, readProgress, NULL);
    workerReadStepping();
    r->rc = sqlite3_step(stmt);
    sqlite3_progress_handler(job->db, 0, NULL, NULL);
    sqlite3_finalize(stmt);
}

static void markEnded(sqlite3 *db, void *arg)
{
    *(sqlite3 **)arg = db;
}

static void readDone(struct worker_job *job)
{
    ((struct read_job *)job)->done = true;
}

Test(worker, end_reads_stops_a_read_stepping_without_the_lock)
{
    uv_loop_t loop;
    struct worker w;
    struct read_job r = {.job = {.work = foreverWork, .done = readDone}};
    uv_loop_init(&loop);
    cr_assert_eq(workerStart(&w, &loop), 0);
    cr_assert(workerHasReaders(&w), "SQLite is serialized in this test");
    cr_assert_eq(sqlite3_open(":memory:", &r.job.db), SQLITE_OK);
    workerSubmitRead(&w, &r.job);
    unsigned n = 0;
    sqlite3 *marked = NULL;
    while (n == 0) { /* until the job steps, without the lock */
        workerSqliteLock();
        n = workerEndReads(&w, markEnded, &marked);
        workerSqliteUnlock();
        if (n == 0) {
            usleep(1000);
        }
    }
    cr_assert_eq(n, 1);
    cr_assert_eq(marked, r.job.db);
    while (!r.done) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    cr_assert_eq(r.rc, SQLITE_INTERRUPT);
    workerStop(&w);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    sqlite3_close(r.job.db);
}
