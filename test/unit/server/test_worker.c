/* The db thread: jobs run in order off the loop, completions come back on
 * the loop, and stopping cancels what never ran. */
#include <criterion/criterion.h>
#include <pthread.h>

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
